//! K-FAC's statistics options against explicit computations: the statistics interval and
//! sub-batch, the empirical Fisher, and the sampled Fisher with MSE and one output.

use super::tests::{Tiny, batch, block_factors as factors};
use super::*;
use crate::Loss;
use crate::Method;
use crate::convert::tensor_to_rows;
use burn::tensor::Device;

/// h̃ᵀh̃/k of the first k rows of x with the bias column: the first layer's Â.
fn input_factor(x: &Tensor<2>, k: usize) -> Mat<f64> {
    let [_, d] = x.dims();
    let rows = tensor_to_rows(x.clone());
    let h = Mat::<f64>::from_fn(k, d + 1, |n, j| if j < d { rows[n * d + j] } else { 1.0 });
    h.transpose() * &h / k as f64
}

fn rel(a: &Mat<f64>, b: &Mat<f64>) -> f64 {
    (a - b).norm_l2() / b.norm_l2()
}

/// Statistics every 2 steps from the first 4 samples of each batch of 10, β = 0.5: after steps
/// 1 and 2 the first layer's A is Â of batch 1's first 4 inputs (step 2 adds nothing), after
/// step 3 the normalised average (βÂ₁ + Â₃)/(β + 1) — from explicit products of the inputs
/// (f64 averages of f32 statistics: measured ≤ 3.1e-8, asserted 3e-7).
#[test]
fn statistics_interval_and_sub_batch_follow_their_schedule() {
    let device = Device::default();
    let mut model = Tiny::new(5, 6, 3, &device);
    let beta = 0.5;
    let mut opt = NgdConfig::new(Method::Kfac)
        .with_damping(DampingConfig::new().with_value(0.1))
        .with_lr(Some(0.1))
        .kfac_with(|k| {
            k.with_decay(beta)
                .with_stats_interval(2)
                .with_stats_batch(Some(4))
        })
        .init()
        .unwrap();
    let batches: Vec<_> = (0..3).map(|s| batch(10, 3, s, &device)).collect();
    let (a1, a3) = (
        input_factor(&batches[0].0, 4),
        input_factor(&batches[2].0, 4),
    );
    let mut after = Vec::new();
    for (x, y) in &batches {
        opt.step(&mut model, x.clone(), y.clone()).unwrap();
        after.push(factors(&opt)[0].0.clone());
    }
    let mut mixed = &a1 * faer::Scale(beta) + &a3;
    mixed *= faer::Scale(1.0 / (beta + 1.0));
    let errors = [
        rel(&after[0], &a1),
        rel(&after[1], &a1),
        rel(&after[2], &mixed),
    ];
    eprintln!("A against the explicit schedule: {errors:?}");
    assert!(errors.iter().all(|&e| e < 3e-7), "{errors:?}");
    // The sub-batch matters: the whole batch's Â is far from it.
    assert!(rel(&input_factor(&batches[0].0, 10), &a1) > 1e-2);
}

/// Statistics every 2 steps and inverses every 6: the inverses are refreshed at steps 1 and 7
/// alone, and with a 6-step warm-up also with the statistics of steps 3 and 5.
#[test]
fn inverse_warmup_refreshes_with_the_statistics_at_first() {
    let device = Device::default();
    let inverted = |warmup: Option<usize>| {
        let mut model = Tiny::new(5, 6, 3, &device);
        let mut opt = NgdConfig::new(Method::Kfac)
            .with_damping(DampingConfig::new().with_value(0.1))
            .with_lr(Some(0.1))
            .kfac_with(|k| {
                k.with_stats_interval(2)
                    .with_inverse_interval(6)
                    .with_inverse_warmup(warmup)
            })
            .init()
            .unwrap();
        (1..=10usize)
            .filter(|&t| {
                let (x, y) = batch(8, 3, t, &device);
                opt.step(&mut model, x, y).unwrap().seconds.inversion > 0.0
            })
            .collect::<Vec<usize>>()
    };
    assert_eq!(inverted(None), vec![1, 7]);
    assert_eq!(inverted(Some(6)), vec![1, 3, 5, 7]);
}

