//! NGD as a stateful optimizer for any [`FactoredModel`], after burn-optim's conventions: a
//! [`NgdConfig`] with defaults, [`NgdConfig::init`], and state ([`NgdState`]) that is saved
//! and restored in burn's burnpack format ([`Ngd::save`], [`Ngd::load`]).
//!
//! One step, by one of two routes:
//! * with state (K-FAC or the diagonal Fisher with running averages, a sampled or empirical
//!   Fisher, intervals or a statistics sub-batch): per-layer curvature blocks on the device
//!   ([`crate::curvature`], MATH.md §8). The targets, g = N∂L/∂f, the loss and the statistics stay
//!   on the device: a step reads one small tensor (the loss with the finiteness of the batch),
//!   plus ∇LᵀΔθ under KL clipping, and the factors only when it refreshes their inverses;
//! * otherwise the method's dual form on the batch's Jacobian factors (MATH.md §2–3).
//!
//! Then momentum v ← μv + Δθ, and θ ← θ − ηv.

mod block_step;
mod config;
mod damping;
mod fisher;
mod objective;
mod record;
mod stats;

pub use config::{ClippingConfig, DampingConfig, KfacConfig, NgdConfig, sigma_matrix};
pub use fisher::{ConvFactors, Fisher};
pub use stats::{PhaseTimes, StepStats};

use crate::convert::tensor_to_rows;
use crate::curvature::{CurvatureBlock, FactorSync};
use crate::direction::Direction;
use crate::{Curvature, DualDiagnostics, FactoredModel, Factors, MethodCurvature, OptimError};
use burn::tensor::Tensor;
use damping::{Quadratic, kl_factor};
use faer::Mat;
use std::time::Instant;

/// ω of the Levenberg–Marquardt rule ([`DampingConfig::adaptive`]).
pub const LM_DECAY: f64 = 0.95;

/// The smallest damping the Levenberg–Marquardt rule moves ρ to (kfac-jax's default).
pub const LM_MIN_DAMPING: f64 = 1e-8;

/// The largest damping the Levenberg–Marquardt rule moves ρ to: at ρ = 10⁴ the step is ≈ ∇L/ρ,
/// a plain gradient step 10⁴ times shorter, so a larger ρ would only stall the run.
pub const LM_MAX_DAMPING: f64 = 1e4;

/// What a dual-form step holds just before its update, for an observer
/// ([`Ngd::step_observed`]): the batch's factors, g = N∂L/∂f, the direction Δθ, what the dual
/// solve measured (layer-wise methods) and the learning rate about to be applied.
pub struct DualView<'a> {
    /// The batch's per-layer factors (outputs included).
    pub factors: &'a Factors,
    /// g = N∂L/∂f, class-major.
    pub gradient: &'a [f64],
    /// The step direction Δθ.
    pub direction: &'a Direction,
    /// The layer-wise dual solve's measurements.
    pub dual: Option<DualDiagnostics>,
    /// η of this step.
    pub lr: f64,
}

