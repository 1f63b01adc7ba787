//! A reproducible training run.
