//! NGD as a stateful optimizer for any [`FactoredModel`], after burn-optim's conventions: a
//! [`NgdConfig`] with defaults, [`NgdConfig::init`], and state ([`NgdState`]) that is saved
//! and restored in burn's burnpack format ([`Ngd::save`], [`Ngd::load`]).
//!
//! One step: the Jacobian factors of the batch from the model's tapped forward pass
//! (MATH.md §2), the output gradient g = N∂L/∂f, the method's direction Δθ (MATH.md §3; K-FAC
//! with running factors, MATH.md §8), momentum v ← μv + Δθ, and θ ← θ − ηv.

mod fisher;
mod kfac_device;
mod kfac_state;
mod record;
mod stats;

pub use fisher::Fisher;
pub use kfac_state::KfacLayer;
pub use stats::{PhaseTimes, StepStats};

use crate::convert::tensor_to_rows;
use crate::direction::Direction;
use crate::{Curvature, FactoredModel, Factors, Loss, Method, MethodCurvature, OptimError};
use burn::config::Config;
use burn::tensor::Tensor;
use faer::Mat;
use std::time::Instant;

/// Configuration of [`Ngd`].
#[derive(Config, Debug)]
pub struct NgdConfig {
    /// The Fisher approximation (every [`Method`] but `layer-wise`, which needs Σ).
    pub method: Method,
    /// Damping ρ in G = F + ρI.
    #[config(default = 1e-3)]
    pub damping: f64,
    /// Learning rate η; `None`: the paper's optimum 1/α (Cor. 4.2) measured at the first batch.
    #[config(default = "None")]
    pub lr: Option<f64>,
    /// The training loss (MSE, eq. 3, or softmax cross-entropy).
    #[config(default = "Loss::CrossEntropy")]
    pub loss: Loss,
    /// Momentum μ on the step (0: none).
    #[config(default = 0.0)]
    pub momentum: f64,
    /// K-FAC's output-side Fisher.
    #[config(default = "Fisher::Exact")]
    pub fisher: Fisher,
    /// K-FAC: decay β of the running averages of A and S (0: this batch's statistics only).
    #[config(default = 0.0)]
    pub kfac_decay: f64,
    /// K-FAC: update the statistics every this many steps.
    #[config(default = 1)]
    pub kfac_stats_interval: usize,
    /// K-FAC: recompute the damped inverses every this many steps (T).
    #[config(default = 1)]
    pub kfac_inverse_interval: usize,
    /// K-FAC: estimate the factors' statistics from the first this many samples of each batch
    /// (`None`: the whole batch); the gradient always uses the whole batch.
    #[config(default = "None")]
    pub kfac_stats_batch: Option<usize>,
    /// Levenberg–Marquardt adaptation of ρ (Martens & Grosse 2015, §6.5): after each step the
    /// reduction ratio r = (L(θ′) − L(θ))/(q(θ′) − q(θ)) of the batch loss against the
    /// quadratic model q sets ρ ← ωρ when r > ¾ and ρ ← ρ/ω when r < ¼ (ω = 0.95).
    #[config(default = false)]
    pub adaptive_damping: bool,
    /// Bound on the step: the update η·v is scaled down to this L2 norm when longer.
    #[config(default = "None")]
    pub max_step_norm: Option<f64>,
    /// Seed of the sampled labels ([`Fisher::Sampled`]).
    #[config(default = 0)]
    pub seed: u64,
}

/// ω of the Levenberg–Marquardt rule ([`NgdConfig::adaptive_damping`]).
pub const LM_DECAY: f64 = 0.95;

/// The optimizer's state between steps.
#[derive(Debug, Clone, Default)]
pub struct NgdState {
    /// Steps taken.
    pub step: u64,
    /// The learning rate once resolved (the config's, or 1/α at the first batch).
    pub lr: Option<f64>,
    /// K-FAC's factors per layer (empty for the other methods or before the first step).
    pub kfac: Vec<KfacLayer>,
    /// Momentum buffers (ΔW_l, Δb_l) per layer (empty without momentum).
    pub momentum: Vec<(Tensor<2>, Tensor<1>)>,
}

/// Natural-gradient descent on a [`FactoredModel`] ([`NgdConfig::init`]).
pub struct Ngd {
    config: NgdConfig,
    curvature: Box<dyn Curvature>,
    state: NgdState,
    /// K-FAC's damped inverses as f32 device tensors (A⁻¹, S⁻¹ per layer), uploaded after
    /// each inversion; empty until needed.
    device_inverses: Vec<(Tensor<2>, Tensor<2>)>,
}

