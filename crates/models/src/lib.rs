//! Variational autoencoder models in libtorch (tch).
