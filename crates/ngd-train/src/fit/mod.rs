//! Mini-batch training on whole datasets (MNIST, CIFAR-10): every NGD method and burn's SGD,
//! Adam and AdamW on the same model, data order and pipeline, measured as time to accuracy —
//! the crate's MLP ([`fit`], as `ngd train --batch-size` builds it) or a user's own burn module
//! ([`fit_model`], any [`Trainable`]), with the same checkpoints, resume and evaluation.
//!
//! The data come from [`ngd_data::load_holdout`] (validation held out, all splits standardised
//! with the training statistics). Each epoch visits the training images in a fresh order drawn
//! from (seed, epoch) in ⌊N/B⌋ full batches; the model is evaluated on the validation and test
//! splits (chunked forward passes) at step 0 and `evals_per_epoch` times per epoch, with the
//! evaluation time kept out of the training time. A checkpoint after each epoch lets a run be
//! resumed with the same numbers as an uninterrupted one.

mod batch;
mod checkpoint;
mod checks;
mod config;
mod eval;
mod flops;
mod keys;
mod muon;
mod network;
mod optimizer;
mod record;
mod stepper;
mod summary;
mod sweep;
mod timing;
mod trainer;
mod watch;

pub use batch::{BatchPoint, batch_markdown, batch_points, sweep_markdown};
pub use checkpoint::{
    Loaded, Progress, load as load_checkpoint, load_model as load_model_checkpoint,
};
pub use checks::{check, check_memory};
pub use config::{
    DataSpec, FitConfig, ModelSpec, OptimizerKind, OptimizerSpec, Schedule, ScheduleSpec,
    curvature_bytes, default_lr,
};
pub use eval::{augmented_batch, batch, evaluate, loss_tensor};
pub use flops::{PhaseFlops, device_gemm_gflops, host_gemm_gflops, mlp_layers, step_flops};
pub use keys::{FLAT_KEYS, key_path, overlay};
pub use muon::{MatrixMuon, muon_optimizer};
pub use network::{build_classifier, classifier_config, network_config};
pub use record::{DataSummary, Evaluation, FitRecord, Status};
pub use stepper::{StepOutcome, Stepper};
pub use summary::{Spread, Summary, SummaryRow, markdown, summarize};
pub use sweep::{
    Contender, Selection, SweepConfig, SweepEvent, SweepRecord, TuneResult, run_sweep,
};
pub use timing::{StepTiming, time_steps};
pub use trainer::{Batch, Failed, Observer, Trainer};

use crate::Result;
use burn::module::Module;
use burn::tensor::Device;
use ngd_data::Holdout;
use ngd_model::ClassifierConfig;
use ngd_optim::PhaseTimes;
use rand::seq::SliceRandom;
use std::path::PathBuf;
use std::time::Instant;

/// Rows per forward pass when evaluating.
const EVAL_CHUNK: usize = 1000;

/// Where to save and from where to resume.
#[derive(Debug, Clone, Default)]
pub struct FitOptions {
    /// Write a checkpoint here after every epoch.
    pub save: Option<PathBuf>,
    /// Continue the run saved here (same configuration; `epochs` may grow).
    pub resume: Option<PathBuf>,
}

/// What [`fit`] reports while it runs.
#[derive(Debug, Clone, Copy)]
pub enum FitEvent<'a> {
    /// A step was taken.
    Step {
        /// Epoch (0-based).
        epoch: usize,
        /// Steps taken so far.
        step: u64,
        /// Steps of the whole run.
        total: u64,
        /// The batch loss.
        loss: f64,
        /// The learning rate used.
        lr: f64,
    },
    /// An evaluation was made.
    Evaluation(&'a Evaluation),
    /// A checkpoint was written.
    Saved(&'a std::path::Path),
}

/// A model the trainer can train: a burn module whose forward pass goes through NGD's
/// [`ngd_optim::Tap`] ([`ngd_optim::FactoredModel`]), taking rows of flattened inputs.
pub trait Trainable: ngd_optim::FactoredModel + Module + Clone {}

impl<M: ngd_optim::FactoredModel + Module + Clone> Trainable for M {}

/// The order of the training images in `epoch`: a permutation drawn from (seed, epoch) alone,
/// so that a resumed run visits the same batches (its own stream of the seed,
/// [`ngd_optim::Stream::Shuffle`]).
pub fn epoch_order(n: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut rng = ngd_optim::Stream::Shuffle(epoch as u64).rng(seed);
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rng);
    order
}

