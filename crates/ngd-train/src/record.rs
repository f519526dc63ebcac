//! Run configuration and results, serialised as one JSON document per run.

use crate::{Result, TrainError};
use ngd_data::Dataset;
use ngd_model::MlpShape;
use ngd_optim::Method;
use serde::{Deserialize, Deserializer, Serialize};

/// Every option of a training run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Dataset name (`mnist`, `cifar10`).
    pub dataset: String,
    /// Selected class indices.
    pub classes: Vec<usize>,
    /// Number of training samples N.
    pub n_train: usize,
    /// Number of test samples N′.
    pub n_test: usize,
    /// Depth L, width M, σ_w², σ_b² and φ (recorded flat).
    #[serde(flatten)]
    pub shape: MlpShape,
    /// Optimisation method.
    pub method: Method,
    /// Learning rate η; `None` uses `lr_scale` × the method's optimum.
    pub lr: Option<f64>,
    /// Multiplier of the method's optimal learning rate when `lr` is `None` (c of eq. 17).
    pub lr_scale: f64,
    /// Damping ρ.
    pub damping: f64,
    /// Σ of the `layer-wise` method (eq. 15), rows of the L × L matrix.
    pub sigma: Option<Vec<Vec<f64>>>,
    /// Training loss (MSE, or cross-entropy with its Fisher JᵀΛJ/N); MSE in records that
    /// predate the option.
    #[serde(default)]
    pub loss: ngd_optim::Loss,
    /// Arithmetic of the layer-wise dual solve (float64 unless set; absent in older records).
    #[serde(default, skip_serializing_if = "ngd_optim::Precision::is_default")]
    pub precision: ngd_optim::Precision,
    /// How ρ enters the layer-wise dual matrix: Nρ (default) or the authors' 2ρ.
    #[serde(
        default,
        skip_serializing_if = "ngd_optim::DampingConvention::is_default"
    )]
    pub damping_convention: ngd_optim::DampingConvention,
    /// Record per step ‖ηΔθ_l‖/‖W_l‖, the dual solve's null component, the loss of the
    /// step's first-order prediction and, for ReLU, the gates switched and the loss with the
    /// gates of initialisation.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub diagnostics: bool,
    /// The inputs were Forster-transformed (`ngd train --forster`; the figures record it in
    /// their own config).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forster: bool,
    /// Number of steps.
    pub steps: usize,
    /// Seed of the initial weights.
    pub seed: u64,
    /// Backend and device, as chosen on the command line.
    pub backend: String,
}

impl TrainConfig {
    /// The optimizer of this run's steps with `method`: its loss, ρ, Σ and the layer-wise
    /// dual solve's options (MATH.md §2–3); the learning rate is set once resolved.
    pub fn ngd_config(&self, method: Method) -> ngd_optim::NgdConfig {
        ngd_optim::NgdConfig::new(method)
            .with_loss(self.loss)
            .with_damping(ngd_optim::DampingConfig::new().with_value(self.damping))
            .with_sigma(self.sigma.clone())
            .with_dual(ngd_optim::DualSolve {
                precision: self.precision,
                convention: self.damping_convention,
            })
    }

    /// Rejects a non-positive or non-finite learning rate and a Σ whose size is not the depth.
    pub fn validate(&self) -> Result<()> {
        if let Some(lr) = self.lr
            && !(lr.is_finite() && lr > 0.0)
        {
            return Err(TrainError::Invalid(format!(
                "learning rate must be finite and > 0, got {lr}"
            )));
        }
        if let Some(rows) = &self.sigma
            && rows.len() != self.shape.depth
        {
            return Err(TrainError::Invalid(format!(
                "Σ of layer-wise NGD is {0}×{0} but the network has depth L = {1}: --sigma \
                 needs an L × L matrix",
                rows.len(),
                self.shape.depth
            )));
        }
        if !(self.lr_scale.is_finite() && self.lr_scale > 0.0) {
            return Err(TrainError::Invalid(format!(
                "learning-rate scale must be finite and > 0, got {}",
                self.lr_scale
            )));
        }
        Ok(())
    }
}

