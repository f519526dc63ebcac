//! Times loading: `cargo run --release -p ngd-data --example load_timing [-- --burn-full]`.
//!
//! `--burn-full` also times burn-dataset's own path for CIFAR-10 (`CifarDataset::train()`
//! listing all 50,000 files, then decoding every item), for comparison.

use std::time::Instant;

use burn_dataset::Dataset as _;
use burn_dataset::vision::{CifarDataset, CifarType};
use ngd_data::{DataConfig, DatasetName, load};

/// Loads `cfg` and prints the time it took.
fn time_load(label: &str, cfg: &DataConfig) {
    let t = Instant::now();
    let d = match load(cfg) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "{label}: {:.3} s (train {}×{}, test {})",
        t.elapsed().as_secs_f64(),
        d.train.n,
        d.train.dim,
        d.test.n
    );
}

fn main() {
    let mnist = DataConfig {
        dataset: DatasetName::Mnist,
        classes: vec![0, 7],
        n_train: 100,
        n_test: 50,
    };
    time_load("MNIST 0/7 N=100 N'=50", &mnist);
    let cifar = DataConfig {
        dataset: DatasetName::Cifar10,
        classes: vec![0, 7],
        n_train: 100,
        n_test: 50,
    };
    time_load("CIFAR-10 airplane/horse N=100 N'=50", &cifar);
    let cifar = DataConfig {
        n_train: 10_000,
        n_test: 2_000,
        ..cifar
    };
    time_load("CIFAR-10 airplane/horse N=10000 N'=2000", &cifar);

    if std::env::args().any(|a| a == "--burn-full") {
        let t = Instant::now();
        let train = CifarDataset::new(CifarType::Cifar10).train();
        println!(
            "burn CifarDataset::train() (list 50000 files): {:.3} s",
            t.elapsed().as_secs_f64()
        );
        let t = Instant::now();
        let pixels: usize = (0..train.len())
            .map(|i| train.get(i).unwrap().image.len())
            .sum();
        println!(
            "burn get() of all {} items ({pixels} values): {:.3} s",
            train.len(),
            t.elapsed().as_secs_f64()
        );
    }
}
