//! The mini-batch trainer's observer of an epoch: progress events and the evaluations at the
//! epoch's evaluation points.

use super::{
    FitConfig, FitEvent, FitRecord, Observer, StepOutcome, Trainable, Trainer, evaluation_of,
};
use crate::Result;
use burn::tensor::Device;
use ngd_data::Holdout;

/// The mini-batch trainer's observer over one epoch: reports each step and evaluates at the
/// epoch's evaluation points.
pub(super) struct EpochWatch<'a> {
    pub(super) record: &'a mut FitRecord,
    pub(super) cfg: &'a FitConfig,
    pub(super) data: &'a Holdout,
    pub(super) device: &'a Device,
    pub(super) on_event: &'a mut dyn FnMut(FitEvent),
    pub(super) epoch: usize,
    /// Steps taken before the epoch.
    pub(super) first_step: u64,
    pub(super) total: u64,
    /// Steps into the epoch after which to evaluate.
    pub(super) checkpoints: &'a [u64],
    /// The batch losses since the last evaluation: their sum and count.
    pub(super) losses: (f64, usize),
}

impl<M: Trainable> Observer<M> for EpochWatch<'_> {
    fn stepped(&mut self, trainer: &Trainer<M>, outcome: &StepOutcome, _: f64) -> Result<()> {
        self.losses = (self.losses.0 + outcome.loss, self.losses.1 + 1);
        (self.on_event)(FitEvent::Step {
            epoch: self.epoch,
            step: trainer.step,
            total: self.total,
            loss: outcome.loss,
            lr: outcome.lr,
        });
        let into = trainer.step - self.first_step;
        if self.checkpoints.contains(&into) {
            let spe = self.record.steps_per_epoch;
            let mean = self.losses.0 / self.losses.1 as f64;
            let (cfg, data, device) = (self.cfg, self.data, self.device);
            let mut e = evaluation_of(trainer, self.record, cfg, data, device, Some(mean));
            e.epoch = self.epoch as f64 + into as f64 / spe as f64;
            (self.on_event)(FitEvent::Evaluation(&e));
            self.record.evaluations.push(e);
            self.losses = (0.0, 0);
        }
        Ok(())
    }
}
