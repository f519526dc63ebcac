//! K-FAC with state (MATH.md §8): running averages of the two Kronecker factors of every layer,
//! A_l = E[h̃_{l−1}h̃_{l−1}ᵀ] and S_l = E[x x_ᵀ] (the output-side root of the Fisher), decayed as
//! A ← βA + (1−β)Â at each statistics step, and their damped inverses recomputed every T steps.
//! The step is ΔW̃_l = (A_l + ρ_A)⁻¹ ∇_{W̃_l}L (S_l + ρ_B)⁻¹ (eq. 20), formed in primal
//! ((M_{l−1}+1) × M_l) form, since an average over batches has no push-through.

use super::{Fisher, Ngd, PhaseTimes};
use crate::direction::{Direction, LayerStep, dual_to_coefficients};
use crate::{FactoredModel, Factors, Loss, OptimError, OutputRoot, Result};
use burn::tensor::Tensor;
use faer::{Mat, Scale};
use ngd_linalg::{Cholesky, add_to_diagonal, gram};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

/// The two factors of one layer, their running averages and their last damped inverses.
#[derive(Debug, Clone)]
pub struct KfacLayer {
    /// A_l, (M_{l−1}+1)², running average of h̃ᵀh̃/N.
    pub a: Mat<f64>,
    /// S_l, M_l², running average of XᵀX/N.
    pub s: Mat<f64>,
    /// (A_l + ρ_A)⁻¹ at the last inversion.
    pub a_inv: Mat<f64>,
    /// (S_l + ρ_B)⁻¹ at the last inversion.
    pub s_inv: Mat<f64>,
}

/// Batch statistics of one layer: Â = h̃ᵀh̃/N and Ŝ = XᵀX/N.
pub(crate) fn batch_statistics(input: &Mat<f64>, x: &Mat<f64>, n: usize) -> (Mat<f64>, Mat<f64>) {
    let scale = Scale(1.0 / n as f64);
    (gram(input.transpose()) * scale, gram(x.transpose()) * scale)
}

impl KfacLayer {
    /// A layer whose averages start at the first batch's statistics.
    pub(crate) fn new(a: Mat<f64>, s: Mat<f64>) -> Self {
        Self {
            a_inv: Mat::zeros(0, 0),
            s_inv: Mat::zeros(0, 0),
            a,
            s,
        }
    }

    /// A ← βA + (1−β)Â, S ← βS + (1−β)Ŝ.
    pub(crate) fn accumulate(&mut self, a: Mat<f64>, s: Mat<f64>, decay: f64) {
        self.a = &self.a * Scale(decay) + a * Scale(1.0 - decay);
        self.s = &self.s * Scale(decay) + s * Scale(1.0 - decay);
    }

    /// Recomputes (A + ρ_A)⁻¹ and (S + ρ_B)⁻¹ with ρ_A = √ρ·π, ρ_B = √ρ/π,
    /// π = √((tr A/dim A)/(tr S/dim S)) (Martens & Grosse 2015).
    pub(crate) fn invert(&mut self, damping: f64, layer: usize) -> Result<()> {
        let mean_trace =
            |m: &Mat<f64>| (0..m.nrows()).map(|i| m[(i, i)]).sum::<f64>() / m.nrows() as f64;
        let (tr_a, tr_s) = (mean_trace(&self.a), mean_trace(&self.s));
        let pi = if tr_a > 0.0 && tr_s > 0.0 {
            (tr_a / tr_s).sqrt()
        } else {
            1.0
        };
        let root = damping.sqrt();
        self.a_inv = damped_inverse(&self.a, root * pi, "A", layer)?;
        self.s_inv = damped_inverse(&self.s, root / pi, "S", layer)?;
        Ok(())
    }

    /// ΔW̃ = (A + ρ_A)⁻¹ (h̃ᵀY/N) (S + ρ_B)⁻¹ for the per-sample signals Y (N × M_l), as a dense
    /// (M_{l−1}+1) × M_l step; the cheaper of the two product orders.
    pub(crate) fn step(&self, input: &Mat<f64>, y: &Mat<f64>) -> LayerStep {
        let n = input.nrows();
        let scale = Scale(1.0 / n as f64);
        let (d_in, d_out) = (input.ncols(), y.ncols());
        let step = if n < d_in.min(d_out) {
            // (h̃A⁻¹)ᵀ(YS⁻¹)/N: N·(d_in² + d_out² + d_in·d_out) flops.
            let u = input * &self.a_inv;
            let v = y * &self.s_inv;
            u.transpose() * v * scale
        } else {
            // A⁻¹(h̃ᵀY/N)S⁻¹: (N + d_in + d_out)·d_in·d_out flops.
            let g = input.transpose() * y * scale;
            &self.a_inv * g * &self.s_inv
        };
        LayerStep::Dense(step)
    }
}

