//! The one training loop ([`Trainer::run`]): every trainer of the crate steps a model through
//! it — the paper's full-batch runs (one unshuffled batch, step after step, with the theory
//! lines and diagnostics as observers), the mini-batch trainer ([`super::fit`],
//! [`super::fit_model`]: shuffled batches, evaluations and checkpoints around it) and the step
//! timings of `ngd bench`.

use super::Trainable;
use super::stepper::{StepOutcome, Stepper, add_times};
use crate::{Result, TrainError};
use burn::tensor::Tensor;
use ngd_optim::{DualView, Loss, PhaseTimes};
use std::time::Instant;

/// One batch of a run: inputs x (B × M_0), targets y (B × C) and the step's learning rate η.
pub struct Batch {
    /// The inputs.
    pub x: Tensor<2>,
    /// The targets (one-hot for classification).
    pub y: Tensor<2>,
    /// The learning rate of this step.
    pub lr: f64,
}

/// A model, its optimizer and the steps and training time spent on it.
pub struct Trainer<M> {
    /// The model θ_t.
    pub model: M,
    /// The optimizer and its state.
    pub stepper: Stepper,
    /// Steps t taken.
    pub step: u64,
    /// Training time so far (steps only: evaluations are the observers' and not counted).
    pub train_seconds: f64,
    /// Training time by phase so far.
    pub phase_seconds: PhaseTimes,
}

/// A step that failed: its number t and why.
#[derive(Debug)]
pub struct Failed {
    /// The step that failed (the steps before it stand).
    pub step: u64,
    /// Why.
    pub error: TrainError,
}

/// What watches a run: it may see each dual-form NGD step before its update, and sees the
/// trainer after every step; an error it returns ends the run at that step.
pub trait Observer<M> {
    /// Whether [`Observer::dual`] wants the dual-form steps (computing them costs extra).
    fn wants_dual(&self) -> bool {
        false
    }

    /// A dual-form NGD step before its update ([`ngd_optim::Ngd::step_observed`]).
    fn dual(&mut self, _model: &M, _view: &DualView<'_>) {}

    /// After step `trainer.step`, which took `seconds` and measured `outcome`.
    fn stepped(&mut self, trainer: &Trainer<M>, outcome: &StepOutcome, seconds: f64) -> Result<()>;
}

impl<M: Trainable> Trainer<M> {
    /// A trainer at step 0.
    pub fn new(model: M, stepper: Stepper) -> Self {
        Self {
            model,
            stepper,
            step: 0,
            train_seconds: 0.0,
            phase_seconds: PhaseTimes::default(),
        }
    }

    /// One step on `batch` under loss `loss`, timed; `observer` sees a dual-form NGD step
    /// before its update. On error the model and the counts are as before the step.
    pub fn step(
        &mut self,
        batch: Batch,
        loss: Loss,
        observer: Option<&mut dyn Observer<M>>,
    ) -> Result<(StepOutcome, f64)> {
        let start = Instant::now();
        let model = self.model.clone();
        let (model, outcome) = match observer {
            Some(o) if o.wants_dual() => {
                let mut see = |m: &M, view: &DualView<'_>| o.dual(m, view);
                self.stepper
                    .step(model, batch.x, batch.y, batch.lr, loss, Some(&mut see))?
            }
            _ => self
                .stepper
                .step(model, batch.x, batch.y, batch.lr, loss, None)?,
        };
        let seconds = start.elapsed().as_secs_f64();
        self.train_seconds += seconds;
        self.model = model;
        self.step += 1;
        add_times(&mut self.phase_seconds, &outcome.seconds);
        Ok((outcome, seconds))
    }

