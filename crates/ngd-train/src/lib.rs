//! Parameter-space training with NGD on real data, with the theory line of each step
//! (MATH.md §4) and a run record that serialises to JSON.
//!
//! The library does not print: progress goes to the `on_step` callback.

#![warn(missing_docs)]

mod bench;
pub mod defaults;
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
use ngd_data::{Dataset, Split};
use ngd_model::{Device, Factors, Mlp, MlpConfig, Tensor, tensor_from_rows};
use ngd_optim::{Curvature, Loss, MethodCurvature};
use std::time::Instant;

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
    /// Invalid learning rate or step count.
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

    /// f(x) of `model` on this split (N × C, row-major).
    pub fn outputs(&self, model: &Mlp) -> Vec<f64> {
        ngd_model::tensor_to_rows(model.forward(self.x.clone()))
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
    MlpConfig::new(data.train.dim, cfg.width, cfg.depth, data.outputs)
        .with_variances(cfg.sigma_w2, cfg.sigma_b2)
        .with_activation(cfg.activation)
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
    let mut model = network_config(cfg, data).init(cfg.seed, device)?;
    let train = DeviceSplit::new(&data.train, device);
    let test = DeviceSplit::new(&data.test, device);
    let dual = ngd_optim::DualSolve {
        precision: cfg.precision,
        convention: cfg.damping_convention,
    };
    let curvature =
        cfg.method
            .curvature_dual(cfg.damping, cfg.sigma_matrix().as_ref(), cfg.loss, dual)?;

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

    let mut diagnostics = cfg.diagnostics.then(|| {
        let relu = cfg.activation == ngd_model::Activation::Relu;
        Diagnostics::new(&model, &train, relu, cfg.loss)
    });
    let mut factors = Some(factors);
    for step in 1..=cfg.steps {
        let start = Instant::now();
        let f = factors
            .take()
            .unwrap_or_else(|| model.factors(train.x.clone()));
        let outcome = match diagnostics.as_mut() {
            Some(d) => d
                .step(&mut model, curvature.as_ref(), &f, &data.train, lr)
                .map(Some),
            None => take_loss_step(
                &mut model,
                curvature.as_ref(),
                &f,
                &data.train,
                lr,
                cfg.loss,
            )
            .map(|()| None),
        };
        let checked = outcome.and_then(|diagnosis| {
            let seconds = start.elapsed().as_secs_f64();
            let mut rec = evaluator.record(step, &model, seconds);
            if let (Some(d), Some(diagnosis)) = (diagnostics.as_mut(), diagnosis) {
                d.finish(&mut rec, diagnosis, &model, &train);
            }
            if rec.train_loss.is_finite() {
                Ok(rec)
            } else {
                Err(TrainError::Diverged {
                    step,
                    loss: rec.train_loss,
                    method: cfg.method.to_string(),
                    lr,
                    damping: cfg.damping,
                })
            }
        });
        match checked {
            Ok(rec) => {
                on_step(&rec);
                record.steps.push(rec);
            }
            Err(failure) => {
                record.failure = Some(RunFailure {
                    step,
                    error: failure.to_string(),
                });
                return Ok((record, Some(failure)));
            }
        }
    }
    Ok((record, None))
}

/// One update θ ← θ − η Δθ with the method's direction at the current factors.
pub fn take_step(
    model: &mut Mlp,
    curvature: &dyn Curvature,
    factors: &Factors,
    train: &Split,
    lr: f64,
) -> Result<()> {
    take_loss_step(model, curvature, factors, train, lr, Loss::Mse)
}

/// One update for `loss`: the direction of the output gradient g = N∂L/∂f (e = f − y for MSE).
pub fn take_loss_step(
    model: &mut Mlp,
    curvature: &dyn Curvature,
    factors: &Factors,
    train: &Split,
    lr: f64,
    loss: Loss,
) -> Result<()> {
    let g = loss.output_gradient(&factors.outputs, &train.y);
    let direction = curvature.direction(factors, &g)?;
    direction.apply(model, factors, lr);
    Ok(())
}

/// What a diagnosed step measured before the evaluation of θ_t.
struct Diagnosis {
    /// ‖ηΔθ_l‖_F/‖W_l‖_F per layer.
    relative: Vec<f64>,
    /// The dual solve's null component (layer-wise methods).
    null: Option<f64>,
    /// L(f_{t−1} − ηJΔθ).
    linearised: f64,
}

/// Per-step diagnostics of a run (`TrainConfig::diagnostics`): step sizes, the dual solve's
/// null component, the first-order prediction of each step and, for ReLU, the gates it
/// switches and the loss with the gates frozen at initialisation.
struct Diagnostics {
    /// ReLU gates at initialisation and after the previous step (ReLU only).
    gates: Option<(Vec<Tensor<2>>, Vec<Tensor<2>>)>,
    /// The training loss.
    loss: Loss,
}

impl Diagnostics {
    fn new(model: &Mlp, train: &DeviceSplit, relu: bool, loss: Loss) -> Self {
        let gates = relu.then(|| {
            let g = model.relu_gates(train.x.clone());
            (g.clone(), g)
        });
        Self { gates, loss }
    }