/// An observer of the dual-form steps ([`Ngd::step_observed`]), called with the model before
/// its update.
pub type DualObserver<'o, M> = &'o mut dyn FnMut(&M, &DualView<'_>);

/// The optimizer's state between steps.
#[derive(Debug, Clone, Default)]
pub struct NgdState {
    /// Steps taken.
    pub step: u64,
    /// The learning rate once resolved (the config's, or 1/α at the first batch).
    pub lr: Option<f64>,
    /// Momentum buffers (ΔW_l, Δb_l) per layer (empty without momentum).
    pub momentum: Vec<(Tensor<2>, Tensor<1>)>,
}

/// Natural-gradient descent on a [`FactoredModel`] ([`NgdConfig::init`]).
pub struct Ngd {
    config: NgdConfig,
    curvature: Box<dyn Curvature>,
    state: NgdState,
    /// One curvature block per layer (K-FAC, diagonal with state), made at the first step.
    blocks: Vec<Box<dyn CurvatureBlock>>,
    /// Where the blocks' statistics are averaged across devices ([`LocalSync`]: one device).
    sync: Box<dyn FactorSync>,
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

    /// The per-layer curvature blocks (empty for the dual-form route or before the first step).
    pub fn blocks(&self) -> &[Box<dyn CurvatureBlock>] {
        &self.blocks
    }

    /// Preconditions layer l with `blocks[l]` instead of the method's block (e.g. an
    /// [`crate::IdentityBlock`] for a layer to leave alone); for a configuration with state
    /// ([`NgdConfig::block_kind`]), else an error.
    pub fn with_blocks(mut self, blocks: Vec<Box<dyn CurvatureBlock>>) -> crate::Result<Self> {
        if self.config.block_kind().is_none() {
            return Err(OptimError::Invalid(format!(
                "{} with these options has no per-layer blocks (they come with state: running \
                 averages, intervals, a sampled or empirical Fisher)",
                self.config.method
            )));
        }
        self.blocks = blocks;
        Ok(self)
    }

    /// Averages the blocks' statistics through `sync` from now on (data-parallel runs).
    pub fn with_sync(mut self, sync: Box<dyn FactorSync>) -> Self {
        self.sync = sync;
        self
    }

    /// Sets the learning rate of the next steps (a schedule's value).
    pub fn set_lr(&mut self, lr: f64) {
        self.state.lr = Some(lr);
    }

    /// The damping ρ in use.
    pub fn damping(&self) -> f64 {
        self.config.damping.value
    }

    /// Sets the damping ρ of the next steps (K-FAC: from its next inversion).
    pub fn set_damping(&mut self, damping: f64) -> crate::Result<()> {
        self.curvature = self.config.dual_curvature(damping)?;
        self.config.damping.value = damping;
        Ok(())
    }

    /// One step on the batch x (N × M_0) with targets y (N × C: one-hot for cross-entropy).
    pub fn step<M: FactoredModel>(
        &mut self,
        model: &mut M,
        x: Tensor<2>,
        targets: Tensor<2>,
    ) -> crate::Result<StepStats> {
        self.step_observed(model, x, targets, None)
    }

    /// [`Ngd::step`] that shows a dual-form step to `observe` before the update (the
    /// full-batch diagnostics; the per-layer block route is not observed). With an observer
    /// the direction comes from [`Curvature::direction_with_diagnostics`].
    pub fn step_observed<M: FactoredModel>(
        &mut self,
        model: &mut M,
        x: Tensor<2>,
        targets: Tensor<2>,
        mut observe: Option<DualObserver<'_, M>>,
    ) -> crate::Result<StepStats> {
        let step = self.state.step + 1;
        let lr_known = self.state.lr.is_some() || self.config.lr.is_some();
        let blocks = self.config.block_kind().is_some();
        // The targets stay on the device on the block route with a known learning rate (its
        // one read checks x, y and f with the loss); the dual forms need them on the host.
        let y = (!blocks || !lr_known || self.config.damping.adaptive)
            .then(|| tensor_to_rows(targets.clone().without_autodiff()));
        // Non-finite data is refused before any state changes (statistics, inverses, lr).
        if !blocks || !lr_known {
            let y = y.as_deref().expect("read above");
            if y.iter().any(|v| !v.is_finite()) {
                return Err(OptimError::NonFinite {
                    step,
                    what: "targets",
                });
            }
            let finite = x.clone().without_autodiff().is_finite().all();
            if !finite.into_scalar::<bool>() {
                return Err(OptimError::NonFinite {
                    step,
                    what: "inputs",
                });
            }
        }
        let x_kept = self.config.damping.adaptive.then(|| x.clone());
        let need_slope = self.config.damping.adaptive || self.config.clipping.kl.is_some();
        let mut times = PhaseTimes::default();
        let start = Instant::now();
        let mut first_lr = None;
        let planned = if blocks {
            if !lr_known {
                // The paper's 1/α of the method's dual form at the first batch.
                let factors = model.factors(x.clone());
                block_step::require_linear(self.config.method.name(), &factors.kinds)?;
                first_lr = Some(
                    self.config
                        .method
                        .optimal_lr(self.curvature.as_ref(), &factors)?,
                );
            }
            Planned::Blocks(self.block_step(model, x, targets, &mut times)?)
        } else {
            let factors = model.factors(x);
            times.forward_backward = start.elapsed().as_secs_f64();
            block_step::require_linear(self.config.method.name(), &factors.kinds)?;
            let g = self.output_gradient(&factors.outputs, y.as_deref().expect("read above"))?;
            let t = Instant::now();
            let (direction, dual) = match observe {
                Some(_) => self.curvature.direction_with_diagnostics(&factors, &g)?,
                None => (self.curvature.direction(&factors, &g)?, None),
            };
            times.curvature = t.elapsed().as_secs_f64();
            Planned::Host(factors, direction, g, dual)
        };
        let loss = match &planned {
            Planned::Host(factors, ..) => self.config.loss.value(
                &ngd_linalg::to_rows(&factors.outputs),
                y.as_deref().expect("read above"),
                factors.outputs_dim(),
            ),
            Planned::Blocks(step) => step.loss,
        };
        if !loss.is_finite() {
            return Err(OptimError::Diverged {
                step: self.state.step + 1,
                loss,
            });
        }
        let lr = match (self.state.lr, self.config.lr, &planned) {
            (Some(lr), _, _) | (None, Some(lr), _) => lr,
            (None, None, Planned::Host(factors, ..)) => self
                .config
                .method
                .optimal_lr(self.curvature.as_ref(), factors)?,
            (None, None, Planned::Blocks(_)) => first_lr.expect("resolved before the block step"),
        };
        self.state.lr = Some(lr);
        let damping = self.config.damping.value;
        let t = Instant::now();
        // ∇Lᵀ Δθ for KL clipping, and what the Levenberg–Marquardt rule's quadratic model needs.
        let (updates, slope, quadratic) = match planned {
            Planned::Host(factors, direction, g, dual) => {
                if let Some(observe) = observe.as_mut() {
                    let view = DualView {
                        factors: &factors,
                        gradient: &g,
                        direction: &direction,
                        dual,
                        lr,
                    };
                    observe(model, &view);
                }
                let slope =
                    need_slope.then(|| crate::direction::gradient_dot(&factors, &direction, &g));
                let updates = direction.layer_updates(&factors);
                (updates, slope, Quadratic::Host(Box::new(factors), g))
            }
            Planned::Blocks(step) => (step.updates, step.slope, Quadratic::Blocks(step.layers)),
        };
        let kl_clip = match (self.config.clipping.kl, slope) {
            (Some(c), Some(slope)) => kl_factor(c, lr, slope),
            _ => 1.0,
        };
        let updates = if kl_clip < 1.0 {
            let scale =
                |(w, b): (Tensor<2>, Tensor<1>)| (w.mul_scalar(kl_clip), b.mul_scalar(kl_clip));
            updates.into_iter().map(scale).collect()
        } else {
            updates
        };
        let (clip, taken) = self.update(model, updates, lr);
        times.update = t.elapsed().as_secs_f64();
        let mut reduction_ratio = None;
        if let Some(x) = x_kept {
            let after = model.forward_plain(x);
            let c_out = after.dims()[1];
            let y = y.as_deref().expect("read with adaptive damping");
            let after = self.config.loss.value(&tensor_to_rows(after), y, c_out);
            let predicted = self.predicted_change(&quadratic, &taken, lr * clip);
            reduction_ratio = Some((after - loss) / predicted);
            self.adapt_damping(loss, after, predicted)?;
        }
        self.state.step += 1;
        Ok(StepStats {
            loss,
            lr,
            damping,
            clip,
            kl_clip,
            reduction_ratio,
            seconds: times,
        })
    }

    /// g = N∂L/∂f, refusing NaN/inf outputs (before the curvature sees them).
    fn output_gradient(&self, outputs: &Mat<f64>, y: &[f64]) -> crate::Result<Vec<f64>> {
        if y.len() != outputs.nrows() * outputs.ncols() {
            return Err(targets_mismatch(y.len(), outputs.nrows(), outputs.ncols()));
        }
        if outputs.col_iter().any(|c| c.iter().any(|v| !v.is_finite())) {
            return Err(OptimError::NonFinite {
                step: self.state.step + 1,
                what: "network outputs",
            });
        }
        Ok(self.config.loss.output_gradient(outputs, y))
    }

    /// v ← μv + Δθ, θ ← θ − νηv with ν = min(1, c/‖ηv‖) under [`ClippingConfig::max_step_norm`];
    /// returns ν and v. `updates`: (ΔW_l, Δb_l) per layer on the device.
    fn update<M: FactoredModel>(
        &mut self,
        model: &mut M,
        mut updates: Vec<(Tensor<2>, Tensor<1>)>,
        lr: f64,
    ) -> (f64, Vec<(Tensor<2>, Tensor<1>)>) {
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
        let clip = match self.config.clipping.max_step_norm {
            Some(c) => {
                // ‖v‖² summed in f64 on the device, read once.
                let f64 = burn::tensor::DType::F64;
                let squares = updates
                    .iter()
                    .map(|(w, b)| {
                        w.clone().cast(f64).square().sum() + b.clone().cast(f64).square().sum()
                    })
                    .reduce(|a, b| a + b)
                    .map_or(0.0, |s| crate::curvature::total(s.reshape([1, 1])));
                let norm = lr * squares.sqrt();
                if norm > c { c / norm } else { 1.0 }
            }
            None => 1.0,
        };
        for (l, (w, b)) in updates.iter().enumerate() {
            model.update_layer(l, w.clone(), b.clone(), lr * clip);
        }
        (clip, updates)
    }
}

/// The error of targets whose count is not the outputs' N·C.
fn targets_mismatch(values: usize, n: usize, c_out: usize) -> OptimError {
    OptimError::Invalid(format!(
        "targets hold {values} values, expected N·C = {n}·{c_out}"
    ))
}

/// A step planned before the update: a dual-form direction at the factors, or the blocks'
/// updates on the device.
enum Planned {
    /// Factors, direction, g = N∂L/∂f and the dual solve's measurements (the dual forms).
    Host(Factors, Direction, Vec<f64>, Option<DualDiagnostics>),
    /// Device updates from the per-layer blocks.
    Blocks(block_step::BlockStep),
}

#[cfg(test)]
mod block_tests;
#[cfg(test)]
mod conv_linear_tests;
#[cfg(test)]
mod conv_tests;
#[cfg(test)]
mod damping_tests;
#[cfg(test)]
mod dual_tests;
#[cfg(test)]
mod statistics_tests;
#[cfg(test)]
mod tests;
