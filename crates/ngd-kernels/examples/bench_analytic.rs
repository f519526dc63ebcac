//! Times the analytic ReLU kernels (MATH.md §5) on random unit-norm inputs.
//!
//! `cargo run --release -p ngd-kernels --example bench_analytic -- <sym|cross> N N' D L [all|theta|kfac]`
//! `sym` computes the N×N train kernels (N' ignored), `cross` the N'×N test-vs-train kernels.

use std::time::Instant;

use faer::Mat;
use ngd_kernels::{
    AnalyticConfig, KernelSet, relu_layer_kernels_select, relu_layer_kernels_sym_select,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

fn unit_rows(n: usize, d: usize, seed: u64) -> Mat<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut x = Mat::from_fn(n, d, |_, _| rng.sample::<f64, _>(StandardNormal));
    for i in 0..n {
        let norm = (0..d).map(|j| x[(i, j)] * x[(i, j)]).sum::<f64>().sqrt();
        for j in 0..d {
            x[(i, j)] /= norm;
        }
    }
    x
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().map_or("sym", |s| s.as_str()).to_string();
    let num = |i: usize, def: usize| args.get(i).map_or(def, |s| s.parse().unwrap());
    let (n, n_test, d, depth) = (num(1, 10_000), num(2, 10_000), num(3, 784), num(4, 3));
    let set = match args.get(5).map_or("all", |s| s.as_str()) {
        "theta" => KernelSet::THETA,
        "kfac" => KernelSet::KFAC,
        _ => KernelSet::ALL,
    };
    let cfg = AnalyticConfig::paper(depth);
    let x = unit_rows(n, d, 1);
    let t0 = Instant::now();
    let k = if mode == "sym" {
        relu_layer_kernels_sym_select(&cfg, x.as_ref(), set).unwrap()
    } else {
        let xt = unit_rows(n_test, d, 2);
        let t = Instant::now();
        let k = relu_layer_kernels_select(&cfg, xt.as_ref(), x.as_ref(), set).unwrap();
        eprintln!("(kernel call alone {:.2} s)", t.elapsed().as_secs_f64());
        k
    };
    let secs = t0.elapsed().as_secs_f64();
    let (r, c) = k.shape();
    let mats = k.theta.len() + k.a.len() + k.b.len();
    println!(
        "{mode} {r}×{c}, D = {d}, L = {depth}, {mats} matrices ({:.2} GB): {secs:.2} s on {} rayon threads",
        (mats * r * c * 8) as f64 / 1e9,
        rayon::current_num_threads()
    );
}
