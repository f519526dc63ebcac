//! A user's own burn model trained by the library's trainer (`ngd_train::fit::fit_model`) with
//! K-FAC, a checkpoint after the first epoch, and a resumed second epoch:
//!
//! ```sh
//! cargo run --release -p ngd-train --example custom_model_trainer
//! ```
//!
//! The network is written as a burn user would (`Linear` layers, ReLU), with one extra trait,
//! `FactoredModel`: its forward pass through NGD's `Tap` and a per-layer update.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor, activation::relu};
use ngd_data::{DataConfig, DatasetName};
use ngd_optim::{FactoredModel, Fisher, Method, Tap, update_linear};
use ngd_train::fit::{self, FitConfig, FitEvent, FitOptions, OptimizerKind};

/// 784-512-10, burn's default initialisation.
#[derive(Module, Debug)]
struct MyMlp {
    fc1: Linear,
    fc2: Linear,
}

impl MyMlp {
    fn new(device: &Device) -> Self {
        Self {
            fc1: LinearConfig::new(784, 512).init(device),
            fc2: LinearConfig::new(512, 10).init(device),
        }
    }
}

impl FactoredModel for MyMlp {
    fn forward_tapped(&self, x: Tensor<2>, tap: &mut Tap) -> Tensor<2> {
        let h = relu(tap.linear(&self.fc1, x));
        tap.linear(&self.fc2, h)
    }

    fn update_layer(&mut self, layer: usize, dw: Tensor<2>, db: Tensor<1>, lr: f64) {
        update_linear([&mut self.fc1, &mut self.fc2][layer], dw, db, lr);
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let device = Device::default();
    let data = ngd_data::load_holdout(
        &DataConfig {
            dataset: DatasetName::Mnist,
            classes: (0..10).collect(),
            n_train: 20_000,
            n_test: 10_000,
        },
        2_000,
    )?;
    let mut cfg = FitConfig::new(OptimizerKind::Ngd(Method::Kfac));
    cfg.schedule.batch_size = 256;
    cfg.optimizer.lr = 0.1;
    cfg.optimizer.damping.value = 0.1;
    cfg.kfac_with(|k| {
        k.with_fisher(Fisher::Sampled)
            .with_decay(0.95)
            .with_stats_interval(10)
            .with_inverse_interval(10)
    });
    let checkpoint = std::env::temp_dir().join("ngd-custom-model.mpk");
    let mut report = |event: FitEvent| {
        if let FitEvent::Evaluation(e) = event {
            println!(
                "epoch {:.2}: test accuracy {:.4} after {:.1} s of training",
                e.epoch, e.test_accuracy, e.seconds
            );
        }
    };
    // The model lives on the autodiff device, as for any burn training.
    let model = MyMlp::new(&device.clone().autodiff());
    cfg.schedule.epochs = 1;
    let save = FitOptions {
        save: Some(checkpoint.clone()),
        resume: None,
    };
    fit::fit_model(model, &cfg, &data, &device, &save, &mut report)?;
    println!(
        "saved {}; resuming for a second epoch",
        checkpoint.display()
    );
    cfg.schedule.epochs = 2;
    let resume = FitOptions {
        save: None,
        resume: Some(checkpoint.clone()),
    };
    let template = MyMlp::new(&device.clone().autodiff());
    let record = fit::fit_model(template, &cfg, &data, &device, &resume, &mut report)?;
    let last = record.evaluations.last().expect("an evaluation");
    println!(
        "{} parameters, {} steps: test accuracy {:.4}",
        record.parameters, record.steps, last.test_accuracy
    );
    std::fs::remove_file(&checkpoint)?;
    Ok(())
}
