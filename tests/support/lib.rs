//! Helpers shared by the integration tests: the paper's MNIST '0' vs '7' setting and the
//! small 10-class hold-out of the mini-batch tests.

use ngd_data::{DataConfig, Dataset, DatasetName, Holdout};
use ngd_model::Device;
use ngd_train::TrainConfig;

/// The test device: burn's default CPU backend (no backend is named below the CLI).
pub fn device() -> Device {
    Device::default()
}

/// 10-class MNIST for the mini-batch tests: 2,000 training images (the last 200 held out for
/// validation) and 1,000 test images.
pub fn mnist_holdout() -> Holdout {
    let cfg = DataConfig {
        dataset: DatasetName::Mnist,
        classes: (0..10).collect(),
        n_train: 2000,
        n_test: 1000,
    };
    ngd_data::load_holdout(&cfg, 200).unwrap_or_else(|e| {
        panic!("MNIST is needed by the integration tests: {e}\n(run `bash datasets/install.sh mnist ../shared/datasets/mnist`)")
    })
}

/// MNIST '0' vs '7' with N train and N′ test samples (MATH.md §7).
pub fn mnist_0_vs_7(n_train: usize, n_test: usize) -> Dataset {
    let cfg = DataConfig {
        dataset: DatasetName::Mnist,
        classes: vec![0, 7],
        n_train,
        n_test,
    };
    ngd_data::load(&cfg).unwrap_or_else(|e| {
        panic!("MNIST is needed by the integration tests: {e}\n(run `bash datasets/install.sh mnist ../shared/datasets/mnist`)")
    })
}

/// Fig. 1a's network: L = 3, M = 4096, σ_w² = 2, σ_b² = 0, ReLU, with `method`.
pub fn fig1a_config(method: ngd_optim::Method, steps: usize) -> TrainConfig {
    TrainConfig {
        dataset: "mnist".into(),
        classes: vec![0, 7],
        n_train: 100,
        n_test: 50,
        shape: ngd_model::MlpShape {
            depth: 3,
            width: 4096,
            sigma_w2: 2.0,
            sigma_b2: 0.0,
            activation: ngd_model::Activation::Relu,
        },
        method,
        lr: None,
        lr_scale: 1.0,
        damping: 0.0,
        sigma: None,
        loss: ngd_optim::Loss::Mse,
        precision: Default::default(),
        damping_convention: Default::default(),
        diagnostics: false,
        forster: false,
        steps,
        seed: 1,
        backend: "default".into(),
    }
}

/// The small run of the mini-batch tests: a 784-128-128-10 MLP (standard parameterisation) on
/// [`mnist_holdout`]'s sizes, batch 50, one epoch of 36 steps, evaluations twice per epoch.
pub fn small_fit_config(optimizer: ngd_train::fit::OptimizerKind) -> ngd_train::fit::FitConfig {
    let mut cfg = ngd_train::fit::FitConfig::new(optimizer);
    cfg.data.n_train = Some(2000);
    cfg.data.n_test = Some(1000);
    cfg.data.validation = 200;
    cfg.model.width = 128;
    cfg.model.parameterization = ngd_model::Parameterization::Standard;
    cfg.schedule.batch_size = 50;
    cfg.schedule.epochs = 1;
    cfg.schedule.evals_per_epoch = 2;
    cfg
}

/// K-FAC with state for the small runs: ρ = 0.1, the sampled Fisher, running averages β = 0.9
/// and inverses every `inverse_interval` steps.
pub fn small_kfac(cfg: &mut ngd_train::fit::FitConfig, inverse_interval: usize) {
    cfg.optimizer.damping.value = 0.1;
    cfg.kfac_with(|k| {
        k.with_fisher(ngd_optim::Fisher::Sampled)
            .with_decay(0.9)
            .with_inverse_interval(inverse_interval)
    });
}
