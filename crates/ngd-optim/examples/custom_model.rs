//! NGD on your own burn model: a plain `burn::nn::Linear` MLP (burn's default initialisation,
//! standard parameterisation), trained on real 10-class MNIST with K-FAC and with
//! block-diagonal NGD, each ending with one line `method=… test_accuracy=<fraction> …`.
//!
//! ```sh
//! cargo run --release -p ngd-optim --example custom_model               # 60,000 images, 1 epoch
//! cargo run --release -p ngd-optim --example custom_model -- --n-train 2000 --bd-steps 20
//! ```
//!
//! Options: `--n-train N` (training images, default 60000), `--n-test N` (10000), `--epochs E`
//! (K-FAC epochs, 1), `--bd-steps S` (block-diagonal steps at batch 64, 300), `--width M` (512),
//! `--seed S` (0). The backend is burn's default device (`BURN_DEVICE` overrides it).

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor, TensorData};
use ngd_data::{DataConfig, DatasetName, Split};
use ngd_optim::{
    DampingConfig, FactoredModel, Fisher, Loss, Method, NgdConfig, Tap, update_linear,
};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

/// A classifier as a burn user writes it: three `Linear` layers and ReLU.
#[derive(Module, Debug)]
struct Classifier {
    fc1: Linear,
    fc2: Linear,
    fc3: Linear,
}

impl Classifier {
    fn new(inputs: usize, width: usize, classes: usize, device: &Device) -> Self {
        Self {
            fc1: LinearConfig::new(inputs, width).init(device),
            fc2: LinearConfig::new(width, width).init(device),
            fc3: LinearConfig::new(width, classes).init(device),
        }
    }
}

/// All NGD needs: the forward pass written through the tap, and a per-layer update.
impl FactoredModel for Classifier {
    fn forward_tapped(&self, x: Tensor<2>, tap: &mut Tap) -> Tensor<2> {
        let h = relu(tap.linear(&self.fc1, x));
        let h = relu(tap.linear(&self.fc2, h));
        tap.linear(&self.fc3, h)
    }

    fn update_layer(&mut self, layer: usize, dw: Tensor<2>, db: Tensor<1>, lr: f64) {
        update_linear(
            [&mut self.fc1, &mut self.fc2, &mut self.fc3][layer],
            dw,
            db,
            lr,
        );
    }
}

