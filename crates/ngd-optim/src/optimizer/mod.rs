//! NGD as a stateful optimizer for any [`FactoredModel`], after burn-optim's conventions: a
//! [`NgdConfig`] with defaults, [`NgdConfig::init`], and state ([`NgdState`]) that is saved
//! and restored in burn's burnpack format ([`Ngd::save`], [`Ngd::load`]).
//!
//! One step: the Jacobian factors of the batch from the model's tapped forward pass
//! (MATH.md §2), the output gradient g = N∂L/∂f, the method's direction Δθ (MATH.md §3; K-FAC
//! with running factors, MATH.md §8), momentum v ← μv + Δθ, and θ ← θ − ηv.

mod kfac_state;
mod record;

pub use kfac_state::KfacLayer;

use crate::convert::tensor_to_rows;
use crate::direction::Direction;
use crate::{Curvature, FactoredModel, Factors, Loss, Method, OptimError};
use burn::config::Config;
use burn::tensor::Tensor;
use faer::Mat;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// The output-side Fisher that K-FAC accumulates (for cross-entropy; MSE's Λ = I is exact).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Fisher {
    /// The true Fisher: Λ_n = diag(p_n) − p_np_nᵀ, C backward passes per statistics step.
    #[default]
    Exact,
    /// The true Fisher estimated with one label ŷ ~ p(y|x_n) per sample (Monte Carlo): one
    /// backward pass of Σ_n (p_n − e_ŷ)·f(x_n).
    Sampled,
    /// The empirical Fisher: the loss gradients themselves (biased; Kunstner et al. 2019).
    Empirical,
}

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
    /// Seed of the sampled labels ([`Fisher::Sampled`]).
    #[config(default = 0)]
    pub seed: u64,
}

/// Wall time of one step by phase, seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct PhaseTimes {
    /// Forward and backward passes (Jacobian factors, loss signals).
    pub forward_backward: f64,
    /// Curvature statistics and the direction's solves (dual methods: all of the direction).
    pub curvature: f64,
    /// K-FAC's factor inversions.
    pub inversion: f64,
    /// Momentum and the parameter update.
    pub update: f64,
}

/// What one step measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StepStats {
    /// L(θ) on the batch before the step.
    pub loss: f64,
    /// The learning rate used.
    pub lr: f64,
    /// Time by phase.
    pub seconds: PhaseTimes,
}

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
        })
    }

    /// Whether any option asks for K-FAC state: running averages, sparse statistics or
    /// inversions, or a non-exact Fisher.
    fn kfac_state_options(&self) -> bool {
        self.kfac_decay > 0.0
            || self.kfac_stats_interval > 1
            || self.kfac_inverse_interval > 1
            || self.fisher != Fisher::Exact
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

    /// One step on the batch x (N × M_0) with targets y (N × C: one-hot for cross-entropy).
    pub fn step<M: FactoredModel>(
        &mut self,
        model: &mut M,
        x: Tensor<2>,
        targets: Tensor<2>,
    ) -> crate::Result<StepStats> {
        let y = tensor_to_rows(targets.without_autodiff());
        let mut times = PhaseTimes::default();
        let start = Instant::now();
        let (factors, direction) = if self.config.stateful_kfac() {
            self.kfac_direction(model, x, &y, &mut times)?
        } else {
            let factors = model.factors(x);
            times.forward_backward = start.elapsed().as_secs_f64();
            let g = self.output_gradient(&factors.outputs, &y)?;
            let t = Instant::now();
            let direction = self.curvature.direction(&factors, &g)?;
            times.curvature = t.elapsed().as_secs_f64();
            (factors, direction)
        };
        let loss = self.config.loss.value(
            &ngd_linalg::to_rows(&factors.outputs),
            &y,
            factors.outputs_dim(),
        );
        if !loss.is_finite() {
            return Err(OptimError::Unsupported(format!(
                "the loss is {loss} at step {} (diverged: lower the learning rate or raise \
                 the damping)",
                self.state.step
            )));
        }
        let lr = match (self.state.lr, self.config.lr) {
            (Some(lr), _) | (None, Some(lr)) => lr,
            (None, None) => self
                .config
                .method
                .optimal_lr(self.curvature.as_ref(), &factors)?,
        };
        self.state.lr = Some(lr);
        let t = Instant::now();
        self.update(model, &factors, &direction, lr);
        times.update = t.elapsed().as_secs_f64();
        self.state.step += 1;
        Ok(StepStats {
            loss,
            lr,
            seconds: times,
        })
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

    /// v ← μv + Δθ, θ ← θ − ηv.
    fn update<M: FactoredModel>(
        &mut self,
        model: &mut M,
        factors: &Factors,
        direction: &Direction,
        lr: f64,
    ) {
        let mu = self.config.momentum;
        if mu == 0.0 {
            direction.apply(model, factors, lr);
            return;
        }
        let updates = direction.layer_updates(factors);
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
        for (l, (vw, vb)) in self.state.momentum.iter().enumerate() {
            model.update_layer(l, vw.clone(), vb.clone(), lr);
        }
    }
}

#[cfg(test)]
mod tests;
