//! The typed record of a prediction run (the `ngd predict --out` JSON) and Fig. 2's chart
//! drawn from such records.

use super::{KernelKind, PredictConfig};
use crate::f64_or_nan;
use ngd_data::Dataset;
use ngd_kernels::Predictor;
use ngd_model::MlpShape;
use ngd_optim::Method;
use ngd_plot::{ErrorBarChart, ErrorBarPanel, ErrorBarPoint};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A prediction run: its configuration, the results per predictor and the timing.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PredictResults {
    /// What was computed, on which data.
    pub config: PredictRecordConfig,
    /// Results per predictor name.
    pub methods: BTreeMap<String, MethodResults>,
    /// Where the time went.
    pub timing: Timing,
    /// The predictor names in the order they were given (empty when read back).
    #[serde(skip)]
    pub order: Vec<String>,
}

impl PredictResults {
    /// The predictors in the order they were given (read back: by name).
    pub fn in_order(&self) -> Vec<(&str, &MethodResults)> {
        if self.order.is_empty() {
            return self.methods.iter().map(|(k, v)| (k.as_str(), v)).collect();
        }
        self.order
            .iter()
            .filter_map(|k| self.methods.get(k).map(|v| (k.as_str(), v)))
            .collect()
    }
}

/// The configuration part of the record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PredictRecordConfig {
    /// Dataset name.
    pub dataset: String,
    /// Selected class indices.
    pub classes: Vec<usize>,
    /// Their names.
    pub class_names: Vec<String>,
    /// Number of outputs C.
    pub outputs: usize,
    /// N.
    pub n_train: usize,
    /// N′.
    pub n_test: usize,
    /// L, M, σ_w², σ_b² and φ (recorded flat).
    #[serde(flatten)]
    pub shape: MlpShape,
    /// Analytic or empirical kernels.
    pub kernel: KernelKind,
    /// What the kernels are.
    #[serde(default)]
    pub kernel_note: String,
    /// The seeds of f_0.
    pub seeds: Vec<u64>,
    /// Backend name.
    pub backend: String,
    /// Where the data came from.
    pub data_source: String,
    /// The predictor names as given.
    pub methods: Vec<String>,
    /// How K-FAC's first-layer factor was treated.
    #[serde(default)]
    pub kfac_note: String,
    /// Whether the inputs were Forster-transformed (absent in records before the option).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forster: Option<bool>,
    /// The loss reported.
    #[serde(default)]
    pub loss: String,
    /// The standard deviation reported.
    #[serde(default)]
    pub std: String,
    /// What the kernel-regression column is.
    #[serde(default)]
    pub kernel_regression_note: String,
}

impl PredictRecordConfig {
    /// The record of `cfg` run on `data` with `seeds`.
    pub(super) fn new(
        cfg: &PredictConfig,
        data: &Dataset,
        seeds: &[u64],
        kfac_low_rank: bool,
    ) -> Self {
        let kernel_note = match cfg.kernel {
            KernelKind::Analytic => {
                "analytic (infinite-width ReLU, MATH.md §5; one kernel for all seeds)"
            }
            KernelKind::Empirical => {
                "empirical (each seed's network at init; C > 1: class-averaged diagonal block of δ·δ)"
            }
        };
        let kfac_note = if cfg.forster {
            "Forster-transformed inputs (on their principal span of r dimensions): layer-1 input \
             factor pseudo-inverted through the inputs (FunctionSpace::kfac_low_rank_inputs)"
        } else if kfac_low_rank {
            "N > M_0: layer-1 input factor pseudo-inverted through the inputs \
             (FunctionSpace::kfac_low_rank_inputs, paper §4.3 'M_0 < N' form, no Forster transform)"
        } else {
            "eq. (21) with every factor inverted (M_0 ≥ N)"
        };
        let net = &cfg.network;
        Self {
            dataset: net.dataset.to_string(),
            classes: data.classes.clone(),
            class_names: data.class_names.clone(),
            outputs: data.outputs,
            n_train: data.train.n,
            n_test: data.test.n,
            shape: net.shape,
            kernel: cfg.kernel,
            kernel_note: kernel_note.into(),
            seeds: seeds.to_vec(),
            backend: cfg.backend.clone(),
            data_source: data.source.clone(),
            methods: cfg.methods.clone(),
            kfac_note: kfac_note.into(),
            forster: cfg.forster.then_some(true),
            loss: "1/2 · mean over test samples of Σ_c (f − y)²".into(),
            std: "population standard deviation over seeds (ddof = 0)".into(),
            kernel_regression_note: "f_∞ with f_0 = 0 (α⁻¹Θ̄(x',x)y); with empirical kernels \
                 the mean over seeds of each seed's kernel-regression output"
                .into(),
        }
    }
}

