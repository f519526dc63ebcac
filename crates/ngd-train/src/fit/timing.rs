//! The cost of a mini-batch step ([`time_steps`]): the trainer's own step ([`Trainer::step`]) on the
//! run's network and data, over enough steps to amortise K-FAC's intervals, split by phase
//! (`ngd bench --batch-size`).

use super::{
    Batch, FitConfig, Stepper, Trainable, Trainer, batch, build_classifier, classifier_config,
    epoch_order,
};
use crate::{Result, TrainError};
use burn::tensor::Device;
use ngd_data::Holdout;
use ngd_optim::PhaseTimes;
use serde::{Deserialize, Serialize};

/// The measured cost of the steps of one run configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepTiming {
    /// The optimizer.
    pub optimizer: String,
    /// The configuration timed.
    #[serde(deserialize_with = "FitConfig::deserialize_any")]
    pub config: FitConfig,
    /// Steps timed (after one warm-up step).
    pub steps: usize,
    /// Mean milliseconds per step (wall time of the step, the batch's upload excluded).
    pub ms_per_step: f64,
    /// Mean milliseconds per step in each phase.
    pub ms_per_phase: PhaseTimes,
    /// Every timed step's milliseconds.
    pub step_ms: Vec<f64>,
    /// Peak resident memory of the process (bytes; Linux only).
    pub peak_memory_bytes: Option<u64>,
}

/// Times `steps` consecutive training steps of `cfg`'s network and optimizer on the first
/// batches of its epoch-0 order, after one warm-up step (not timed). Take `steps` a multiple of
/// K-FAC's intervals so that statistics and inversions are counted at their rate.
pub fn time_steps(
    cfg: &FitConfig,
    data: &Holdout,
    device: &Device,
    steps: usize,
) -> Result<StepTiming> {
    super::check(cfg, data)?;
    let device = device.clone().autodiff();
    let network = classifier_config(cfg, data);
    let model = build_classifier(&network, cfg.seed, &device)?;
    time_model(model, cfg, data, &device, steps)
}

fn time_model<M: Trainable>(
    model: M,
    cfg: &FitConfig,
    data: &Holdout,
    device: &Device,
    steps: usize,
) -> Result<StepTiming> {
    let stepper = Stepper::new(cfg, &model)?;
    let mut trainer = Trainer::new(model, stepper);
    let order = epoch_order(data.train.n, cfg.seed, 0);
    let batches: Vec<&[usize]> = order.chunks_exact(cfg.schedule.batch_size).collect();
    if batches.is_empty() || steps == 0 {
        return Err(TrainError::Invalid(
            "timing needs at least one step and one full batch".into(),
        ));
    }
    let mut step_ms = Vec::with_capacity(steps);
    for s in 0..=steps {
        let (x, y) = batch(
            &data.train,
            batches[s % batches.len()],
            data.classes,
            device,
        );
        let lr = cfg.optimizer.lr;
        let (_, elapsed) = trainer.step(Batch { x, y, lr }, cfg.loss, None)?;
        if s == 0 {
            // The warm-up step is not timed.
            trainer.phase_seconds = PhaseTimes::default();
        } else {
            step_ms.push(1e3 * elapsed);
        }
    }
    let total = trainer.phase_seconds;
    let per = |v: f64| 1e3 * v / steps as f64;
    Ok(StepTiming {
        optimizer: cfg.optimizer.name.to_string(),
        config: cfg.clone(),
        steps,
        ms_per_step: step_ms.iter().sum::<f64>() / steps as f64,
        ms_per_phase: PhaseTimes {
            forward_backward: per(total.forward_backward),
            curvature: per(total.curvature),
            inversion: per(total.inversion),
            update: per(total.update),
        },
        step_ms,
        peak_memory_bytes: crate::peak_memory_bytes(),
    })
}
