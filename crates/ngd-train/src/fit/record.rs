//! The JSON record of a mini-batch run: its evaluations, data, time per phase and outcome.

use super::FitConfig;
use ngd_optim::PhaseTimes;
use serde::{Deserialize, Serialize};

/// One evaluation of the model during a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Epochs completed (fractional between epoch ends).
    pub epoch: f64,
    /// Steps taken.
    pub step: u64,
    /// Training wall time so far, evaluations excluded, seconds.
    pub seconds: f64,
    /// Mean batch loss over the steps since the previous evaluation (`None` at step 0).
    pub train_loss: Option<f64>,
    /// Validation loss (`None` without a validation split).
    pub val_loss: Option<f64>,
    /// Validation accuracy.
    pub val_accuracy: Option<f64>,
    /// Test loss.
    pub test_loss: f64,
    /// Test accuracy.
    pub test_accuracy: f64,
    /// NGD's damping ρ at this point.
    pub damping: Option<f64>,
}

/// The splits a run used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSummary {
    /// Training images.
    pub train: usize,
    /// Validation images.
    pub validation: usize,
    /// Test images.
    pub test: usize,
    /// Mean of the training pixels (0..255).
    pub mean: f64,
    /// Standard deviation of the training pixels.
    pub std: f64,
    /// Where the data came from.
    pub source: String,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Status {
    /// Every epoch ran.
    Complete,
    /// A step failed (NaN/inf loss, singular curvature, …); the record holds what came before.
    Failed {
        /// The step that failed (1-based).
        step: u64,
        /// Why.
        error: String,
    },
}

/// The JSON record of a mini-batch run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitRecord {
    /// The configuration.
    #[serde(deserialize_with = "FitConfig::deserialize_any")]
    pub config: FitConfig,
    /// The data.
    pub data: DataSummary,
    /// Number of parameters P.
    pub parameters: usize,
    /// Full batches per epoch, ⌊N/B⌋.
    pub steps_per_epoch: usize,
    /// The evaluations, in order.
    pub evaluations: Vec<Evaluation>,
    /// Training time summed by phase over all steps, seconds.
    pub phase_seconds: PhaseTimes,
    /// Steps taken.
    pub steps: u64,
    /// Training wall time, evaluations excluded, seconds.
    pub train_seconds: f64,
    /// Wall time of the evaluations, seconds.
    pub eval_seconds: f64,
    /// Peak resident memory of the process (Linux), bytes.
    pub peak_memory_bytes: Option<u64>,
    /// Threads available to the process.
    pub threads: usize,
    /// How the run ended.
    pub status: Status,
}