impl NgdConfig {
    /// Checks the values and builds the optimizer.
    pub fn init(&self) -> crate::Result<Ngd> {
        let bad = |what: String| Err(OptimError::Unsupported(what));
        if !(0.0..1.0).contains(&self.kfac_decay) {
            return bad(format!(
                "kfac_decay must be in [0, 1), got {}",
                self.kfac_decay
            ));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return bad(format!("momentum must be in [0, 1), got {}", self.momentum));
        }
        if self.kfac_stats_interval == 0 || self.kfac_inverse_interval == 0 {
            return bad("the K-FAC intervals must be at least 1".into());
        }
        if self.kfac_stats_batch == Some(0) {
            return bad("the K-FAC statistics batch must hold at least 1 sample".into());
        }
        if let Some(c) = self.max_step_norm
            && !(c.is_finite() && c > 0.0)
        {
            return bad(format!("max_step_norm must be finite and > 0, got {c}"));
        }
        if self.adaptive_damping && (self.damping.is_nan() || self.damping <= 0.0) {
            return bad("adaptive damping needs a starting damping ρ > 0".into());
        }
        // The K-FAC options have no meaning for the dual-form methods: refuse rather than
        // silently use the exact Fisher, every step's statistics and no averaging.
        if self.kfac_state_options() && self.method != Method::Kfac {
            return bad(format!(
                "the sampled/empirical Fisher, running averages and update intervals are K-FAC \
                 options; {} solves the exact Fisher of each batch in dual form",
                self.method
            ));
        }
        if let Some(lr) = self.lr
            && !(lr.is_finite() && lr > 0.0)
        {
            return bad(format!(
                "the learning rate must be finite and > 0, got {lr}"
            ));
        }
        let curvature = self
            .method
            .curvature_for(self.damping, None, self.loss)
            .map_err(|e| OptimError::Unsupported(e.to_string()))?;
        Ok(Ngd {
            config: self.clone(),
            curvature,
            state: NgdState::default(),
            device_inverses: Vec::new(),
        })
    }

    /// Whether any option asks for K-FAC state: running averages, sparse statistics or
    /// inversions, or a non-exact Fisher.
    fn kfac_state_options(&self) -> bool {
        self.kfac_decay > 0.0
            || self.kfac_stats_interval > 1
            || self.kfac_inverse_interval > 1
            || self.fisher != Fisher::Exact
            || self.kfac_stats_batch.is_some()
    }

    /// Whether K-FAC's step runs on the device: with state and a sampled or empirical Fisher
    /// (one extra backward pass; the exact Fisher's C passes are assembled on the host).
    fn device_kfac(&self) -> bool {
        self.stateful_kfac() && self.fisher != Fisher::Exact
    }

    /// Whether K-FAC keeps state; otherwise it is today's full-batch dual form, which also
    /// handles ρ = 0.
    fn stateful_kfac(&self) -> bool {
        self.method == Method::Kfac && self.kfac_state_options()
    }
}

impl Ngd {
    /// The configuration.
    pub fn config(&self) -> &NgdConfig {
        &self.config
    }

    /// The state between steps.
    pub fn state(&self) -> &NgdState {
        &self.state
    }

    /// Sets the learning rate of the next steps (a schedule's value).
    pub fn set_lr(&mut self, lr: f64) {
        self.state.lr = Some(lr);
    }

    /// The damping ρ in use.
    pub fn damping(&self) -> f64 {
        self.config.damping
    }

    /// Sets the damping ρ of the next steps (K-FAC: from its next inversion).
    pub fn set_damping(&mut self, damping: f64) -> crate::Result<()> {
        self.curvature = self
            .config
            .method
            .curvature_for(damping, None, self.config.loss)
            .map_err(|e| OptimError::Unsupported(e.to_string()))?;
        self.config.damping = damping;
        Ok(())
    }

    /// One step on the batch x (N × M_0) with targets y (N × C: one-hot for cross-entropy).
    pub fn step<M: FactoredModel>(
        &mut self,
        model: &mut M,
        x: Tensor<2>,
        targets: Tensor<2>,
    ) -> crate::Result<StepStats> {
        let y = tensor_to_rows(targets.without_autodiff());
        let x_kept = self.config.adaptive_damping.then(|| x.clone());
        let mut times = PhaseTimes::default();
        let start = Instant::now();
        let lr_known = self.state.lr.is_some() || self.config.lr.is_some();
        let planned = if self.config.device_kfac() && lr_known {
            Planned::Device(self.kfac_device_step(model, x, &y, &mut times)?)
        } else if self.config.stateful_kfac() {
            let (factors, direction) = self.kfac_direction(model, x, &y, &mut times)?;
            Planned::Host(factors, direction)
        } else {
            let factors = model.factors(x);
            times.forward_backward = start.elapsed().as_secs_f64();
            let g = self.output_gradient(&factors.outputs, &y)?;
            let t = Instant::now();
            let direction = self.curvature.direction(&factors, &g)?;
            times.curvature = t.elapsed().as_secs_f64();
            Planned::Host(factors, direction)
        };
        let outputs = planned.outputs();
        let c_out = outputs.ncols();
        let loss = self
            .config
            .loss
            .value(&ngd_linalg::to_rows(outputs), &y, c_out);
        if !loss.is_finite() {
            return Err(OptimError::Unsupported(format!(
                "the loss is {loss} at step {} (diverged: lower the learning rate or raise \
                 the damping)",
                self.state.step + 1
            )));
        }
        let lr = match (self.state.lr, self.config.lr, &planned) {
            (Some(lr), _, _) | (None, Some(lr), _) => lr,
            (None, None, Planned::Host(factors, _)) => self
                .config
                .method
                .optimal_lr(self.curvature.as_ref(), factors)?,
            (None, None, Planned::Device(_)) => unreachable!("the device path needs a known lr"),
        };
        self.state.lr = Some(lr);
        let damping = self.config.damping;
        let t = Instant::now();
        // ∇Lᵀ Δθ for the quadratic model of the Levenberg–Marquardt rule, before the update.
        let (updates, slope) = match planned {
            Planned::Host(factors, direction) => {
                let slope = self.config.adaptive_damping.then(|| {
                    let g = self
                        .output_gradient(&factors.outputs, &y)
                        .unwrap_or_default();
                    let signals = self.config.stateful_kfac();
                    crate::direction::gradient_dot(&factors, &direction, &g, signals)
                });
                (direction.layer_updates(&factors), slope)
            }
            Planned::Device(step) => (step.updates, step.slope),
        };
        let clip = self.update(model, updates, lr);
        times.update = t.elapsed().as_secs_f64();
        if let (Some(slope), Some(x)) = (slope, x_kept) {
            let after = model.forward_plain(x);
            let after = self.config.loss.value(&tensor_to_rows(after), &y, c_out);
            self.adapt_damping(loss, after, slope, lr * clip)?;
        }
        self.state.step += 1;
        Ok(StepStats {
            loss,
            lr,
            damping,
            clip,
            seconds: times,
        })
    }

