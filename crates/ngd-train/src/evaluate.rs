//! What every step of a training run is measured against: losses, accuracies and the theory
//! columns fixed at initialisation.

use crate::{DeviceSplit, Result, StepRecord, TestTheory, TheoryLine, TrainConfig, test_theory};
use ngd_data::Dataset;
use ngd_model::{Device, Mlp};
use ngd_optim::Factors;
use ngd_optim::Loss;

/// What every step's record is measured against: the data on the device, the loss and the
/// theory predictions fixed at initialisation.
pub(crate) struct Evaluator<'a> {
    pub(crate) train: &'a DeviceSplit<'a>,
    pub(crate) test: &'a DeviceSplit<'a>,
    pub(crate) theory: Option<TheoryLine>,
    pub(crate) test_theory: TestTheory,
    pub(crate) loss: Loss,
}

impl Evaluator<'_> {
    /// Losses, accuracies and theory columns of `model` after `step` steps.
    pub(crate) fn record(&self, step: usize, model: &Mlp, seconds: f64) -> StepRecord {
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
pub(crate) fn build_test_theory(
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
    let Some(predictor) = test_theory::predictor_for(cfg.method, cfg.shape.depth) else {
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
        cfg.shape.sigma_w2,
        cfg.shape.sigma_b2,
        lr,
        cfg.steps,
    )
    // A predictor that is undefined here (singular Σ or Θ_l(x,x), …) leaves the columns null
    // rather than failing the run.
    .or_else(|_| Ok(TestTheory::none()))
}
