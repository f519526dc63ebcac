//! The configuration of a mini-batch run ([`FitConfig`]): what the JSON record's `config` holds
//! and what `--resume` checks a checkpoint against.

use crate::TrainError;
use ngd_data::{Augment, DatasetName};
use ngd_model::{Activation, Arch, Parameterization};
use ngd_optim::{ClippingConfig, DampingConfig, Fisher, KfacConfig, Loss, Method};

pub use super::optimizer::OptimizerKind;
use serde::{Deserialize, Serialize};

/// The learning-rate schedule η(t) over the run's T steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// η(t) = η (after the warm-up).
    #[default]
    Constant,
    /// η(t) = η·½(1 + cos(π(t − W)/(T − W))) after a linear warm-up of W steps.
    Cosine,
}

impl std::str::FromStr for Schedule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "constant" => Ok(Self::Constant),
            "cosine" => Ok(Self::Cosine),
            _ => Err(format!(
                "unknown schedule '{s}' (expected constant or cosine)"
            )),
        }
    }
}

impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Constant => "constant",
            Self::Cosine => "cosine",
        })
    }
}

impl Schedule {
    /// η(t) for step t (0-based) of `total`, with a linear warm-up η(t + 1)/W over `warmup`.
    pub fn lr(self, base: f64, step: u64, total: u64, warmup: u64) -> f64 {
        if step < warmup {
            return base * (step + 1) as f64 / warmup as f64;
        }
        match self {
            Self::Constant => base,
            Self::Cosine => {
                let span = total.saturating_sub(warmup).max(1) as f64;
                let progress = ((step - warmup) as f64 / span).min(1.0);
                base * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
            }
        }
    }
}

/// Everything a mini-batch run depends on (with the seed and backend, its numbers), in
/// sections. Old flat records and configs load through [`FitConfig::from_json`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FitConfig {
    /// The data and its splits.
    pub data: DataSpec,
    /// The network.
    pub model: ModelSpec,
    /// Training loss.
    pub loss: Loss,
    /// The optimizer and its options.
    pub optimizer: OptimizerSpec,
    /// Batches, epochs, evaluations and the learning-rate schedule.
    pub schedule: ScheduleSpec,
    /// Seed of the initial weights, the data order and the sampled labels.
    pub seed: u64,
    /// The backend's name (recorded, not used by the library).
    pub backend: String,
}

/// The data of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// Dataset.
    pub dataset: DatasetName,
    /// Selected classes (one output each).
    pub classes: Vec<usize>,
    /// Training images before the hold-out (`None`: all of the selected classes).
    pub n_train: Option<usize>,
    /// Test images (`None`: all).
    pub n_test: Option<usize>,
    /// The last this many training images are held out for validation.
    pub validation: usize,
    /// Augmentation of the training batches (flip-crop; none by default).
    #[serde(default, skip_serializing_if = "Augment::is_none")]
    pub augment: Augment,
}

/// The network: the MLP (depth, width, activation, parameterisation, σ's) or the fixed CNN
/// (which uses none of them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// MLP or CNN.
    pub arch: Arch,
    /// Depth L.
    pub depth: usize,
    /// Hidden width M.
    pub width: usize,
    /// Activation.
    pub activation: Activation,
    /// NTK or standard parameterisation.
    pub parameterization: Parameterization,
    /// σ_w² (NTK only).
    pub sigma_w2: f64,
    /// σ_b² (NTK only).
    pub sigma_b2: f64,
}

/// The optimizer: its name, the step's learning rate and momentum, the first-order options and
/// the NGD option groups of [`ngd_optim::NgdConfig`] (one definition each).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerSpec {
    /// Which optimizer.
    pub name: OptimizerKind,
    /// Base learning rate η.
    pub lr: f64,
    /// Momentum μ (NGD, SGD; Adam's β₁ stays 0.9).
    pub momentum: f64,
    /// Nesterov momentum (SGD).
    pub nesterov: bool,
    /// Decoupled weight decay (AdamW, Muon).
    pub weight_decay: f64,
    /// Damping ρ and its adaptation (NGD).
    pub damping: DampingConfig,
    /// Bounds on the step (NGD).
    pub clipping: ClippingConfig,
    /// Per-layer blocks with state (K-FAC, diagonal; `None`: the dual form of each batch).
    #[serde(default)]
    pub kfac: Option<KfacConfig>,
}