    /// Steps through `batches` under loss `loss`, `observer` watching; stops at the first step
    /// that fails (the optimizer's error, or the observer's after it).
    pub fn run(
        &mut self,
        batches: impl IntoIterator<Item = Batch>,
        loss: Loss,
        observer: &mut dyn Observer<M>,
    ) -> std::result::Result<(), Failed> {
        for batch in batches {
            let (outcome, seconds) =
                self.step(batch, loss, Some(&mut *observer))
                    .map_err(|error| Failed {
                        step: self.step + 1,
                        error,
                    })?;
            observer
                .stepped(self, &outcome, seconds)
                .map_err(|error| Failed {
                    step: self.step,
                    error,
                })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;
    use ngd_model::{Mlp, MlpConfig};
    use ngd_optim::convert::{tensor_from_rows, tensor_to_rows};
    use ngd_optim::{DampingConfig, Method, NgdConfig};

    /// A fixed batch of 6 inputs in R⁴ and ±½ targets; `poison` puts a NaN in the targets.
    fn batch(lr: f64, poison: bool, device: &Device) -> Batch {
        let x: Vec<f64> = (0..24).map(|i| ((i * 7 % 11) as f64 - 5.0) / 5.0).collect();
        let mut y: Vec<f64> = (0..6)
            .map(|i| if i % 2 == 0 { 0.5 } else { -0.5 })
            .collect();
        if poison {
            y[3] = f64::NAN;
        }
        Batch {
            x: tensor_from_rows(&x, 6, 4, device),
            y: tensor_from_rows(&y, 6, 1, device),
            lr,
        }
    }

    fn config() -> NgdConfig {
        NgdConfig::new(Method::BlockDiagonal)
            .with_damping(DampingConfig::new().with_value(1e-3))
            .with_lr(Some(0.1))
    }

    fn params(model: &Mlp, device: &Device) -> Vec<f64> {
        tensor_to_rows(model.forward(batch(0.0, false, device).x))
    }

    /// What the test observer saw, in order: ("dual", t) before an update, ("stepped", t, η).
    #[derive(Default)]
    struct Recorder {
        dual: bool,
        events: Vec<(&'static str, u64, f64)>,
        fail_at: Option<u64>,
    }

    impl Observer<Mlp> for Recorder {
        fn wants_dual(&self) -> bool {
            self.dual
        }
        fn dual(&mut self, _: &Mlp, view: &DualView<'_>) {
            let t = self.events.iter().filter(|e| e.0 == "stepped").count() as u64 + 1;
            self.events.push(("dual", t, view.lr));
        }
        fn stepped(&mut self, trainer: &Trainer<Mlp>, o: &StepOutcome, _: f64) -> Result<()> {
            self.events.push(("stepped", trainer.step, o.lr));
            match self.fail_at {
                Some(t) if t == trainer.step => Err(TrainError::Invalid("stop".into())),
                _ => Ok(()),
            }
        }
    }

    /// The loop takes every batch at its own η, in order, shows each dual step before its
    /// update and each finished step after it, and leaves the model where the optimizer's own
    /// steps, taken by hand, do (bit for bit).
    #[test]
    fn the_loop_steps_every_batch_and_shows_each_step_to_the_observer() {
        let device = Device::default();
        let model = MlpConfig::new(4, 8, 3, 1).init(7, &device).unwrap();
        let lrs = [0.1, 0.2, 0.05];
        let mut by_hand = model.clone();
        let mut ngd = config().init().unwrap();
        for lr in lrs {
            let b = batch(lr, false, &device);
            ngd.set_lr(lr);
            ngd.step(&mut by_hand, b.x, b.y).unwrap();
        }
        let mut trainer = Trainer::new(model, Stepper::ngd(config()).unwrap());
        let mut seen = Recorder {
            dual: true,
            ..Recorder::default()
        };
        let batches = lrs.map(|lr| batch(lr, false, &device));
        trainer.run(batches, Loss::Mse, &mut seen).unwrap();
        assert_eq!(trainer.step, 3);
        assert_eq!(params(&trainer.model, &device), params(&by_hand, &device));
        let expected: Vec<_> = (1..=3u64)
            .flat_map(|t| {
                let lr = lrs[t as usize - 1];
                [("dual", t, lr), ("stepped", t, lr)]
            })
            .collect();
        assert_eq!(seen.events, expected);
        assert!(trainer.train_seconds > 0.0);
    }

    /// A step the optimizer refuses ends the run as that step with the model and count of the
    /// step before; an observer's error ends it after the step it saw; no later batch is taken.
    #[test]
    fn a_failing_step_ends_the_run_with_its_number() {
        let device = Device::default();
        let model = MlpConfig::new(4, 8, 3, 1).init(7, &device).unwrap();
        let mut trainer = Trainer::new(model.clone(), Stepper::ngd(config()).unwrap());
        let mut seen = Recorder::default();
        let poisoned = [false, true, false].map(|p| batch(0.1, p, &device));
        let failed = trainer.run(poisoned, Loss::Mse, &mut seen).unwrap_err();
        assert_eq!((failed.step, trainer.step), (2, 1));
        assert_eq!(seen.events, vec![("stepped", 1, 0.1)]);
        let mut one = Trainer::new(model.clone(), Stepper::ngd(config()).unwrap());
        one.step(batch(0.1, false, &device), Loss::Mse, None)
            .unwrap();
        assert_eq!(params(&trainer.model, &device), params(&one.model, &device));

        let mut trainer = Trainer::new(model, Stepper::ngd(config()).unwrap());
        let mut seen = Recorder {
            fail_at: Some(2),
            ..Recorder::default()
        };
        let batches = [0.1, 0.1, 0.1].map(|lr| batch(lr, false, &device));
        let failed = trainer.run(batches, Loss::Mse, &mut seen).unwrap_err();
        assert_eq!((failed.step, trainer.step), (2, 2));
        assert!(
            failed.error.to_string().contains("stop"),
            "{}",
            failed.error
        );
        assert_eq!(seen.events.len(), 2);
    }
}