/// Measurements after one step (step 0 = initialisation).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepRecord {
    /// Step index t.
    pub step: usize,
    /// L(θ_t) on the train set.
    #[serde(deserialize_with = "f64_or_nan")]
    pub train_loss: f64,
    /// Train accuracy.
    #[serde(deserialize_with = "f64_or_nan")]
    pub train_accuracy: f64,
    /// Loss on the test set.
    #[serde(deserialize_with = "f64_or_nan")]
    pub test_loss: f64,
    /// Test accuracy.
    #[serde(deserialize_with = "f64_or_nan")]
    pub test_accuracy: f64,
    /// The theory prediction of the train loss at step t (MSE, eq. 10); null for cross-entropy.
    pub theory_train_loss: Option<f64>,
    /// The theory prediction (eq. 10, empirical kernels at initialisation) of the test loss at
    /// step t; null where the method has no function-space predictor.
    pub theory_test_loss: Option<f64>,
    /// The same prediction's test accuracy; null where the method has no predictor.
    pub theory_test_accuracy: Option<f64>,
    /// Wall time of the step (factors, direction, update), seconds.
    pub seconds: f64,
    /// ‖ηΔθ_l‖_F/‖W_l‖_F per layer of the step that led here (W_l before the step); with
    /// `diagnostics` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relative_step: Option<Vec<f64>>,
    /// [`ngd_optim::DualDiagnostics::null_component`] of that step's dual solve (layer-wise
    /// methods, with `diagnostics` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub null_component: Option<f64>,
    /// The loss of the step's first-order prediction f_{t−1} − ηJΔθ (for MSE
    /// ½‖(I − ηΘ̄)e‖²/N with the Θ̄ the step applied); with `diagnostics` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linearised_loss: Option<f64>,
    /// The loss at θ_t with the ReLU gates frozen at initialisation (h_l = m_l(θ_0) ⊙ u_l):
    /// what the step gives without any unit switching on or off; ReLU with `diagnostics` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frozen_gate_loss: Option<f64>,
    /// Per hidden layer, the fraction of (sample, unit) gates the step switched
    /// on and off; ReLU with `diagnostics` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate_flips: Option<Vec<GateFlips>>,
}

/// ReLU gates m = 1(u > 0) of one hidden layer that a step switched, as fractions of the
/// N × M_l (sample, unit) pairs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GateFlips {
    /// Inactive → active.
    pub on: f64,
    /// Active → inactive.
    pub off: f64,
}

/// Why a run stopped before its last step (the steps recorded are those before).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunFailure {
    /// The step that failed.
    pub step: usize,
    /// The error, as printed.
    pub error: String,
}

/// Every option of a run together with where its data came from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunConfig {
    /// The options, including seed and backend.
    #[serde(flatten)]
    pub options: TrainConfig,
    /// Where the data came from (loader and cache path).
    pub data_source: String,
    /// Class names of the selected classes.
    pub class_names: Vec<String>,
}

/// A whole run: configuration, constants and per-step records.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    /// The configuration, including seed, backend and data source.
    pub config: RunConfig,
    /// α of the isotropic condition (null for GD).
    pub alpha: Option<f64>,
    /// The learning rate used.
    pub lr: f64,
    /// Steps 0..=T, or up to the step before `failure`.
    pub steps: Vec<StepRecord>,
    /// Set when the run stopped early (diverged, or a direction could not be computed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<RunFailure>,
}

impl RunRecord {
    /// An empty record for a run.
    pub fn new(config: TrainConfig, data: &Dataset, alpha: Option<f64>, lr: f64) -> Self {
        Self {
            config: RunConfig {
                options: config,
                data_source: data.source.clone(),
                class_names: data.class_names.clone(),
            },
            alpha,
            lr,
            steps: Vec::new(),
            failure: None,
        }
    }
}

/// A measured value read back from JSON, where a non-finite f64 was written as `null`: NaN.
fn f64_or_nan<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records written before the dual-solve options and diagnostics read back with the
    /// defaults (f64, Nρ, no diagnostics), and write back without the new keys.
    #[test]
    fn old_records_read_and_default_options_are_not_written() {
        let cfg = r#"{"dataset":"mnist","classes":[0,7],"n_train":100,"n_test":50,"depth":5,
            "width":64,"sigma_w2":2.0,"sigma_b2":0.0,"activation":"relu",
            "method":"block-tri-diagonal","lr":0.25,"lr_scale":1.0,"damping":0.0,"sigma":null,
            "steps":1,"seed":1,"backend":"flex"}"#;
        let c: TrainConfig = serde_json::from_str(cfg).unwrap();
        assert_eq!(c.precision, ngd_optim::Precision::F64);
        assert_eq!(
            c.damping_convention,
            ngd_optim::DampingConvention::PerSample
        );
        assert!(!c.diagnostics);
        let back = serde_json::to_value(&c).unwrap();
        for key in ["precision", "damping_convention", "diagnostics"] {
            assert!(back.get(key).is_none(), "{key}");
        }
        let step = r#"{"step":1,"train_loss":0.1,"train_accuracy":1.0,"test_loss":0.2,
            "test_accuracy":1.0,"theory_train_loss":null,"theory_test_loss":null,
            "theory_test_accuracy":null,"seconds":0.5}"#;
        let s: StepRecord = serde_json::from_str(step).unwrap();
        assert!(s.relative_step.is_none() && s.null_component.is_none());
        let back = serde_json::to_value(&s).unwrap();
        assert!(back.get("relative_step").is_none() && back.get("null_component").is_none());
        let mut f32_cfg = c.clone();
        f32_cfg.precision = ngd_optim::Precision::F32;
        f32_cfg.damping_convention = ngd_optim::DampingConvention::Authors;
        let v = serde_json::to_value(&f32_cfg).unwrap();
        assert_eq!(v["precision"], "f32");
        assert_eq!(v["damping_convention"], "authors");
    }
}
