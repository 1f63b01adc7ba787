//! Hyperparameter ablation sweeps.
