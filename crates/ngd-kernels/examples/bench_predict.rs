//! Times the function-space predictors (MATH.md §4) on analytic kernels of random inputs.
//!
//! `cargo run --release -p ngd-kernels --example bench_predict -- N N' D L C SEEDS`

use std::time::Instant;

use faer::Mat;
use ngd_kernels::{
    AnalyticConfig, FunctionSpace, KernelSet, Predictor, relu_layer_kernels_select,
    relu_layer_kernels_sym_select,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

fn gaussian(n: usize, d: usize, rng: &mut ChaCha8Rng) -> Mat<f64> {
    Mat::from_fn(n, d, |_, _| rng.sample::<f64, _>(StandardNormal))
}

fn unit_rows(n: usize, d: usize, rng: &mut ChaCha8Rng) -> Mat<f64> {
    let mut x = gaussian(n, d, rng);
    for i in 0..n {
        let norm = (0..d).map(|j| x[(i, j)] * x[(i, j)]).sum::<f64>().sqrt();
        for j in 0..d {
            x[(i, j)] /= norm;
        }
    }
    x
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|s| s.parse().unwrap())
        .collect();
    let get = |i: usize, def: usize| args.get(i).copied().unwrap_or(def);
    let (n, n_test, d, depth, c, seeds) = (
        get(0, 2000),
        get(1, 1000),
        get(2, 784),
        get(3, 3),
        get(4, 1),
        get(5, 10),
    );
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let x = unit_rows(n, d, &mut rng);
    let xt = unit_rows(n_test, d, &mut rng);
    let cfg = AnalyticConfig::paper(depth);
    let t = Instant::now();
    let train = relu_layer_kernels_sym_select(&cfg, x.as_ref(), KernelSet::ALL).unwrap();
    let test = relu_layer_kernels_select(&cfg, xt.as_ref(), x.as_ref(), KernelSet::ALL).unwrap();
    println!(
        "kernels N = {n}, N' = {n_test}, D = {d}, L = {depth}: {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let y = gaussian(n, c, &mut rng);
    let f0 = gaussian(n, c * seeds, &mut rng);
    let f0t = gaussian(n_test, c * seeds, &mut rng);
    let mut predictors = vec![
        Predictor::Exact,
        Predictor::block_diagonal(depth),
        Predictor::block_tridiagonal(depth),
    ];
    if c == 1 && d >= n {
        predictors.push(Predictor::Kfac);
    }
    let kfac_inputs = c == 1 && d < n;
    for k in 0..predictors.len() + usize::from(kfac_inputs) {
        let t = Instant::now();
        let built = match predictors.get(k) {
            Some(p) => FunctionSpace::new(p, &train, &test),
            None => {
                let kfac = Predictor::Kfac;
                FunctionSpace::kfac_low_rank_inputs(&kfac, &train, &test, x.as_ref(), xt.as_ref())
            }
        };
        let fs = match built {
            Ok(fs) => fs,
            Err(e) => {
                println!("predictor {k}: {e}");
                continue;
            }
        };
        let t_new = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let kr = fs.kernel_regression_test(y.as_ref()).unwrap();
        let conv = fs
            .converged_test(f0.as_ref(), f0t.as_ref(), y.as_ref())
            .unwrap();
        println!(
            "{:>10}: new {t_new:.2} s, kernel regression + f_∞ for {seeds} seeds × C = {c}: {:.2} s (α = {:?}, |kr| = {:.3}, |f_∞| = {:.3})",
            fs.name(),
            t.elapsed().as_secs_f64(),
            fs.alpha(),
            kr.norm_l2(),
            conv.norm_l2()
        );
    }
}