    /// ρ ← ωρ or ρ/ω from the reduction ratio r = ΔL / Δq, with q(η) = −(η − η²/2)∇LᵀΔθ the
    /// quadratic model along the step (ΔθᵀGΔθ = ∇LᵀΔθ for Δθ = G⁻¹∇L).
    fn adapt_damping(
        &mut self,
        before: f64,
        after: f64,
        slope: f64,
        eta: f64,
    ) -> crate::Result<()> {
        let predicted = -(eta - 0.5 * eta * eta) * slope;
        if predicted.is_nan() || predicted >= 0.0 || !after.is_finite() {
            return self.set_damping(self.config.damping / LM_DECAY);
        }
        let ratio = (after - before) / predicted;
        if ratio > 0.75 {
            self.set_damping(self.config.damping * LM_DECAY)
        } else if ratio < 0.25 {
            self.set_damping(self.config.damping / LM_DECAY)
        } else {
            Ok(())
        }
    }

    /// g = N∂L/∂f, refusing NaN/inf outputs.
    fn output_gradient(&self, outputs: &Mat<f64>, y: &[f64]) -> crate::Result<Vec<f64>> {
        if y.len() != outputs.nrows() * outputs.ncols() {
            return Err(OptimError::Unsupported(format!(
                "targets hold {} values, expected N·C = {}·{}",
                y.len(),
                outputs.nrows(),
                outputs.ncols()
            )));
        }
        Ok(self.config.loss.output_gradient(outputs, y))
    }

    /// v ← μv + Δθ, θ ← θ − νηv with ν = min(1, c/‖ηv‖) under [`NgdConfig::max_step_norm`];
    /// returns ν. `updates`: (ΔW_l, Δb_l) per layer on the device.
    fn update<M: FactoredModel>(
        &mut self,
        model: &mut M,
        mut updates: Vec<(Tensor<2>, Tensor<1>)>,
        lr: f64,
    ) -> f64 {
        let mu = self.config.momentum;
        if mu != 0.0 {
            if self.state.momentum.is_empty() {
                self.state.momentum = updates;
            } else {
                for (v, (dw, db)) in self.state.momentum.iter_mut().zip(updates) {
                    *v = (
                        v.0.clone().mul_scalar(mu) + dw,
                        v.1.clone().mul_scalar(mu) + db,
                    );
                }
            }
            updates = self.state.momentum.clone();
        }
        let clip = match self.config.max_step_norm {
            Some(c) => {
                let squares: f64 = updates
                    .iter()
                    .map(|(w, b)| {
                        let sum = w.clone().square().sum() + b.clone().square().sum();
                        tensor_to_rows(sum.reshape([1, 1]))[0]
                    })
                    .sum();
                let norm = lr * squares.sqrt();
                if norm > c { c / norm } else { 1.0 }
            }
            None => 1.0,
        };
        for (l, (w, b)) in updates.into_iter().enumerate() {
            model.update_layer(l, w, b, lr * clip);
        }
        clip
    }
}

/// A step planned before the update: a host direction at the factors, or K-FAC's update
/// computed on the device.
enum Planned {
    /// Factors and direction (dual forms, K-FAC with the exact Fisher).
    Host(Factors, Direction),
    /// Device updates (K-FAC with a sampled or empirical Fisher).
    Device(kfac_device::DeviceStep),
}

impl Planned {
    /// f(x) of the batch (N × C).
    fn outputs(&self) -> &Mat<f64> {
        match self {
            Planned::Host(factors, _) => &factors.outputs,
            Planned::Device(step) => &step.outputs,
        }
    }
}

#[cfg(test)]
mod tests;
