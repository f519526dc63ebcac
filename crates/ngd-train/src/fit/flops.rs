//! The flop model of a mini-batch step of the MLP (docs/distributed.md, "Cost model") and the
//! rate each phase achieves against a plain matrix product on the same backend
//! (`ngd bench --batch-size`).
//!
//! Multiply-add = 2 flops. With P = Σ_l d_l m_l (d_l counts the bias entry), a step costs:
//! * first-order optimizers: forward + backward 6BP;
//! * K-FAC on its per-layer blocks (sampled or empirical Fisher): forward + backward 4BP (the
//!   weight gradients are formed by the preconditioning) plus, for the sampled Fisher, a second
//!   backward pass 4B_sP every T_s steps; curvature: statistics 2B_s Σ(d_l² + m_l²) every T_s
//!   steps and the preconditioning 2B(d_l² + m_l² + d_l m_l) (dual order, B < min(d_l, m_l)) or
//!   2B d_l m_l + 2d_l m_l(d_l + m_l) (primal order) per layer; inversion Σ(d_l³ + m_l³) every
//!   T_i steps (Cholesky and inverse, f64 on the host).

use super::FitConfig;
use burn::tensor::{Device, Distribution, Tensor};
use ngd_model::Arch;
use ngd_optim::{BlockKind, Fisher};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Flops of one step by phase (the phases of [`ngd_optim::PhaseTimes`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct PhaseFlops {
    /// Forward and backward passes.
    pub forward_backward: f64,
    /// Curvature statistics and preconditioning.
    pub curvature: f64,
    /// Factor inversions (f64, host).
    pub inversion: f64,
}

/// (d_l + 1, m_l) of every layer of the MLP of `cfg` on `input` features and `classes` outputs
/// (`None` for the CNN, which this model does not cover).
pub fn mlp_layers(cfg: &FitConfig, input: usize, classes: usize) -> Option<Vec<(usize, usize)>> {
    if cfg.model.arch != Arch::Mlp {
        return None;
    }
    let widths: Vec<usize> = std::iter::once(input)
        .chain(std::iter::repeat_n(cfg.model.width, cfg.model.depth - 1))
        .chain(std::iter::once(classes))
        .collect();
    Some(widths.windows(2).map(|w| (w[0] + 1, w[1])).collect())
}

/// The model's flops per step of `cfg` on `layers` ([`mlp_layers`]); `None` where it does not
/// apply (the dual-form methods, the diagonal blocks, K-FAC with the exact Fisher's C passes).
pub fn step_flops(cfg: &FitConfig, layers: &[(usize, usize)]) -> Option<PhaseFlops> {
    let b = cfg.schedule.batch_size as f64;
    let params: f64 = layers.iter().map(|&(d, m)| (d * m) as f64).sum();
    let Some(method) = cfg.optimizer.name.method() else {
        return Some(PhaseFlops {
            forward_backward: 6.0 * b * params,
            ..PhaseFlops::default()
        });
    };
    if cfg.ngd_config(method).block_kind() != Some(BlockKind::Kronecker) {
        return None;
    }
    let kfac = cfg
        .optimizer
        .kfac
        .clone()
        .unwrap_or_else(ngd_optim::KfacConfig::new);
    let stats_rows = kfac.stats_batch.map_or(b, |s| (s as f64).min(b));
    let (ts, ti) = (kfac.stats_interval as f64, kfac.inverse_interval as f64);
    let second_pass = match kfac.fisher {
        Fisher::Sampled => 4.0 * stats_rows * params / ts,
        Fisher::Empirical => 0.0,
        Fisher::Exact => return None,
    };
    let mut curvature = 0.0;
    let mut inversion = 0.0;
    for &(d, m) in layers {
        let (d, m) = (d as f64, m as f64);
        curvature += 2.0 * stats_rows * (d * d + m * m) / ts;
        curvature += if b < d.min(m) {
            2.0 * b * (d * d + m * m + d * m)
        } else {
            2.0 * b * d * m + 2.0 * d * m * (d + m)
        };
        inversion += (d.powi(3) + m.powi(3)) / ti;
    }
    Some(PhaseFlops {
        forward_backward: 4.0 * b * params + second_pass,
        curvature,
        inversion,
    })
}

/// GFLOP/s of an f32 product [rows × inner]·[inner × cols] on `device`: the median of
/// `repeats` timed products after one warm-up, each read back.
pub fn device_gemm_gflops(
    device: &Device,
    (rows, inner, cols): (usize, usize, usize),
    repeats: usize,
) -> f64 {
    let a = Tensor::<2>::random([rows, inner], Distribution::Default, device);
    let b = Tensor::<2>::random([inner, cols], Distribution::Default, device);
    let flops = 2.0 * (rows * inner * cols) as f64;
    median_rate(flops, repeats, || {
        let _ = a.clone().matmul(b.clone()).sum().into_data();
    })
}

/// GFLOP/s of faer's f64 product of two n × n matrices on the host (the inversions' arithmetic).
pub fn host_gemm_gflops(n: usize, repeats: usize) -> f64 {
    let a = faer::Mat::<f64>::from_fn(n, n, |i, j| ((i * 31 + j * 17) % 97) as f64 / 97.0);
    let flops = 2.0 * (n * n * n) as f64;
    median_rate(flops, repeats, || {
        std::hint::black_box(&a * &a);
    })
}

fn median_rate(flops: f64, repeats: usize, mut run: impl FnMut()) -> f64 {
    run();
    let mut seconds: Vec<f64> = (0..repeats.max(1))
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed().as_secs_f64()
        })
        .collect();
    seconds.sort_by(f64::total_cmp);
    flops / seconds[seconds.len() / 2] / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fit::OptimizerKind;
    use ngd_optim::Method;

    /// The full-MNIST network's numbers in docs/distributed.md: P = 1,863,690, Σ(d² + m²) =
    /// 4,814,727; at B = 256, T_s = T_i = 10 with the sampled Fisher: forward + backward
    /// 1.91 + 0.19 GFLOP, dual preconditioning 2.88 GFLOP on layers 1–2 and 0.03 on layer 3
    /// (primal), statistics 0.25 GFLOP, inversion 0.48 GFLOP; Adam 2.86 GFLOP.
    #[test]
    fn full_mnist_step_matches_the_cost_table() {
        let mut cfg = FitConfig::new(OptimizerKind::Ngd(Method::Kfac));
        cfg.kfac_with(|k| {
            k.with_fisher(Fisher::Sampled)
                .with_decay(0.95)
                .with_stats_interval(10)
                .with_inverse_interval(10)
        });
        let layers = mlp_layers(&cfg, 784, 10).unwrap();
        assert_eq!(layers, vec![(785, 1024), (1025, 1024), (1025, 10)]);
        let p: usize = layers.iter().map(|&(d, m)| d * m).sum();
        assert_eq!(p, 1_863_690);
        let squares: usize = layers.iter().map(|&(d, m)| d * d + m * m).sum();
        assert_eq!(squares, 4_814_727);

        let f = step_flops(&cfg, &layers).unwrap();
        let (bp, b) = (256.0 * p as f64, 256.0);
        assert!((f.forward_backward - (4.0 * bp + 4.0 * bp / 10.0)).abs() < 1.0);
        let dual: f64 = layers[..2]
            .iter()
            .map(|&(d, m)| 2.0 * b * (d * d + m * m + d * m) as f64)
            .sum();
        let (d3, m3) = (1025.0, 10.0);
        let primal = 2.0 * b * d3 * m3 + 2.0 * d3 * m3 * (d3 + m3);
        let stats = 2.0 * b * squares as f64 / 10.0;
        assert!((f.curvature - (dual + primal + stats)).abs() < 1.0);
        // The documented rounded values.
        assert!((dual / 1e9 - 2.88).abs() < 0.005, "{}", dual / 1e9);
        assert!((primal / 1e9 - 0.03).abs() < 0.005);
        assert!((stats / 1e9 - 0.25).abs() < 0.005);
        assert!((f.inversion / 1e9 - 0.48).abs() < 0.005, "{}", f.inversion);
        assert!((f.forward_backward / 1e9 - 2.10).abs() < 0.005);

        let adam = step_flops(&FitConfig::new(OptimizerKind::Adam), &layers).unwrap();
        assert!((adam.forward_backward / 1e9 - 2.86).abs() < 0.005);
        assert_eq!((adam.curvature, adam.inversion), (0.0, 0.0));
    }

    /// The dual forms, K-FAC's exact Fisher and the CNN have no model.
    #[test]
    fn the_model_says_where_it_does_not_apply() {
        let layers = [(785, 64), (65, 10)];
        let dual = FitConfig::new(OptimizerKind::Ngd(Method::Kfac));
        assert!(step_flops(&dual, &layers).is_none());
        let mut exact = dual.clone();
        exact.kfac_with(|k| k.with_decay(0.95));
        assert!(step_flops(&exact, &layers).is_none());
        let mut cnn = FitConfig::new(OptimizerKind::Adam);
        cnn.model.arch = Arch::Cnn;
        assert!(mlp_layers(&cnn, 3072, 10).is_none());
    }
}
