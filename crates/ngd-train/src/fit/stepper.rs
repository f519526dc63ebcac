//! One optimizer step on any trainable model ([`super::Trainable`]): NGD ([`ngd_optim::Ngd`]) or
//! one of burn's first-order optimizers (SGD, Adam, AdamW and Muon from `burn::optim`) on the
//! same model and batch.

use super::config::{FitConfig, OptimizerKind};
use super::eval::loss_tensor;
use crate::{Result, TrainError};
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, AdamWConfig, GradientsParams, ModuleOptimizer, SgdConfig};
use burn::tensor::Tensor;
use ngd_optim::{DualObserver, Loss, Ngd, NgdConfig, PhaseTimes};
use std::time::Instant;

/// What one step measured.
#[derive(Debug, Clone, Copy)]
pub struct StepOutcome {
    /// The batch loss before the step.
    pub loss: f64,
    /// The learning rate of the step.
    pub lr: f64,
    /// NGD's damping after the step (it moves with adaptive damping).
    pub damping: Option<f64>,
    /// Time by phase (first-order: forward/backward and update only).
    pub seconds: PhaseTimes,
}

/// The optimizer of a run and its state.
pub enum Stepper {
    /// NGD.
    Ngd(Box<Ngd>),
    /// A burn optimizer.
    Burn(ModuleOptimizer),
}

impl Stepper {
    /// The optimizer `cfg` asks for, with fresh state, for `model` (Muon's parameter groups).
    pub fn new<M: Module>(cfg: &FitConfig, model: &M) -> Result<Self> {
        Ok(match cfg.optimizer.name {
            OptimizerKind::Ngd(method) => Self::Ngd(Box::new(cfg.ngd_config(method).init()?)),
            OptimizerKind::Sgd => {
                let mut sgd = SgdConfig::new();
                if cfg.optimizer.momentum > 0.0 {
                    sgd = sgd.with_momentum(Some(
                        MomentumConfig::new()
                            .with_momentum(cfg.optimizer.momentum)
                            .with_dampening(0.0)
                            .with_nesterov(cfg.optimizer.nesterov),
                    ));
                }
                Self::Burn(sgd.init())
            }
            OptimizerKind::Adam => Self::Burn(AdamConfig::new().init()),
            OptimizerKind::AdamW => Self::Burn(
                AdamWConfig::new()
                    .with_weight_decay(cfg.optimizer.weight_decay as f32)
                    .init(),
            ),
            OptimizerKind::Muon => Self::Burn(super::muon::muon_optimizer(
                model,
                cfg.optimizer.weight_decay,
            )),
        })
    }

    /// NGD as `config` sets it up (the full-batch runs' optimizer).
    pub fn ngd(config: NgdConfig) -> Result<Self> {
        Ok(Self::Ngd(Box::new(config.init()?)))
    }

    /// One step at learning rate `lr` on the batch (x, one-hot y); `observe` sees a dual-form
    /// NGD step before the update ([`Ngd::step_observed`]; burn's optimizers have none to show).
    pub fn step<M: super::Trainable>(
        &mut self,
        model: M,
        x: Tensor<2>,
        y: Tensor<2>,
        lr: f64,
        loss: Loss,
        observe: Option<DualObserver<'_, M>>,
    ) -> Result<(M, StepOutcome)> {
        match self {
            Self::Ngd(ngd) => {
                let mut model = model;
                ngd.set_lr(lr);
                let stats = ngd.step_observed(&mut model, x, y, observe)?;
                let outcome = StepOutcome {
                    loss: stats.loss,
                    lr,
                    damping: Some(ngd.damping()),
                    seconds: stats.seconds,
                };
                Ok((model, outcome))
            }
            Self::Burn(optim) => {
                let t = Instant::now();
                let value = loss_tensor(loss, model.forward_tracked(x), y);
                let batch_loss = ngd_optim::convert::tensor_to_rows(
                    value.clone().without_autodiff().reshape([1, 1]),
                )[0];
                // A non-finite batch loss ends the run before the optimizer's state changes.
                if !batch_loss.is_finite() {
                    return Err(TrainError::NonFiniteLoss { loss: batch_loss });
                }
                let grads = GradientsParams::from_grads(value.backward(), &model);
                let forward_backward = t.elapsed().as_secs_f64();
                let t = Instant::now();
                let model = optim.step(lr, model, grads);
                // Wait for the update so that its time is its own.
                wait_for(&model);
                let seconds = PhaseTimes {
                    forward_backward,
                    update: t.elapsed().as_secs_f64(),
                    ..PhaseTimes::default()
                };
                Ok((
                    model,
                    StepOutcome {
                        loss: batch_loss,
                        lr,
                        damping: None,
                        seconds,
                    },
                ))
            }
        }
    }
}

/// Reads the model's last 1-D float parameter (a bias) back, so that a queued update finishes.
fn wait_for<M: Module>(model: &M) {
    struct Last(Option<Tensor<1>>);
    impl ModuleVisitor for Last {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if D == 1 {
                self.0 = Some(param.val().reshape([-1]));
            }
        }
    }
    let mut last = Last(None);
    model.visit(&mut last);
    if let Some(t) = last.0 {
        let _ = t.into_data();
    }
}

/// Adds one step's phase times to a running total.
pub(crate) fn add_times(total: &mut PhaseTimes, t: &PhaseTimes) {
    total.forward_backward += t.forward_backward;
    total.curvature += t.curvature;
    total.inversion += t.inversion;
    total.update += t.update;
}