/// The results of one predictor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MethodResults {
    /// The predictor's own name (e.g. `kfac-inputs` for the low-rank form).
    pub predictor: String,
    /// α of its Θ̄(x, x) = αI, where isotropic.
    pub alpha: Option<f64>,
    /// The kernel-regression mean (f_0 = 0).
    pub kernel_regression: KernelRegression,
    /// f_∞ of every seed.
    pub converged: Converged,
    /// Seconds spent in this predictor.
    pub seconds: f64,
}

/// Test accuracy and loss of the kernel-regression mean.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KernelRegression {
    /// Test accuracy.
    pub test_accuracy: f64,
    /// Test loss.
    #[serde(deserialize_with = "f64_or_nan")]
    pub test_loss: f64,
}

/// Test accuracy and loss of f_∞ over seeds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Converged {
    /// Mean test accuracy.
    pub test_accuracy_mean: f64,
    /// Its standard deviation (ddof = 0).
    pub test_accuracy_std: f64,
    /// Mean test loss.
    #[serde(deserialize_with = "f64_or_nan")]
    pub test_loss_mean: f64,
    /// Its standard deviation.
    #[serde(deserialize_with = "f64_or_nan")]
    pub test_loss_std: f64,
    /// Every seed.
    pub per_seed: Vec<SeedMetrics>,
}

/// f_∞ of one seed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeedMetrics {
    /// The seed.
    pub seed: u64,
    /// Test accuracy.
    pub test_accuracy: f64,
    /// Test loss.
    #[serde(deserialize_with = "f64_or_nan")]
    pub test_loss: f64,
}

/// Wall times of a prediction run, seconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Timing {
    /// Forward passes of f_0 (analytic kernels).
    pub forward_seconds: f64,
    /// Kernels (empirical: with their forward/backward passes).
    pub kernel_seconds: f64,
    /// Whether `kernel_seconds` includes the passes (empirical kernels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_seconds_includes_factors: Option<bool>,
    /// The whole run.
    pub total_seconds: f64,
}

/// Fig. 2's panel title of one record.
fn panel_title(config: &PredictRecordConfig) -> String {
    let dataset = match config.dataset.as_str() {
        "mnist" => "MNIST",
        "cifar10" => "CIFAR-10",
        other => other,
    };
    let names = &config.class_names;
    let classes = if names.len() == 2 {
        format!("{} vs {}", names[0], names[1])
    } else {
        format!("{} classes", names.len())
    };
    format!("{dataset} {classes}")
}

/// One panel per record: test accuracy per method, f_∞ mean ± std over seeds and the
/// kernel-regression mean as the open circle.
pub fn accuracy_chart(records: &[PredictResults]) -> ErrorBarChart {
    let mut panels = Vec::new();
    for doc in records {
        let mut panel = ErrorBarPanel::new(panel_title(&doc.config), "test accuracy");
        for (key, label) in [
            (Method::Exact.name(), "exact"),
            (Method::BlockDiagonal.name(), "block diag."),
            (Method::BlockTriDiagonal.name(), "block tri-diag."),
            (Predictor::Kfac.name(), "K-FAC"),
            (Predictor::KfacPrinted.name(), "K-FAC, eq. 21"),
        ] {
            let Some(m) = doc.methods.get(key) else {
                continue;
            };
            let c = &m.converged;
            let p = ErrorBarPoint::new(label, c.test_accuracy_mean, c.test_accuracy_std);
            panel = panel.with_point(p.with_extra(m.kernel_regression.test_accuracy));
        }
        // Head-room above the points for the legend.
        let (lo, hi) = panel
            .points
            .iter()
            .flat_map(|p| {
                [p.mean - p.std.max(0.0), p.mean + p.std.max(0.0)]
                    .into_iter()
                    .chain(p.extra)
            })
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
                (l.min(v), h.max(v))
            });
        if lo.is_finite() && hi.is_finite() {
            let span = (hi - lo).max(0.005);
            panel.y_range = Some((lo - 0.2 * span, hi + 0.9 * span));
        }
        panels.push(panel);
    }
    let mut chart = ErrorBarChart::new(panels);
    chart.mean_label = "f_∞, mean ± std over seeds".into();
    chart.extra_label = "kernel regression".into();
    chart.width = 420 * records.len().max(1) as u32;
    chart
}