/// (M + ρI)⁻¹ by Cholesky, with an error naming the factor and layer when it is singular.
fn damped_inverse(m: &Mat<f64>, rho: f64, name: &str, layer: usize) -> Result<Mat<f64>> {
    let mut m = m.clone();
    add_to_diagonal(&mut m, rho);
    let what = format!("K-FAC factor {name} of layer {}", layer + 1);
    Ok(Cholesky::new(m.as_ref(), &what)
        .map_err(OptimError::from)?
        .inverse())
}

impl Ngd {
    /// Whether this step updates K-FAC's statistics and whether it recomputes the inverses
    /// (every `kfac_stats_interval` and `kfac_inverse_interval` steps, and at the first).
    pub(super) fn kfac_schedule(&self) -> (bool, bool) {
        let (step, first) = (self.state.step, self.state.kfac.is_empty());
        let every = |interval: usize| first || step.is_multiple_of(interval as u64);
        (
            every(self.config.kfac_stats_interval),
            every(self.config.kfac_inverse_interval),
        )
    }

    /// A ← βA + (1−β)Â, S ← βS + (1−β)Ŝ for layer `l` (the first batch starts the averages).
    pub(super) fn accumulate_kfac(&mut self, l: usize, a: Mat<f64>, s: Mat<f64>) {
        match self.state.kfac.get_mut(l) {
            Some(layer) => layer.accumulate(a, s, self.config.kfac_decay),
            None => self.state.kfac.push(KfacLayer::new(a, s)),
        }
    }

    /// Recomputes every layer's damped inverses at the current damping.
    pub(super) fn invert_kfac(&mut self) -> Result<()> {
        let damping = self.config.damping;
        for (l, layer) in self.state.kfac.iter_mut().enumerate() {
            layer.invert(damping, l)?;
        }
        Ok(())
    }

    /// K-FAC with state: statistics (every `kfac_stats_interval` steps), inverses (every T) and
    /// the primal step; returns the factors whose device inputs apply it.
    pub(super) fn kfac_direction<M: FactoredModel>(
        &mut self,
        model: &mut M,
        x: Tensor<2>,
        y: &[f64],
        times: &mut PhaseTimes,
    ) -> crate::Result<(Factors, Direction)> {
        let (stats_step, invert_step) = self.kfac_schedule();
        let config = &self.config;
        let step = self.state.step;
        let t = Instant::now();
        let n = x.dims()[0];
        let sub = config.kfac_stats_batch.filter(|&k| k < n);
        let k = sub.unwrap_or(n);
        // The loss signals Y_l, and X_l (B* = XᵀX/N) on statistics steps.
        let (factors, roots): (Factors, Option<Vec<Mat<f64>>>) =
            if stats_step && config.fisher == Fisher::Exact && sub.is_none() {
                let factors = model.factors(x);
                let g = self.output_gradient(&factors.outputs, y)?;
                let roots = exact_roots(config.loss, &factors, &g);
                // Y_l = Σ_c g_c(n) δ_l^{(c)}(n): the per-sample gradient of N·L w.r.t. u_l.
                let signals = (0..factors.depth())
                    .map(|l| dual_to_coefficients(&factors, l, &g))
                    .collect::<Vec<_>>();
                (with_signals(factors, signals), Some(roots))
            } else {
                let loss = config.loss;
                let mut g = Ok(Vec::new());
                let grad = model.weighted_signals(x.clone(), |f| {
                    g = self.output_gradient(f, y);
                    match &g {
                        Ok(g) => class_major_to_mat(g, f.nrows(), f.ncols()),
                        Err(_) => Mat::zeros(f.nrows(), f.ncols()),
                    }
                });
                g?;
                let x_stats = || x.clone().narrow(0, 0, k);
                let roots = match (stats_step, config.fisher) {
                    (false, _) => None,
                    (true, Fisher::Empirical) => Some(
                        grad.layers
                            .iter()
                            .map(|l| l.delta.as_ref().subrows(0, k).to_owned())
                            .collect(),
                    ),
                    (true, Fisher::Exact) => {
                        let stats = model.factors(x_stats());
                        let c_out = stats.outputs_dim();
                        let g = self.output_gradient(&stats.outputs, &y[..k * c_out])?;
                        Some(exact_roots(loss, &stats, &g))
                    }
                    (true, Fisher::Sampled) => {
                        let mut rng = label_rng(config.seed, step);
                        let sampled = model
                            .weighted_signals(x_stats(), |f| sampled_weights(loss, f, &mut rng));
                        Some(sampled.layers.into_iter().map(|l| l.delta).collect())
                    }
                };
                (grad, roots)
            };
        times.forward_backward = t.elapsed().as_secs_f64();
        let t = Instant::now();
        if let Some(roots) = roots {
            for (l, (layer, x_root)) in factors.layers.iter().zip(&roots).enumerate() {
                let input = layer.input.as_ref().subrows(0, k).to_owned();
                let (a, s) = batch_statistics(&input, x_root, k);
                self.accumulate_kfac(l, a, s);
            }
        }
        times.curvature = t.elapsed().as_secs_f64();
        if invert_step {
            let t = Instant::now();
            self.invert_kfac()?;
            times.inversion = t.elapsed().as_secs_f64();
        }
        let t = Instant::now();
        let layers = factors
            .layers
            .iter()
            .zip(&self.state.kfac)
            .map(|(layer, k)| k.step(&layer.input, &layer.delta))
            .collect::<Vec<LayerStep>>();
        times.curvature += t.elapsed().as_secs_f64();
        Ok((factors, Direction { layers }))
    }
}