    /// [`take_loss_step`] that also measures ‖ηΔθ_l‖_F/‖W_l‖_F per layer (W_l before the step;
    /// ‖Δθ_l‖²_F = tr(Rᵀh̃h̃ᵀR) for dual coefficients R), the dual solve's null component and
    /// the loss of f − ηJΔθ.
    fn step(
        &mut self,
        model: &mut Mlp,
        curvature: &dyn Curvature,
        factors: &Factors,
        train: &Split,
        lr: f64,
    ) -> Result<Diagnosis> {
        let loss = self.loss;
        let g = loss.output_gradient(&factors.outputs, &train.y);
        let (direction, dual) = curvature.direction_with_diagnostics(factors, &g)?;
        let relative = direction
            .layers
            .iter()
            .enumerate()
            .map(|(l, step)| {
                let norm2 = match step {
                    ngd_optim::LayerStep::Coefficients(r) => {
                        let hr = factors.layers[l].input_gram() * r;
                        (0..r.nrows())
                            .flat_map(|i| (0..r.ncols()).map(move |j| (i, j)))
                            .map(|(i, j)| hr[(i, j)] * r[(i, j)])
                            .sum::<f64>()
                    }
                    ngd_optim::LayerStep::Dense(s) => s.squared_norm_l2(),
                };
                let w = ngd_model::tensor_to_mat(model.weights[l].val());
                lr * norm2.max(0.0).sqrt() / w.norm_l2()
            })
            .collect();
        // J Δθ is class-major (c·N + n); the outputs are row-major N × C.
        let jd = ngd_optim::function_step(factors, &direction);
        let (n, c_out) = (factors.samples(), factors.outputs_dim());
        let linear: Vec<f64> = (0..n * c_out)
            .map(|k| factors.outputs[(k / c_out, k % c_out)] - lr * jd[(k % c_out) * n + k / c_out])
            .collect();
        direction.apply(model, factors, lr);
        Ok(Diagnosis {
            relative,
            null: dual.map(|d| d.null_component),
            linearised: loss.value(&linear, &train.y, c_out),
        })
    }

    /// Fills the diagnostic fields of θ_t's record: those of `diagnosis`, and for ReLU the
    /// gates switched since θ_{t−1} and the loss with the gates of θ_0.
    fn finish(
        &mut self,
        rec: &mut StepRecord,
        diagnosis: Diagnosis,
        model: &Mlp,
        train: &DeviceSplit,
    ) {
        rec.relative_step = Some(diagnosis.relative);
        rec.null_component = diagnosis.null;
        rec.linearised_loss = Some(diagnosis.linearised);
        let Some((initial, previous)) = self.gates.as_mut() else {
            return;
        };
        let now = model.relu_gates(train.x.clone());
        let fraction = |t: Tensor<2>| {
            let total = t.dims().iter().product::<usize>() as f64;
            f64::from(t.sum().into_scalar::<f32>()) / total
        };
        rec.gate_flips = Some(
            now.iter()
                .zip(previous.iter())
                .map(|(m, p)| GateFlips {
                    on: fraction((m.clone() - p.clone()).clamp_min(0.0)),
                    off: fraction((p.clone() - m.clone()).clamp_min(0.0)),
                })
                .collect(),
        );
        let frozen = ngd_model::tensor_to_rows(model.forward_gated(train.x.clone(), initial));
        let split = train.split;
        rec.frozen_gate_loss = Some(self.loss.value(&frozen, &split.y, split.outputs()));
        *previous = now;
    }
}

/// What every step's record is measured against: the data on the device, the loss and the
/// theory predictions fixed at initialisation.
struct Evaluator<'a> {
    train: &'a DeviceSplit<'a>,
    test: &'a DeviceSplit<'a>,
    theory: Option<TheoryLine>,
    test_theory: TestTheory,
    loss: Loss,
}

impl Evaluator<'_> {
    /// Losses, accuracies and theory columns of `model` after `step` steps.
    fn record(&self, step: usize, model: &Mlp, seconds: f64) -> StepRecord {
        let (train, test, loss) = (self.train, self.test, self.loss);
        let (theory_test_loss, theory_test_accuracy) = self.test_theory.at(step);
        let f_train = train.outputs(model);
        let f_test = test.outputs(model);
        StepRecord {
            step,
            train_loss: loss.value(&f_train, &train.split.y, train.split.outputs()),
            train_accuracy: ngd_data::accuracy(&f_train, train.split),
            test_loss: loss.value(&f_test, &test.split.y, test.split.outputs()),
            test_accuracy: ngd_data::accuracy(&f_test, test.split),
            theory_train_loss: self.theory.as_ref().map(|t| t.train_loss(step)),
            theory_test_loss,
            theory_test_accuracy,
            seconds,
            relative_step: None,
            null_component: None,
            linearised_loss: None,
            frozen_gate_loss: None,
            gate_flips: None,
        }
    }
}

/// The test-set theory columns of a run ([`TestTheory`]); empty for methods without a
/// function-space predictor, for non-MSE losses and where the predictor is undefined.
fn build_test_theory(
    cfg: &TrainConfig,
    data: &Dataset,
    model: &Mlp,
    factors: &Factors,
    test: &DeviceSplit,
    lr: f64,
    device: &Device,
) -> Result<TestTheory> {
    if cfg.loss != Loss::Mse {
        return Ok(TestTheory::none());
    }
    let Some(predictor) = test_theory::predictor_for(cfg.method, cfg.depth) else {
        return Ok(TestTheory::none());
    };
    let test_factors = test_theory::split_factors(model, test.split, 1000, device);
    TestTheory::new(
        &predictor,
        &factors.layers,
        &test_factors,
        &factors.outputs,
        &data.train,
        &data.test,
        cfg.sigma_w2,
        cfg.sigma_b2,
        lr,
        cfg.steps,
    )
    // A predictor that is undefined here (singular Σ or Θ_l(x,x), …) leaves the columns null
    // rather than failing the run.
    .or_else(|_| Ok(TestTheory::none()))
}
