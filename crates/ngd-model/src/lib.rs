//! The network of Karakida & Osawa (eq. 1–2) as a burn [`Module`](burn::module::Module), and the per-sample
//! Jacobian in factored form (MATH.md §2) computed with burn's autodiff.
//!
//! Nothing here names a backend: every function takes the [`Device`] chosen by the caller.

#![warn(missing_docs)]

mod classifier;
mod cnn;
mod factored;
mod mlp;
mod shape;

pub use classifier::{Arch, Classifier, ClassifierConfig};
pub use cnn::{CNN_CHANNELS, CNN_HIDDEN, Cnn, CnnConfig};
pub use shape::MlpShape;

pub use mlp::{
    Activation, DEFAULT_SIGMA_B2, DEFAULT_SIGMA_W2, Mlp, MlpConfig, ModelError, Parameterization,
};

/// Tensor and device types re-exported so that callers need not depend on burn's paths.
pub use burn::tensor::{Device, Tensor, TensorData};