/// How the run steps through the data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    /// Mini-batch size B.
    pub batch_size: usize,
    /// Epochs.
    pub epochs: usize,
    /// Evaluations per epoch (≥ 1; the last at the epoch's end).
    pub evals_per_epoch: usize,
    /// The learning rate's shape over the run.
    pub lr: Schedule,
    /// Linear warm-up steps.
    pub warmup_steps: u64,
}

impl FitConfig {
    /// A config with this project's defaults for `optimizer` on full MNIST (784-1024-1024-10,
    /// standard parameterisation, cross-entropy, B = 256, 5 epochs, 5,000 validation images).
    pub fn new(optimizer: OptimizerKind) -> Self {
        Self {
            data: DataSpec {
                dataset: DatasetName::Mnist,
                classes: (0..10).collect(),
                n_train: None,
                n_test: None,
                validation: 5000,
                augment: Augment::None,
            },
            model: ModelSpec {
                arch: Arch::Mlp,
                depth: 3,
                width: 1024,
                activation: Activation::Relu,
                parameterization: Parameterization::Standard,
                sigma_w2: ngd_model::DEFAULT_SIGMA_W2,
                sigma_b2: ngd_model::DEFAULT_SIGMA_B2,
            },
            loss: Loss::CrossEntropy,
            optimizer: OptimizerSpec {
                name: optimizer,
                lr: default_lr(optimizer),
                momentum: 0.0,
                nesterov: false,
                weight_decay: 1e-4,
                damping: DampingConfig::new(),
                clipping: ClippingConfig::new(),
                kfac: None,
            },
            schedule: ScheduleSpec {
                batch_size: 256,
                epochs: 5,
                evals_per_epoch: 1,
                lr: Schedule::Constant,
                warmup_steps: 0,
            },
            seed: 0,
            backend: "flex".into(),
        }
    }

    /// Checks the values that need no data; the data-dependent checks are in [`super::fit`].
    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |m: String| Err(TrainError::Invalid(m));
        let (o, s) = (&self.optimizer, &self.schedule);
        if s.batch_size == 0 {
            return bad("the batch size must be at least 1".into());
        }
        if s.epochs == 0 || s.evals_per_epoch == 0 {
            return bad("epochs and evaluations per epoch must be at least 1".into());
        }
        if !(o.lr.is_finite() && o.lr > 0.0) {
            return bad(format!(
                "the learning rate must be finite and > 0, got {}",
                o.lr
            ));
        }
        if !(0.0..1.0).contains(&o.momentum) {
            return bad(format!("momentum must be in [0, 1), got {}", o.momentum));
        }
        let method = o.name.method();
        if method.is_none() && self.ngd_options_set() {
            return bad(format!(
                "damping, adaptive damping, step clipping and the K-FAC options are NGD \
                 options; {} does not use them",
                o.name
            ));
        }
        // The NGD options' own checks (intervals, decay, clipping, …), before any data loads.
        if let Some(method) = method {
            self.ngd_config(method).init()?;
        }
        if self.model.arch == Arch::Cnn {
            self.validate_cnn()?;
        }
        Ok(())
    }

    /// The CNN has a fixed shape and convolutions: the MLP's options stay at their defaults,
    /// and an NGD method must precondition convolutions (per-layer blocks with a sampled or
    /// empirical Fisher).
    fn validate_cnn(&self) -> Result<(), TrainError> {
        let d = Self::new(self.optimizer.name).model;
        if self.model
            != (ModelSpec {
                arch: Arch::Cnn,
                ..d
            })
        {
            return Err(TrainError::Invalid(
                "the CNN has a fixed shape: depth, width, activation, parameterisation and σ's \
                 are MLP options"
                    .into(),
            ));
        }
        let Some(method) = self.optimizer.name.method() else {
            return Ok(());
        };
        let ngd = self.ngd_config(method);
        if ngd.block_kind().is_none() || ngd.kfac_or_default().fisher == Fisher::Exact {
            return Err(TrainError::Invalid(format!(
                "{method} cannot train the CNN with these options: the dual forms and the exact \
                 Fisher's per-class factors take Linear layers only; convolutions are \
                 preconditioned by K-FAC or the diagonal Fisher with --fisher sampled or \
                 empirical"
            )));
        }
        Ok(())
    }

    /// Whether any NGD-only option differs from its default.
    fn ngd_options_set(&self) -> bool {
        let o = &self.optimizer;
        o.damping.adaptive || o.clipping != ClippingConfig::new() || o.kfac.is_some()
    }

    /// The NGD optimizer's config: the option groups as they are, with this run's learning
    /// rate, loss, momentum and seed.
    pub fn ngd_config(&self, method: Method) -> ngd_optim::NgdConfig {
        let o = &self.optimizer;
        ngd_optim::NgdConfig::new(method)
            .with_lr(Some(o.lr))
            .with_loss(self.loss)
            .with_momentum(o.momentum)
            .with_damping(o.damping.clone())
            .with_clipping(o.clipping.clone())
            .with_kfac(o.kfac.clone())
            .with_seed(self.seed)
    }

    /// The K-FAC options of the run, set to `f` of the current ones (or of the defaults).
    pub fn kfac_with(&mut self, f: impl FnOnce(KfacConfig) -> KfacConfig) {
        let current = self.optimizer.kfac.take().unwrap_or_else(KfacConfig::new);
        self.optimizer.kfac = Some(f(current));
    }
}