struct Options {
    n_train: usize,
    n_test: usize,
    epochs: usize,
    bd_steps: usize,
    width: usize,
    seed: u64,
    lr: f64,
    damping: f64,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        n_train: 60_000,
        n_test: 10_000,
        epochs: 1,
        bd_steps: 300,
        width: 512,
        seed: 0,
        lr: 0.1,
        damping: 0.1,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let value = pair.get(1).ok_or(format!("{} needs a value", pair[0]))?;
        let number = || {
            value
                .parse::<usize>()
                .map_err(|e| format!("{} {value}: {e}", pair[0]))
        };
        let real = || {
            value
                .parse::<f64>()
                .map_err(|e| format!("{} {value}: {e}", pair[0]))
        };
        match pair[0].as_str() {
            "--n-train" => o.n_train = number()?,
            "--n-test" => o.n_test = number()?,
            "--epochs" => o.epochs = number()?,
            "--bd-steps" => o.bd_steps = number()?,
            "--width" => o.width = number()?,
            "--seed" => o.seed = number()? as u64,
            "--lr" => o.lr = real()?,
            "--damping" => o.damping = real()?,
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(o)
}

/// Rows `idx` of a split as tensors: inputs scaled to unit variance per pixel, one-hot targets.
fn batch(split: &Split, idx: &[usize], device: &Device) -> (Tensor<2>, Tensor<2>) {
    let scale = (split.dim as f64).sqrt(); // ngd-data scales rows to unit norm
    let c = split.outputs();
    let x: Vec<f32> = idx
        .iter()
        .flat_map(|&i| split.row(i).iter().map(move |v| (v * scale) as f32))
        .collect();
    let y: Vec<f32> = idx
        .iter()
        .flat_map(|&i| split.y[i * c..(i + 1) * c].iter().map(|&v| v as f32))
        .collect();
    (
        Tensor::from_data(TensorData::new(x, [idx.len(), split.dim]), device),
        Tensor::from_data(TensorData::new(y, [idx.len(), c]), device),
    )
}

/// Fraction of `split` classified correctly, in chunks of 1000.
fn accuracy(model: &Classifier, split: &Split, device: &Device) -> f64 {
    let mut correct = 0;
    let all: Vec<usize> = (0..split.n).collect();
    for chunk in all.chunks(1000) {
        let (x, _) = batch(split, chunk, device);
        let predicted = model.forward_plain(x).argmax(1).into_data();
        let predicted = predicted
            .convert::<i64>()
            .try_to_vec::<i64>()
            .expect("labels");
        correct += chunk
            .iter()
            .zip(predicted)
            .filter(|(i, p)| split.labels[**i] as i64 == *p)
            .count();
    }
    correct as f64 / split.n as f64
}

/// Trains a fresh model with `config` for `steps` mini-batches of `batch_size`; prints the result.
fn train(
    name: &str,
    config: NgdConfig,
    data: &ngd_data::Dataset,
    o: &Options,
    steps: usize,
    batch_size: usize,
    device: &Device,
) -> Result<(), Box<dyn std::error::Error>> {
    if steps == 0 {
        return Ok(());
    }
    device.seed(o.seed); // burn's initialisers draw from the device's generator
    let mut model = Classifier::new(data.train.dim, o.width, data.outputs, device);
    let mut optimizer = config.init()?;
    let mut rng = ChaCha8Rng::seed_from_u64(o.seed);
    let mut order: Vec<usize> = (0..data.train.n).collect();
    let start = Instant::now();
    let mut step = 0;
    'epochs: loop {
        order.shuffle(&mut rng);
        for idx in order.chunks_exact(batch_size.min(data.train.n)) {
            let (x, y) = batch(&data.train, idx, device);
            let stats = optimizer.step(&mut model, x, y)?;
            step += 1;
            if step % 50 == 0 || step == steps || std::env::var_os("NGD_EXAMPLE_VERBOSE").is_some()
            {
                eprintln!("{name}: step {step}/{steps}, batch loss {:.4}", stats.loss);
            }
            if step == steps {
                break 'epochs;
            }
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let acc = accuracy(&model, &data.test, device);
    println!("method={name} test_accuracy={acc:.4} steps={steps} train_seconds={seconds:.1}");
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let o = options()?;
    let device = Device::default();
    let data = ngd_data::load(&DataConfig {
        dataset: DatasetName::Mnist,
        classes: (0..10).collect(),
        n_train: o.n_train,
        n_test: o.n_test,
    })?;
    // K-FAC: running factors (decay 0.95), inverses every 10 steps, sampled-label Fisher.
    let kfac = NgdConfig::new(Method::Kfac)
        .with_loss(Loss::CrossEntropy)
        .with_damping(DampingConfig::new().with_value(o.damping))
        .with_lr(Some(o.lr))
        .with_momentum(0.5)
        .kfac_with(|k| {
            k.with_fisher(Fisher::Sampled)
                .with_decay(0.95)
                .with_inverse_interval(10)
        })
        .with_seed(o.seed);
    let kfac_steps = o.epochs * (data.train.n / 256).max(1);
    train("kfac", kfac, &data, &o, kfac_steps, 256, &device)?;
    // Block-diagonal NGD: the dual CB × CB solve per layer (Sec. 4.1) on batches of 64.
    let bd = NgdConfig::new(Method::BlockDiagonal)
        .with_loss(Loss::CrossEntropy)
        .with_damping(DampingConfig::new().with_value(o.damping))
        .with_lr(Some(o.lr));
    train("block-diagonal", bd, &data, &o, o.bd_steps, 64, &device)?;
    Ok(())
}
