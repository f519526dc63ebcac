//! The experiments of Karakida & Osawa (NeurIPS 2020) as a library: the figure runner of
//! training curves (Fig. 1), the converged function-space predictions (Fig. 2) and the
//! isotropy of Θ̄ at initialisation (Fig. 3); and the charts of a mini-batch comparison
//! ([`sweep`]).
//!
//! Every experiment returns a typed result that serialises to the JSON the `ngd` command
//! writes and reads back from it (`--replot`, `--plot-from`); the charts are built from those
//! types. The library does not print: progress goes to callbacks.

#![warn(missing_docs)]

mod error;
pub mod figure;
pub mod isotropy;
mod network;
pub mod predict;
pub mod sweep;

pub use error::{Error, Result};
pub use network::{Network, forster_inputs};

/// Mean and population standard deviation (ddof = 0, as numpy's default); `None` when empty.
fn mean_std(v: &[f64]) -> Option<(f64, f64)> {
    if v.is_empty() {
        return None;
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    Some((mean, var.sqrt()))
}

/// A value read back from JSON, where a non-finite f64 was written as `null`: NaN.
fn f64_or_nan<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    use serde::Deserialize;
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}