/// The output-side roots X_l of every layer (B* = XᵀX/N) from per-class factors.
fn exact_roots(loss: Loss, factors: &Factors, g: &[f64]) -> Vec<Mat<f64>> {
    factors
        .layers
        .iter()
        .map(|l| OutputRoot::new(loss, &l.delta, &factors.outputs, g).x)
        .collect()
}

/// Factors whose δ is replaced by the per-sample loss signals Y_l (N × M_l).
fn with_signals(mut factors: Factors, signals: Vec<Mat<f64>>) -> Factors {
    for (layer, y) in factors.layers.iter_mut().zip(signals) {
        layer.delta = y;
    }
    factors
}

/// Output weights p_n − e_ŷ with ŷ ~ p(y|x_n) (softmax; C = 1: Bernoulli σ(f) on {0, 1});
/// for MSE the Fisher is exact and sampling ŷ ~ N(f, I) gives weights ε ~ N(0, I).
pub(super) fn sampled_weights(loss: Loss, f: &Mat<f64>, rng: &mut ChaCha8Rng) -> Mat<f64> {
    let (n, c_out) = (f.nrows(), f.ncols());
    let mut w = Mat::zeros(n, c_out);
    for i in 0..n {
        if loss == Loss::Mse {
            for c in 0..c_out {
                let z: f64 = rand_distr::Distribution::sample(&rand_distr::StandardNormal, rng);
                w[(i, c)] = z;
            }
            continue;
        }
        let p = crate::loss::probabilities_of(f, i);
        let u: f64 = rng.random();
        if c_out == 1 {
            w[(i, 0)] = p[0] - if u < p[0] { 1.0 } else { 0.0 };
            continue;
        }
        let mut acc = 0.0;
        let mut label = c_out - 1;
        for (c, pc) in p.iter().enumerate() {
            acc += pc;
            if u < acc {
                label = c;
                break;
            }
        }
        for c in 0..c_out {
            w[(i, c)] = p[c] - if c == label { 1.0 } else { 0.0 };
        }
    }
    w
}

/// The generator of step `step`'s sampled labels ([`Fisher::Sampled`]).
pub(super) fn label_rng(seed: u64, step: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ step.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// A class-major vector (v[c·N + n]) as an N × C matrix.
pub(super) fn class_major_to_mat(v: &[f64], n: usize, c_out: usize) -> Mat<f64> {
    Mat::from_fn(n, c_out, |i, c| v[c * n + i])
}