/// The running state of a fit.
struct Run<M> {
    trainer: Trainer<M>,
    record: FitRecord,
    epochs_done: usize,
}

/// Trains the crate's MLP or CNN (`cfg.model.arch`; shape from `cfg` and the data, initialised from
/// its seed) per `cfg` on `data`, calling `on_event` as it goes. A failing step ends the run
/// with [`Status::Failed`] and the record so far (the last checkpoint stays as it was).
pub fn fit(
    cfg: &FitConfig,
    data: &Holdout,
    device: &Device,
    options: &FitOptions,
    on_event: &mut dyn FnMut(FitEvent),
) -> Result<FitRecord> {
    check(cfg, data)?;
    let network = classifier_config(cfg, data);
    let model = build_classifier(&network, cfg.seed, &device.clone().autodiff())?;
    train(model, Some(network), cfg, data, device, options, on_event)
}

/// Trains a user's own `model` (its parameters as given; `cfg`'s network options are not used)
/// per `cfg` on `data`: the same loop, evaluations, checkpoints and resume as [`fit`]. On
/// resume the checkpoint's parameters replace `model`'s.
pub fn fit_model<M: Trainable>(
    model: M,
    cfg: &FitConfig,
    data: &Holdout,
    device: &Device,
    options: &FitOptions,
    on_event: &mut dyn FnMut(FitEvent),
) -> Result<FitRecord> {
    cfg.validate()?;
    checks::check_batch(cfg, data)?;
    train(model, None, cfg, data, device, options, on_event)
}

/// The loop behind [`fit`] and [`fit_model`].
fn train<M: Trainable>(
    model: M,
    network: Option<ClassifierConfig>,
    cfg: &FitConfig,
    data: &Holdout,
    device: &Device,
    options: &FitOptions,
    on_event: &mut dyn FnMut(FitEvent),
) -> Result<FitRecord> {
    let device = device.clone().autodiff();
    let mut run = match &options.resume {
        Some(path) => checkpoint::resume(cfg, path, model, &device)?,
        None => {
            let stepper = Stepper::new(cfg, &model)?;
            Run {
                record: new_record(cfg, data, model.num_params()),
                trainer: Trainer::new(model, stepper),
                epochs_done: 0,
            }
        }
    };
    let spe = run.record.steps_per_epoch;
    let total = (cfg.schedule.epochs * spe) as u64;
    let checkpoints: Vec<u64> = (1..=cfg.schedule.evals_per_epoch)
        .map(|k| (k * spe / cfg.schedule.evals_per_epoch).max(1) as u64)
        .collect();
    if run.record.evaluations.is_empty() {
        let first = evaluation_of(&run.trainer, &mut run.record, cfg, data, &device, None);
        on_event(FitEvent::Evaluation(&first));
        run.record.evaluations.push(first);
    }
    for epoch in run.epochs_done..cfg.schedule.epochs {
        let order = epoch_order(data.train.n, cfg.seed, epoch);
        let first_step = run.trainer.step;
        let batches = order
            .chunks_exact(cfg.schedule.batch_size)
            .enumerate()
            .map(|(i, idx)| {
                let step = first_step + i as u64;
                let lr =
                    cfg.schedule
                        .lr
                        .lr(cfg.optimizer.lr, step, total, cfg.schedule.warmup_steps);
                let (x, y) = augmented_batch(
                    &data.train,
                    idx,
                    data.classes,
                    &device,
                    (cfg.data.augment, data.image),
                    (cfg.seed, step),
                );
                Batch { x, y, lr }
            });
        let mut watch = watch::EpochWatch {
            record: &mut run.record,
            cfg,
            data,
            device: &device,
            on_event: &mut *on_event,
            epoch,
            first_step,
            total,
            checkpoints: &checkpoints,
            losses: (0.0, 0),
        };
        if let Err(failed) = run.trainer.run(batches, cfg.loss, &mut watch) {
            run.record.status = Status::Failed {
                step: failed.step,
                error: failed.error.to_string(),
            };
            return Ok(snapshot(&run));
        }
        run.epochs_done = epoch + 1;
        if let Some(path) = &options.save {
            let progress = Progress {
                epochs_done: run.epochs_done,
                step: run.trainer.step,
                train_seconds: run.trainer.train_seconds,
                network: match &network {
                    Some(ClassifierConfig::Mlp(c)) => Some(c.clone()),
                    _ => None,
                },
                cnn: match &network {
                    Some(ClassifierConfig::Cnn(c)) => Some(*c),
                    _ => None,
                },
                record: snapshot(&run),
            };
            checkpoint::save(path, &run.trainer.model, &run.trainer.stepper, &progress)?;
            on_event(FitEvent::Saved(path));
        }
    }
    Ok(snapshot(&run))
}

