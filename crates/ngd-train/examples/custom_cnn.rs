//! A user's own convolutional network, written with burn's `Conv2d`, `MaxPool2d` and `Linear`,
//! trained on CIFAR-10 with K-FAC (K-FAC-reduce on the convolutions, MATH.md §8c) through the
//! library's trainer (`ngd_train::fit::fit_model`):
//!
//! ```sh
//! cargo run --release -p ngd-train --example custom_cnn [-- <training images>]
//! ```
//!
//! The network is the `--arch cnn` of `ngd train`, defined as a burn user would; the one extra
//! trait, `FactoredModel`, routes each parametrised layer through NGD's `Tap` and takes the
//! per-layer update (`update_conv2d` reshapes the step to the filter's [C_out, C_in, 3, 3]).

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::{Device, Tensor, activation::relu};
use ngd_data::{DataConfig, DatasetName, Standardisation};
use ngd_optim::{ConvFactors, FactoredModel, Method, Tap, update_conv2d, update_linear};
use ngd_train::fit::{self, FitConfig, FitEvent, FitOptions, OptimizerKind};

/// conv 3×3 (3→32), conv 3×3 (32→32), pool, conv 3×3 (32→64), conv 3×3 (64→64), pool,
/// linear 4096→256, linear 256→10; ReLU after every layer but the last.
#[derive(Module, Debug)]
struct MyCnn {
    convs: Vec<Conv2d>,
    pool: MaxPool2d,
    fc1: Linear,
    fc2: Linear,
}

impl MyCnn {
    fn new(device: &Device) -> Self {
        let conv = |c_in, c_out| {
            Conv2dConfig::new([c_in, c_out], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device)
        };
        Self {
            convs: vec![conv(3, 32), conv(32, 32), conv(32, 64), conv(64, 64)],
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            fc1: LinearConfig::new(64 * 8 * 8, 256).init(device),
            fc2: LinearConfig::new(256, 10).init(device),
        }
    }
}

impl FactoredModel for MyCnn {
    /// x: rows of 3 × 32 × 32 images (channels first).
    fn forward_tapped(&self, x: Tensor<2>, tap: &mut Tap) -> Tensor<2> {
        let n = x.dims()[0];
        let mut h = x.reshape([n, 3, 32, 32]);
        for (i, conv) in self.convs.iter().enumerate() {
            h = relu(tap.conv2d(conv, h));
            if i % 2 == 1 {
                h = self.pool.forward(h);
            }
        }
        let h = relu(tap.linear(&self.fc1, h.reshape([n, 64 * 8 * 8])));
        tap.linear(&self.fc2, h)
    }

    fn update_layer(&mut self, layer: usize, dw: Tensor<2>, db: Tensor<1>, lr: f64) {
        match layer {
            0..=3 => update_conv2d(&mut self.convs[layer], dw, db, lr),
            4 => update_linear(&mut self.fc1, dw, db, lr),
            _ => update_linear(&mut self.fc2, dw, db, lr),
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n_train: usize = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => 10_000,
    };
    let device = Device::default();
    device.seed(0);
    // The CNN convention: images C × H × W, each channel standardised by its training statistics.
    let data = ngd_data::load_holdout_with(
        &DataConfig {
            dataset: DatasetName::Cifar10,
            classes: (0..10).collect(),
            n_train,
            n_test: 10_000,
        },
        1_000,
        Standardisation::Channels,
    )?;
    let mut cfg = FitConfig::new(OptimizerKind::Ngd(Method::Kfac));
    cfg.data.dataset = DatasetName::Cifar10;
    cfg.data.validation = 1_000;
    cfg.schedule.batch_size = 128;
    cfg.schedule.epochs = 1;
    // K-FAC's CNN defaults of `ngd train --arch cnn` (README): the sampled Fisher (the exact
    // one's per-class factors are Linear-only), β = 0.95, statistics every 5 steps, inverses
    // every 50 in f32, ρ = 0.01, η = 0.3 and KL clipping at 1e-3 (without it η = 0.1 diverges);
    // this one short epoch also refreshes the inverses with the statistics (the warm-up).
    ngd_train::defaults::CNN_KFAC.apply(&mut cfg);
    cfg.kfac_with(|k| {
        k.with_conv(ConvFactors::Reduce)
            .with_inverse_warmup(Some(50))
    });
    let model = MyCnn::new(&device.clone().autodiff());
    let mut report = |event: FitEvent| match event {
        FitEvent::Evaluation(e) => println!(
            "epoch {:.2}: test accuracy {:.4} after {:.1} s of training",
            e.epoch, e.test_accuracy, e.seconds
        ),
        FitEvent::Step { step, total, .. } if step % 20 == 0 => eprintln!("step {step}/{total}"),
        _ => {}
    };
    let record = fit::fit_model(
        model,
        &cfg,
        &data,
        &device,
        &FitOptions::default(),
        &mut report,
    )?;
    println!(
        "{} parameters, {} steps, {:.1} ms/step, {:?}",
        record.parameters,
        record.steps,
        1e3 * record.train_seconds / record.steps.max(1) as f64,
        record.status
    );
    if record.status != fit::Status::Complete {
        return Err(format!("the run ended early: {:?}", record.status).into());
    }
    Ok(())
}
