//! Each block against an explicit host computation of its formula (MATH.md §8, §8b).

use super::*;
use crate::convert::{mat_to_tensor_dtype, tensor_to_mat_f64};
use burn::tensor::Device;
use faer::Mat;
use std::sync::{Arc, Mutex};

/// A deterministic k × d matrix with entries in [−0.5, 0.5).
fn matrix(k: usize, d: usize, seed: u64) -> Mat<f64> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    Mat::from_fn(k, d, |_, _| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) as f64 / (1u64 << 31) as f64) - 0.5
    })
}

fn upload(m: &Mat<f64>, dtype: FloatDType) -> Tensor<2> {
    mat_to_tensor_dtype(m.as_ref(), &Device::default(), dtype)
}

fn rel_err(got: &Mat<f64>, want: &Mat<f64>) -> f64 {
    (got - want).norm_l2() / want.norm_l2()
}

fn explicit_inverse(m: &Mat<f64>, rho: f64) -> Mat<f64> {
    damped_inverse(m, rho, "test", 0).unwrap()
}

fn mean_trace(m: &Mat<f64>) -> f64 {
    (0..m.nrows()).map(|i| m[(i, i)]).sum::<f64>() / m.nrows() as f64
}

/// The Kronecker block's step equals (A + ρ_A)⁻¹ (h̃ᵀY/N) (S + ρ_S)⁻¹ formed explicitly on the
/// host, with A and S the normalised β-weighted averages Σ_s β^{t−s}M̂_s / Σ_s β^{t−s} of three
/// batches (MATH.md §8a) and the π split from their traces; both product orders (N = 3 <
/// min(d_in, d_out) and N = 12 ≥ it), in f64 (1e-14; measured 3.7e-16) and f32 (1e-6; measured
/// 1.5e-7).
#[test]
fn kronecker_block_equals_the_explicit_kronecker_inverse() {
    let (d_in, d_out, k, decay, rho) = (6, 5, 9, 0.7f64, 0.05);
    let seeds = [10u64, 20, 40];
    for (dtype, tol) in [(FloatDType::F64, 1e-14), (FloatDType::F32, 1e-6)] {
        for n in [3, 12] {
            let mut block = KroneckerBlock::new(dtype);
            let mut a = Mat::<f64>::zeros(d_in, d_in);
            let mut s = Mat::<f64>::zeros(d_out, d_out);
            let total: f64 = (0..seeds.len()).map(|t| decay.powi(t as i32)).sum();
            for (t, seed) in seeds.into_iter().enumerate() {
                let (h, x) = (matrix(k, d_in, seed), matrix(k, d_out, seed + 1));
                block.update_statistics(
                    BlockStatistics {
                        input: &upload(&h, dtype),
                        root: &upload(&x, dtype),
                        samples: k,
                    },
                    decay,
                );
                let a_hat = h.transpose() * &h * faer::Scale(1.0 / k as f64);
                let s_hat = x.transpose() * &x * faer::Scale(1.0 / k as f64);
                // Batch t of T weighs β^{T−1−t} / Σ_s β^s.
                let w = decay.powi((seeds.len() - 1 - t) as i32) / total;
                a = &a + a_hat * faer::Scale(w);
                s = &s + s_hat * faer::Scale(w);
            }
            let (got_a, got_s) = block.factors().unwrap();
            assert!(rel_err(&got_a, &a) < tol, "A: {:.2e}", rel_err(&got_a, &a));
            assert!(rel_err(&got_s, &s) < tol, "S: {:.2e}", rel_err(&got_s, &s));
            block.refresh(rho, 0).unwrap();
            let (h, y) = (matrix(n, d_in, 30), matrix(n, d_out, 31));
            let batch = LayerSignals::rows(upload(&h, dtype), upload(&y, dtype));
            let got = tensor_to_mat_f64(block.precondition(&batch, rho));
            let pi = (mean_trace(&a) / mean_trace(&s)).sqrt();
            let grad = h.transpose() * &y * faer::Scale(1.0 / n as f64);
            let want = explicit_inverse(&a, rho.sqrt() * pi)
                * grad
                * explicit_inverse(&s, rho.sqrt() / pi);
            let err = rel_err(&got, &want);
            eprintln!("Kronecker {dtype:?} N = {n}: relative error {err:.2e}");
            assert!(err < tol, "{dtype:?}, N = {n}: {err:.2e}");
        }
    }
}

/// The diagonal block: F[i, j] = Σ_n h̃²[n, i] Σ_c X²[(c, n), j] / k from explicit loops, with an
/// exact root of C = 3 class-major blocks, and the step ∇L ⊘ (F + ρ) at the call's ρ (f64, 1e-12).
#[test]
fn diagonal_block_equals_the_explicit_entrywise_fisher() {
    let (d_in, d_out, k, c, n) = (4, 3, 5, 3, 7);
    let dtype = FloatDType::F64;
    let (h, x) = (matrix(k, d_in, 40), matrix(c * k, d_out, 41));
    let block = refreshed_diagonal(&h, &x, k);
    let fisher = Mat::from_fn(d_in, d_out, |i, j| {
        (0..k)
            .map(|s| h[(s, i)].powi(2) * (0..c).map(|cl| x[(cl * k + s, j)].powi(2)).sum::<f64>())
            .sum::<f64>()
            / k as f64
    });
    let (hb, yb) = (matrix(n, d_in, 42), matrix(n, d_out, 43));
    let batch = LayerSignals::rows(upload(&hb, dtype), upload(&yb, dtype));
    for rho in [0.01, 0.3] {
        let got = tensor_to_mat_f64(block.precondition(&batch, rho));
        let grad = hb.transpose() * &yb * faer::Scale(1.0 / n as f64);
        let want = Mat::from_fn(d_in, d_out, |i, j| grad[(i, j)] / (fisher[(i, j)] + rho));
        let err = rel_err(&got, &want);
        assert!(err < 1e-12, "ρ = {rho}: {err:.2e}");
    }
}