/// The empirical Fisher's output factor of the last layer is Σ_n (p_n − y_n)(p_n − y_n)ᵀ/N with
/// p_n the softmax of the outputs and y_n the observed one-hot labels (cross-entropy; f32
/// network: measured 7.6e-8, asserted 5e-7).
#[test]
fn empirical_fisher_is_the_observed_gradients_outer_product() {
    let device = Device::default();
    let base = Tiny::new(5, 6, 3, &device);
    let (x, y) = batch(10, 3, 2, &device);
    let outputs = base.factors(x.clone()).outputs;
    let labels = tensor_to_rows(y.clone());
    let (n, c) = (outputs.nrows(), outputs.ncols());
    let residual = Mat::<f64>::from_fn(n, c, |i, j| {
        let max = (0..c).map(|k| outputs[(i, k)]).fold(f64::MIN, f64::max);
        let z: f64 = (0..c).map(|k| (outputs[(i, k)] - max).exp()).sum();
        (outputs[(i, j)] - max).exp() / z - labels[i * c + j]
    });
    let expected = residual.transpose() * &residual / n as f64;
    let mut model = base.clone();
    let mut opt = NgdConfig::new(Method::Kfac)
        .kfac_with(|k| k.with_fisher(Fisher::Empirical).with_decay(0.5))
        .with_lr(Some(1e-3))
        .init()
        .unwrap();
    opt.step(&mut model, x, y).unwrap();
    let s = &factors(&opt)[1].1;
    let err = rel(s, &expected);
    eprintln!("empirical S against Σ(p − y)(p − y)ᵀ/N: {err:.2e}");
    assert!(err < 5e-7, "{err:.2e}");
}

/// With MSE and a single output the sampled label is y ~ N(f, 1), so the last layer's sampled S
/// is the mean of ε_n² with ε_n ~ N(0, 1), whose expectation is the exact S = 1 (Λ = 1): the
/// mean over 400 seeds lies within 3× the spread of such a mean (measured: mean 0.982, one
/// sample's RMS deviation 0.414, bound 0.062).
#[test]
fn sampled_fisher_with_mse_and_one_output_is_unbiased() {
    let device = Device::default();
    let base = Tiny::new(5, 6, 1, &device);
    let (x, _) = batch(12, 1, 3, &device);
    let y = Tensor::<2>::zeros([12, 1], &device);
    let s_of = |fisher: Fisher, seed: u64| {
        let mut model = base.clone();
        let mut opt = NgdConfig::new(Method::Kfac)
            .with_loss(Loss::Mse)
            .kfac_with(|k| k.with_fisher(fisher).with_decay(0.5))
            .with_lr(Some(1e-9))
            .with_seed(seed)
            .init()
            .unwrap();
        opt.step(&mut model, x.clone(), y.clone()).unwrap();
        factors(&opt)[1].1[(0, 0)]
    };
    let exact = s_of(Fisher::Exact, 0);
    assert!((exact - 1.0).abs() < 1e-6, "exact S = {exact}");
    let seeds = 400;
    let samples: Vec<f64> = (0..seeds).map(|s| s_of(Fisher::Sampled, s)).collect();
    let mean = samples.iter().sum::<f64>() / seeds as f64;
    let one = (samples.iter().map(|s| (s - exact).powi(2)).sum::<f64>() / seeds as f64).sqrt();
    let bound = 3.0 * one / (seeds as f64).sqrt();
    eprintln!("sampled S: mean {mean:.4}, one sample {one:.3} RMS, bound {bound:.3}");
    assert!(one > 0.1, "the samples do not vary: {one}");
    assert!(
        (mean - exact).abs() < bound,
        "{mean} vs {exact} (bound {bound})"
    );
}

/// Targets of the wrong shape are refused on the block route with the dual route's message,
/// before any statistics.
#[test]
fn block_route_refuses_targets_of_the_wrong_shape() {
    let device = Device::default();
    let mut model = Tiny::new(5, 6, 3, &device);
    let mut opt = NgdConfig::new(Method::Kfac)
        .with_lr(Some(0.1))
        .kfac_with(|k| k)
        .init()
        .unwrap();
    let (x, y) = batch(8, 3, 1, &device);
    let err = opt.step(&mut model, x, y.narrow(1, 0, 2)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "targets hold 16 values, expected N·C = 8·3",
        "{err:?}"
    );
    assert!(opt.blocks().is_empty());
}
