//! The library's trainer on a user's own burn model (`fit::fit_model`): K-FAC and Adam learn
//! 10-class MNIST from 2,000 images in one epoch, a checkpoint evaluates to the recorded accuracy,
//! and resuming from it gives the numbers of an uninterrupted run.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor, activation::tanh};
use ngd_data::Holdout;
use ngd_optim::{FactoredModel, Method, Tap, update_linear};
use ngd_train::fit::{self, FitConfig, FitOptions, FitRecord, OptimizerKind, Status};

/// 784-64-10 with tanh, burn's initialisation: not the crate's MLP.
#[derive(Module, Debug)]
struct UserNet {
    hidden: Linear,
    out: Linear,
}

impl UserNet {
    fn new(device: &Device) -> Self {
        Self {
            hidden: LinearConfig::new(784, 64).init(device),
            out: LinearConfig::new(64, 10).init(device),
        }
    }
}

impl FactoredModel for UserNet {
    fn forward_tapped(&self, x: Tensor<2>, tap: &mut Tap) -> Tensor<2> {
        let h = tanh(tap.linear(&self.hidden, x));
        tap.linear(&self.out, h)
    }

    fn update_layer(&mut self, layer: usize, dw: Tensor<2>, db: Tensor<1>, lr: f64) {
        update_linear([&mut self.hidden, &mut self.out][layer], dw, db, lr);
    }
}

fn run(model: &UserNet, cfg: &FitConfig, data: &Holdout, options: &FitOptions) -> FitRecord {
    let device = ngd_suite::device();
    fit::fit_model(model.clone(), cfg, data, &device, options, &mut |_| {}).expect("run")
}

#[test]
fn a_user_model_trains_checkpoints_and_resumes() {
    let data = ngd_suite::mnist_holdout();
    let dir = tempfile::tempdir().unwrap();
    // One initial model for every run (burn's initialisation draws from a global generator).
    let initial = UserNet::new(&ngd_suite::device().autodiff());
    for (optimizer, lr) in [
        (OptimizerKind::Ngd(Method::Kfac), 0.1),
        (OptimizerKind::Adam, 3e-3),
    ] {
        let mut cfg = FitConfig::new(optimizer);
        cfg.data.validation = 200;
        cfg.schedule.batch_size = 50;
        cfg.optimizer.lr = lr;
        cfg.schedule.evals_per_epoch = 1;
        if optimizer.method().is_some() {
            ngd_suite::small_kfac(&mut cfg, 5);
            cfg.optimizer.momentum = 0.5;
        }
        cfg.schedule.epochs = 2;
        let whole = run(&initial, &cfg, &data, &FitOptions::default());
        assert_eq!(whole.status, Status::Complete, "{optimizer}");
        // 784·64 + 64 + 64·10 + 10 parameters: the record counts the user's model.
        assert_eq!(whole.parameters, 784 * 64 + 64 + 64 * 10 + 10);
        let first_epoch = &whole.evaluations[1];
        assert!(
            first_epoch.test_accuracy > 0.75,
            "{optimizer}: {} after one epoch",
            first_epoch.test_accuracy
        );
        let path = dir.path().join(format!("{optimizer}.mpk"));
        let mut first = cfg.clone();
        first.schedule.epochs = 1;
        let save = FitOptions {
            save: Some(path.clone()),
            resume: None,
        };
        let half = run(&initial, &first, &data, &save);
        // The checkpoint, read into the user's definition, reproduces the recorded accuracy.
        let device = ngd_suite::device().autodiff();
        let template = UserNet::new(&device);
        let loaded = fit::load_model_checkpoint(&path, template, &device).unwrap();
        let (_, acc) = fit::evaluate(&loaded.model, &data.test, 10, cfg.loss, 1000, &device);
        assert_eq!(acc, half.evaluations.last().unwrap().test_accuracy);
        // The crate's MLP loader refuses it with a clear message.
        let err = fit::load_checkpoint(&path, &device).err().expect("refused");
        assert!(err.to_string().contains("user's own model"), "{err}");
        // Resuming for the second epoch gives the uninterrupted run's numbers.
        let resume = FitOptions {
            save: None,
            resume: Some(path.clone()),
        };
        // The resumed run starts from another model: the checkpoint's parameters replace it.
        let other = UserNet::new(&ngd_suite::device().autodiff());
        let resumed = run(&other, &cfg, &data, &resume);
        assert_eq!(resumed.steps, whole.steps);
        for (a, b) in resumed.evaluations.iter().zip(&whole.evaluations) {
            assert_eq!(
                a.test_accuracy, b.test_accuracy,
                "{optimizer} step {}",
                a.step
            );
            assert_eq!(a.test_loss, b.test_loss, "{optimizer} step {}", a.step);
        }
    }
}