/// The default learning rate of each optimizer (Adam, AdamW and Muon 1e-3, SGD 0.1, NGD 0.1).
pub fn default_lr(optimizer: OptimizerKind) -> f64 {
    match optimizer {
        OptimizerKind::Adam | OptimizerKind::AdamW | OptimizerKind::Muon => 1e-3,
        OptimizerKind::Sgd | OptimizerKind::Ngd(_) => 0.1,
    }
}

/// Estimated bytes of the curvature work of one NGD step at batch B with C outputs and layer
/// widths M_0..M_L (f64): the CB × CB Gram and its factor (exact), one per layer
/// (block-diagonal, unit-wise per unit B × B), the LCB × LCB system (block tri-diagonal), or
/// the two Kronecker factors and their inverses (K-FAC).
pub fn curvature_bytes(method: Method, batch: usize, widths: &[usize]) -> f64 {
    let c = *widths.last().unwrap_or(&1) as f64;
    let b = batch as f64;
    let depth = widths.len().saturating_sub(1) as f64;
    let cb2 = (c * b).powi(2);
    let factors: f64 = widths
        .iter()
        .map(|&m| ((m + 1) * batch) as f64)
        .sum::<f64>()
        * c;
    8.0 * match method {
        Method::Exact | Method::Gd => 3.0 * cb2 + factors,
        Method::BlockTriDiagonal | Method::LayerWise => 3.0 * depth * depth * cb2 + factors,
        Method::Kfac => {
            widths
                .windows(2)
                .map(|w| 2.0 * (((w[0] + 1) * (w[0] + 1)) + w[1] * w[1]) as f64)
                .sum::<f64>()
                + factors
        }
        _ => 3.0 * depth * cb2 + factors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_schedule_warms_up_then_decays_to_zero() {
        let s = Schedule::Cosine;
        assert!((s.lr(1.0, 0, 100, 10) - 0.1).abs() < 1e-15);
        assert!((s.lr(1.0, 9, 100, 10) - 1.0).abs() < 1e-15);
        assert!((s.lr(1.0, 10, 100, 10) - 1.0).abs() < 1e-15);
        assert!((s.lr(1.0, 55, 100, 10) - 0.5).abs() < 1e-12);
        assert!(s.lr(1.0, 100, 100, 10).abs() < 1e-15);
        assert_eq!(Schedule::Constant.lr(0.3, 50, 100, 0), 0.3);
    }

    #[test]
    fn first_order_runs_refuse_ngd_options() {
        let mut cfg = FitConfig::new(OptimizerKind::Adam);
        cfg.validate().unwrap();
        cfg.kfac_with(|k| k.with_decay(0.9));
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.contains("NGD options"), "{err}");
    }

    #[test]
    fn exact_curvature_grows_with_the_square_of_cb() {
        let widths = [784, 1024, 1024, 10];
        let small = curvature_bytes(Method::Exact, 256, &widths);
        let large = curvature_bytes(Method::Exact, 2560, &widths);
        assert!(large / small > 50.0, "{small} {large}");
    }
}