/// A diagonal block (f64) after one batch of statistics (input rows h̃, root X, k samples).
fn refreshed_diagonal(h: &Mat<f64>, x: &Mat<f64>, k: usize) -> DiagonalBlock {
    let dtype = FloatDType::F64;
    let mut block = DiagonalBlock::new(dtype);
    let (input, root) = (upload(h, dtype), upload(x, dtype));
    block.update_statistics(
        BlockStatistics {
            input: &input,
            root: &root,
            samples: k,
        },
        0.9,
    );
    block.refresh(0.0, 0).unwrap();
    block
}

/// The diagonal block with R = 3 rows per sample (a convolution's locations): F[i, j] =
/// Σ_n (Σ_r h̃[(n, r), i] X[(n, r), j])² / k from explicit loops (f64, 1e-12).
#[test]
fn diagonal_block_squares_per_sample_gradients_over_locations() {
    let (d_in, d_out, k, r) = (4, 3, 5, 3);
    let (h, x) = (matrix(k * r, d_in, 60), matrix(k * r, d_out, 61));
    let block = refreshed_diagonal(&h, &x, k);
    let fisher = Mat::from_fn(d_in, d_out, |i, j| {
        (0..k)
            .map(|n| {
                let g: f64 = (0..r).map(|l| h[(n * r + l, i)] * x[(n * r + l, j)]).sum();
                g * g
            })
            .sum::<f64>()
            / k as f64
    });
    let got = tensor_to_mat_f64(block.state()[0].1.clone());
    let err = rel_err(&got, &fisher);
    assert!(err < 1e-12, "{err:.2e}");
}

/// The identity block returns the gradient h̃ᵀY/N.
#[test]
fn identity_block_returns_the_gradient() {
    let dtype = FloatDType::F64;
    let (h, y) = (matrix(6, 4, 50), matrix(6, 2, 51));
    let batch = LayerSignals::rows(upload(&h, dtype), upload(&y, dtype));
    let got = tensor_to_mat_f64(IdentityBlock::new(dtype).precondition(&batch, 0.1));
    let want = h.transpose() * &y * faer::Scale(1.0 / 6.0);
    assert!(rel_err(&got, &want) < 1e-14);
}

/// π split: (√ρπ, √ρ/π) with π² the ratio of mean traces; π = 1 for a vanishing trace; ρ = 0
/// gives no damping.
#[test]
fn kronecker_damping_splits_by_the_trace_ratio() {
    let (ra, rs) = kronecker_damping(0.04, 8.0, 2.0);
    assert!(
        (ra - 0.4).abs() < 1e-15 && (rs - 0.1).abs() < 1e-15,
        "{ra} {rs}"
    );
    assert_eq!(kronecker_damping(0.04, 0.0, 2.0), (0.2, 0.2));
    assert_eq!(kronecker_damping(0.0, 8.0, 2.0), (0.0, 0.0));
}

/// A sync double that logs its calls and scales each statistic by `factor`.
pub(crate) struct RecordingSync {
    pub log: Arc<Mutex<Vec<String>>>,
    pub factor: f64,
}

impl FactorSync for RecordingSync {
    fn all_reduce_mean(&mut self, layer: usize, name: &str, statistic: Tensor<2>) -> Tensor<2> {
        self.log
            .lock()
            .unwrap()
            .push(format!("sync {layer} {name}"));
        statistic.mul_scalar(self.factor)
    }
}

/// A Kronecker block that logs its statistics updates and refreshes.
#[derive(Debug)]
pub(crate) struct LoggingBlock {
    pub inner: KroneckerBlock,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl CurvatureBlock for LoggingBlock {
    fn kind(&self) -> BlockKind {
        self.inner.kind()
    }
    fn update_statistics(&mut self, batch: BlockStatistics<'_>, decay: f64) {
        self.log.lock().unwrap().push("update".into());
        self.inner.update_statistics(batch, decay)
    }
    fn sync(&mut self, layer: usize, sync: &mut dyn FactorSync) {
        self.inner.sync(layer, sync)
    }
    fn refresh(&mut self, damping: f64, layer: usize) -> Result<()> {
        self.log.lock().unwrap().push(format!("refresh {layer}"));
        self.inner.refresh(damping, layer)
    }
    fn precondition(&self, batch: &LayerSignals, damping: f64) -> Tensor<2> {
        self.inner.precondition(batch, damping)
    }
    fn curvature_quadratic(&self, v: &Tensor<2>) -> f64 {
        self.inner.curvature_quadratic(v)
    }
    fn state(&self) -> Vec<(&'static str, Tensor<2>)> {
        self.inner.state()
    }
    fn load_state(&mut self, take: &mut dyn FnMut(&str) -> Result<Tensor<2>>) -> Result<()> {
        self.inner.load_state(take)
    }
    fn dims(&self) -> Option<(usize, usize)> {
        self.inner.dims()
    }
}