/// The record with its totals filled in.
fn snapshot<M>(run: &Run<M>) -> FitRecord {
    let mut record = run.record.clone();
    record.steps = run.trainer.step;
    record.train_seconds = run.trainer.train_seconds;
    record.phase_seconds = run.trainer.phase_seconds;
    record.peak_memory_bytes = crate::peak_memory_bytes();
    record
}

fn new_record(cfg: &FitConfig, data: &Holdout, parameters: usize) -> FitRecord {
    FitRecord {
        config: cfg.clone(),
        data: DataSummary {
            train: data.train.n,
            validation: data.validation.n,
            test: data.test.n,
            mean: data.mean,
            std: data.std,
            source: data.source.clone(),
        },
        parameters,
        steps_per_epoch: data.train.n / cfg.schedule.batch_size,
        evaluations: Vec::new(),
        phase_seconds: PhaseTimes::default(),
        steps: 0,
        train_seconds: 0.0,
        eval_seconds: 0.0,
        peak_memory_bytes: None,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        status: Status::Complete,
    }
}

/// Evaluates the model on validation and test (timed apart from training).
fn evaluation_of<M: Trainable>(
    trainer: &Trainer<M>,
    record: &mut FitRecord,
    cfg: &FitConfig,
    data: &Holdout,
    device: &Device,
    train_loss: Option<f64>,
) -> Evaluation {
    let start = Instant::now();
    let (val_loss, val_accuracy) = if data.validation.n > 0 {
        let (l, a) = evaluate(
            &trainer.model,
            &data.validation,
            data.classes,
            cfg.loss,
            EVAL_CHUNK,
            device,
        );
        (Some(l), Some(a))
    } else {
        (None, None)
    };
    let (test_loss, test_accuracy) = evaluate(
        &trainer.model,
        &data.test,
        data.classes,
        cfg.loss,
        EVAL_CHUNK,
        device,
    );
    record.eval_seconds += start.elapsed().as_secs_f64();
    Evaluation {
        epoch: trainer.step as f64 / record.steps_per_epoch.max(1) as f64,
        step: trainer.step,
        seconds: trainer.train_seconds,
        train_loss,
        val_loss,
        val_accuracy,
        test_loss,
        test_accuracy,
        damping: match &trainer.stepper {
            Stepper::Ngd(ngd) => Some(ngd.damping()),
            Stepper::Burn(_) => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ngd_optim::Method;

    /// Exact NGD at batch 256 with 10 outputs fits in 8 GiB; at batch 4096 its 40960² Gram
    /// (three copies: 40 GB) does not, and the refusal states the estimate; K-FAC's factors do
    /// not grow with the batch's square.
    #[test]
    fn exact_ngd_beyond_memory_is_refused_with_the_estimate() {
        let widths = [784, 1024, 1024, 10];
        let available = 8 << 30;
        check_memory(Method::Exact, 256, &widths, available).unwrap();
        let err = check_memory(Method::Exact, 4096, &widths, available)
            .unwrap_err()
            .to_string();
        assert!(err.contains("needs about 41.2 GB"), "{err}");
        assert!(err.contains("8.6 GB available"), "{err}");
        check_memory(Method::Kfac, 4096, &widths, available).unwrap();
    }

    #[test]
    fn epoch_orders_are_permutations_that_differ_by_epoch_and_seed() {
        let a = epoch_order(100, 0, 0);
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        assert_ne!(a, epoch_order(100, 0, 1));
        assert_ne!(a, epoch_order(100, 1, 0));
        assert_eq!(a, epoch_order(100, 0, 0));
    }
}
