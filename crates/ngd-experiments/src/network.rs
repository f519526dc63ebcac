//! The data and network options every experiment shares, with their defaults in one place
//! ([`ngd_train::defaults`]), and the Forster transform of a dataset's inputs.

use crate::Result;
use ngd_core::forster::ForsterReport;
use ngd_data::{DataConfig, Dataset, DatasetName};
use ngd_model::{MlpConfig, MlpShape};
use ngd_optim::Method;
use ngd_train::{TrainConfig, defaults};

/// Data and network of a run: dataset, classes, split sizes, architecture and seed.
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    /// Dataset.
    pub dataset: DatasetName,
    /// Classes by index ("0,7") or, for CIFAR-10, by name.
    pub classes: String,
    /// Training samples N.
    pub n_train: usize,
    /// Test samples N′.
    pub n_test: usize,
    /// Depth L, width M, σ_w², σ_b² and φ.
    pub shape: MlpShape,
    /// Seed of the initial weights.
    pub seed: u64,
}

impl Default for Network {
    fn default() -> Self {
        Self {
            dataset: defaults::DATASET,
            classes: defaults::CLASSES.into(),
            n_train: defaults::N_TRAIN,
            n_test: defaults::N_TEST,
            shape: MlpShape::PAPER,
            seed: defaults::SEED,
        }
    }
}

impl Network {
    /// Loads and preprocesses the data (MATH.md §7).
    pub fn load_data(&self) -> Result<Dataset> {
        let classes = ngd_data::parse_classes(self.dataset, &self.classes)?;
        let cfg = DataConfig {
            dataset: self.dataset,
            classes,
            n_train: self.n_train,
            n_test: self.n_test,
        };
        Ok(ngd_data::load(&cfg)?)
    }

    /// The NTK MLP on `data`'s inputs and outputs.
    pub fn mlp_config(&self, data: &Dataset) -> MlpConfig {
        self.shape.config(data.train.dim, data.outputs)
    }

    /// The full-batch training configuration for `method` on `backend` with the default
    /// learning rate (the method's optimum), damping, loss (MSE) and step count.
    pub fn train_config(&self, data: &Dataset, method: Method, backend: &str) -> TrainConfig {
        TrainConfig {
            dataset: self.dataset.to_string(),
            classes: data.classes.clone(),
            n_train: self.n_train,
            n_test: self.n_test,
            shape: self.shape,
            method,
            lr: None,
            lr_scale: 1.0,
            damping: method.default_damping(self.shape.width),
            sigma: None,
            loss: ngd_optim::Loss::Mse,
            precision: Default::default(),
            damping_convention: Default::default(),
            diagnostics: false,
            forster: false,
            steps: defaults::STEPS,
            seed: self.seed,
            backend: backend.to_string(),
        }
    }
}

/// Forster-transforms the training inputs on their principal span of r dimensions
/// ([`ngd_core::forster::forster`]: Z ← normalise_rows(Z(ZᵀZ)^{-1/2}) until ZᵀZ ≈ (N/r)P,
/// relative deviation 1e-6) and applies the same map to the test inputs, for K-FAC with M_0 < N.
pub fn forster_inputs(data: &mut Dataset) -> Result<ForsterReport> {
    let train = &mut data.train;
    let report = ngd_core::forster::forster(&mut train.x, train.n, train.dim, 1e-6, 2000)?;
    let test = &mut data.test;
    ngd_core::forster::forster_apply(&mut test.x, test.n, test.dim, &report);
    Ok(report)
}
