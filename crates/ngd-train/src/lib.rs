//! Parameter-space training with NGD on real data, with the theory line of each step
//! (MATH.md §4) and a run record that serialises to JSON.
//!
//! The library does not print: progress goes to the `on_step` callback.

#![warn(missing_docs)]

mod bench;
pub mod defaults;
mod diagnostics;
mod evaluate;
pub mod fit;
mod record;
pub mod test_theory;
mod theory;

pub use bench::{
    BenchConfig, BenchRecord, PhaseTimes, bench_step, peak_memory_bytes, reset_peak_memory,
};
pub use record::{GateFlips, RunConfig, RunFailure, RunRecord, StepRecord, TrainConfig};
pub use test_theory::TestTheory;
pub use theory::TheoryLine;

use faer::Mat;
use fit::{Batch, Failed, Observer, StepOutcome, Stepper, Trainer};
use ngd_data::{Dataset, Split};
use ngd_model::{Device, Mlp, MlpConfig, Tensor};
use ngd_optim::convert::tensor_from_rows;
use ngd_optim::{Loss, MethodCurvature};

use diagnostics::Diagnostics;
use evaluate::{Evaluator, build_test_theory};

/// Errors of a training run.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Invalid network configuration.
    #[error(transparent)]
    Model(#[from] ngd_model::ModelError),
    /// Invalid method or damping.
    #[error(transparent)]
    Method(#[from] ngd_optim::MethodError),
    /// A direction could not be computed.
    #[error(transparent)]
    Optim(#[from] ngd_optim::OptimError),
    /// The loss became NaN or infinite.
    #[error(
        "training diverged: train loss is {loss} after step {step} (method {method}, lr {lr:.4e}, \
         damping {damping})"
    )]
    Diverged {
        /// The step after which the loss was not finite.
        step: usize,
        /// The loss.
        loss: f64,
        /// The method's name.
        method: String,
        /// The learning rate.
        lr: f64,
        /// The damping ρ.
        damping: f64,
    },
    /// A first-order optimizer's batch loss was NaN or infinite (its state is unchanged).
    #[error("the batch loss is {loss}")]
    NonFiniteLoss {
        /// The loss.
        loss: f64,
    },
    /// A checkpoint could not be written, read or matched to the model.
    #[error("checkpoint {}: {message}", path.display())]
    Checkpoint {
        /// The checkpoint's file.
        path: std::path::PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Invalid options (learning rate, step count, batch size, configuration keys …).
    #[error("{0}")]
    Invalid(String),
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, TrainError>;

/// Data of one split on the device.
pub struct DeviceSplit<'a> {
    /// The preprocessed split.
    pub split: &'a Split,
    /// Its inputs, N × M_0, on the device.
    pub x: Tensor<2>,
}

impl<'a> DeviceSplit<'a> {
    /// Uploads the inputs of `split` to `device`.
    pub fn new(split: &'a Split, device: &Device) -> Self {
        let x = tensor_from_rows(&split.x, split.n, split.dim, device);
        Self { split, x }
    }

    /// The split's targets y (N × C) on the inputs' device, as the optimizer's step takes them.
    pub fn targets(&self) -> Tensor<2> {
        let s = self.split;
        tensor_from_rows(&s.y, s.n, s.outputs(), &self.x.device())
    }

    /// f(x) of `model` on this split (N × C, row-major).
    pub fn outputs(&self, model: &Mlp) -> Vec<f64> {
        ngd_optim::convert::tensor_to_rows(model.forward(self.x.clone()))
    }
}

/// Residual e = f − y, class-major (e[c·N + n]), from row-major outputs f (N × C).
pub fn residual(outputs: &Mat<f64>, split: &Split) -> Vec<f64> {
    let (n, c_out) = (outputs.nrows(), outputs.ncols());
    let mut e = vec![0.0; n * c_out];
    for c in 0..c_out {
        for i in 0..n {
            e[c * n + i] = outputs[(i, c)] - split.y[i * c_out + c];
        }
    }
    e
}

/// The network configuration a training run uses.
pub fn network_config(cfg: &TrainConfig, data: &Dataset) -> MlpConfig {
    cfg.shape.config(data.train.dim, data.outputs)
}

/// Trains per `cfg` on `data`, calling `on_step` after the initial evaluation and each step.
/// A step that fails (non-finite loss, a direction that cannot be computed) is an error; see
/// [`train_until_failure`] to keep the steps before it.
pub fn train(
    cfg: &TrainConfig,
    data: &Dataset,
    device: &Device,
    on_step: &mut dyn FnMut(&StepRecord),
) -> Result<RunRecord> {
    match train_until_failure(cfg, data, device, on_step)? {
        (record, None) => Ok(record),
        (_, Some(failure)) => Err(failure),
    }
}

/// [`train`] that keeps the record of a run whose step t fails: steps 0..t−1, with
/// [`RunRecord::failure`] set, and the step's error. Errors before step 0 (configuration,
/// learning rate) are returned as `Err`.
pub fn train_until_failure(
    cfg: &TrainConfig,
    data: &Dataset,
    device: &Device,
    on_step: &mut dyn FnMut(&StepRecord),
) -> Result<(RunRecord, Option<TrainError>)> {
    cfg.validate()?;
    let model = network_config(cfg, data).init(cfg.seed, device)?;
    let train = DeviceSplit::new(&data.train, device);
    let test = DeviceSplit::new(&data.test, device);
    let targets = train.targets();
    let ngd_config = cfg.ngd_config(cfg.method);
    let curvature = ngd_config.dual_curvature(cfg.damping)?;

    let factors = model.factors(train.x.clone());
    let lr = match cfg.lr {
        Some(lr) => lr,
        None => cfg.lr_scale * cfg.method.optimal_lr(curvature.as_ref(), &factors)?,
    };
    let alpha = curvature.alpha(&factors);
    let e0 = residual(&factors.outputs, &data.train);
    // The theory line (eq. 10) is the MSE one: eq. (5) for GD, (1 − αη)^{2t} for methods
    // whose Θ̄ = αI holds in theory. Cross-entropy runs, the entry-wise (non-isotropic)
    // Fishers and layer-wise Σ without α (L = 3s+2) have none.
    let theory = match (cfg.loss, cfg.method.has_theory_line(), alpha) {
        (Loss::Mse, true, _) if cfg.method == ngd_optim::Method::Gd => {
            Some(TheoryLine::new(&factors, &e0, None, lr)?)
        }
        (Loss::Mse, true, Some(alpha)) => Some(TheoryLine::new(&factors, &e0, Some(alpha), lr)?),
        _ => None,
    };
    let test_theory = build_test_theory(cfg, data, &model, &factors, &test, lr, device)?;

    let mut record = RunRecord::new(cfg.clone(), data, alpha, lr);
    let evaluator = Evaluator {
        train: &train,
        test: &test,
        theory,
        test_theory,
        loss: cfg.loss,
    };
    let first = evaluator.record(0, &model, 0.0);
    on_step(&first);
    record.steps.push(first);

    let diagnostics = cfg.diagnostics.then(|| {
        let relu = cfg.shape.activation == ngd_model::Activation::Relu;
        Diagnostics::new(&model, &train, relu, cfg.loss)
    });
    drop(factors);
    // Every step is the trainer's (the mini-batch trainer's too) on the one unshuffled batch.
    let mut trainer = Trainer::new(model, Stepper::ngd(ngd_config.with_lr(Some(lr)))?);
    let batches = (0..cfg.steps).map(|_| Batch {
        x: train.x.clone(),
        y: targets.clone(),
        lr,
    });
    let mut watch = FullBatchWatch {
        cfg,
        train: &train,
        evaluator,
        diagnostics,
        diagnosis: None,
        record: &mut record,
        on_step,
    };
    let failure = trainer.run(batches, cfg.loss, &mut watch).err();
    Ok(match failure {
        None => (record, None),
        Some(Failed { step, error }) => {
            record.failure = Some(RunFailure {
                step: step as usize,
                error: error.to_string(),
            });
            (record, Some(error))
        }
    })
}

/// The full-batch run's observer: evaluates θ_t after every step against the theory lines,
/// diagnoses the step when asked and ends the run at a non-finite training loss.
struct FullBatchWatch<'a> {
    cfg: &'a TrainConfig,
    train: &'a DeviceSplit<'a>,
    evaluator: Evaluator<'a>,
    diagnostics: Option<Diagnostics>,
    /// What the diagnostics measured of the step before its update.
    diagnosis: Option<diagnostics::Diagnosis>,
    record: &'a mut RunRecord,
    on_step: &'a mut dyn FnMut(&StepRecord),
}

impl Observer<Mlp> for FullBatchWatch<'_> {
    fn wants_dual(&self) -> bool {
        self.diagnostics.is_some()
    }

    fn dual(&mut self, model: &Mlp, view: &ngd_optim::DualView<'_>) {
        if let Some(d) = &self.diagnostics {
            self.diagnosis = Some(d.observe(model, view, self.train.split));
        }
    }

    fn stepped(&mut self, trainer: &Trainer<Mlp>, _: &StepOutcome, seconds: f64) -> Result<()> {
        let (step, model) = (trainer.step as usize, &trainer.model);
        let mut rec = self.evaluator.record(step, model, seconds);
        if let (Some(d), Some(diagnosis)) = (self.diagnostics.as_mut(), self.diagnosis.take()) {
            d.finish(&mut rec, diagnosis, model, self.train);
        }
        if !rec.train_loss.is_finite() {
            return Err(TrainError::Diverged {
                step,
                loss: rec.train_loss,
                method: self.cfg.method.to_string(),
                lr: self.record.lr,
                damping: self.cfg.damping,
            });
        }
        (self.on_step)(&rec);
        self.record.steps.push(rec);
        Ok(())
    }
}
