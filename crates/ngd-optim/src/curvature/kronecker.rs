//! K-FAC's block for one layer (MATH.md §8, eq. 20): running averages of the two Kronecker
//! factors A = E[h̃h̃ᵀ] and S = E[xxᵀ] (x the output-side root of the Fisher) on the device in
//! f64, their damped inverses (A + ρ_A)⁻¹ and (S + ρ_S)⁻¹ computed on the host in f64 by
//! Cholesky and kept on the device in the block's dtype, and the step
//! ΔW̃ = (A + ρ_A)⁻¹ (h̃ᵀY/N) (S + ρ_S)⁻¹ in the cheaper of its two product orders.

use super::{AverageWeight, batch_gram, running_average, total};
use super::{BlockKind, BlockStatistics, CurvatureBlock, FactorSync, LayerSignals};
use crate::convert::{
    symmetric_f32_to_tensor, symmetric_to_tensor, tensor_to_mat_f64, tensor_to_vec_f64,
};
use crate::{OptimError, Precision, Result};
use burn::tensor::{FloatDType, Tensor};
use faer::Mat;
use ngd_linalg::{Cholesky, add_to_diagonal};

/// (ρ_A, ρ_S) = (√ρ·π, √ρ/π) with π = √((tr A/dim A)/(tr S/dim S)) (Martens & Grosse 2015,
/// §6.3), from the two mean traces; π = 1 when a trace vanishes, and ρ = 0 gives (0, 0).
pub fn kronecker_damping(damping: f64, mean_trace_a: f64, mean_trace_s: f64) -> (f64, f64) {
    if damping == 0.0 {
        return (0.0, 0.0);
    }
    let pi = if mean_trace_a > 0.0 && mean_trace_s > 0.0 {
        (mean_trace_a / mean_trace_s).sqrt()
    } else {
        1.0
    };
    let root = damping.sqrt();
    (root * pi, root / pi)
}

/// (M + ρI)⁻¹ by Cholesky in f64, with an error naming the factor and layer (0-based) when it
/// is singular.
pub fn damped_inverse(m: &Mat<f64>, rho: f64, name: &str, layer: usize) -> Result<Mat<f64>> {
    let mut m = m.clone();
    add_to_diagonal(&mut m, rho);
    let what = format!(
        "K-FAC factor {name} of layer {} damped by ρ_{name} = {rho:.3e}",
        layer + 1
    );
    Ok(Cholesky::new(m.as_ref(), &what)
        .map_err(OptimError::from)?
        .inverse())
}

/// The Kronecker-factored block of one layer (K-FAC, eq. 20).
#[derive(Debug, Clone)]
pub struct KroneckerBlock {
    dtype: FloatDType,
    /// The arithmetic of the inversions (f32 only where the conditioning allows).
    inverse: Precision,
    /// A, d_in × d_in, f64.
    a: Option<Tensor<2>>,
    /// S, d_out × d_out, f64.
    s: Option<Tensor<2>>,
    /// (A + ρ_A)⁻¹ and (S + ρ_S)⁻¹ at the last refresh, in `dtype`.
    inverses: Option<(Tensor<2>, Tensor<2>)>,
    /// The averages' weight Σβ^{t−s}.
    weight: AverageWeight,
}

impl KroneckerBlock {
    /// An empty block whose inverses and step are kept in `dtype` (the averages are f64).
    pub fn new(dtype: FloatDType) -> Self {
        Self {
            dtype,
            inverse: Precision::F64,
            a: None,
            s: None,
            inverses: None,
            weight: AverageWeight::default(),
        }
    }

    /// The block with its inversions in `precision`: f32 Cholesky where the damped factor's
    /// conditioning allows ([`ngd_linalg::spd_inverse_f32`]), else f64.
    pub fn with_inverse_precision(mut self, precision: Precision) -> Self {
        self.inverse = precision;
        self
    }

    /// The running factors (A, S) as host f64 matrices, once there are statistics.
    pub fn factors(&self) -> Option<(Mat<f64>, Mat<f64>)> {
        let (a, s) = (self.a.clone()?, self.s.clone()?);
        Some((tensor_to_mat_f64(a), tensor_to_mat_f64(s)))
    }
}

/// A running factor as read from the device for its inversion: its n × n entries, row-major,
/// in f64.
struct HostFactor {
    n: usize,
    rows: Vec<f64>,
}

impl HostFactor {
    /// One download of the device factor.
    fn download(t: &Tensor<2>) -> Self {
        Self {
            n: t.dims()[0],
            rows: tensor_to_vec_f64(t.clone()),
        }
    }

    /// tr M / dim M, the diagonal summed in order.
    fn mean_trace(&self) -> f64 {
        let n = self.n;
        (0..n).map(|i| self.rows[i * n + i]).sum::<f64>() / n as f64
    }

    /// M + ρI in f32, row-major: each entry of the f64 sum rounded once.
    fn damped_f32(&self, rho: f64) -> Vec<f32> {
        let n = self.n;
        let mut out: Vec<f32> = self.rows.iter().map(|&v| v as f32).collect();
        for i in 0..n {
            out[i * n + i] = (self.rows[i * n + i] + rho) as f32;
        }
        out
    }

    /// M as a host f64 matrix.
    fn mat(&self) -> Mat<f64> {
        faer::MatRef::from_row_major_slice(&self.rows, self.n, self.n).to_owned()
    }
}

impl CurvatureBlock for KroneckerBlock {
    fn kind(&self) -> BlockKind {
        BlockKind::Kronecker
    }

    /// Â = h̃ᵀh̃/(k·R) and Ŝ = XᵀX/k in the inputs' dtype, averaged in f64 (MATH.md §8c).
    fn update_statistics(&mut self, batch: BlockStatistics<'_>, decay: f64) {
        let k = batch.samples();
        let a = batch_gram(batch.input, batch.input.dims()[0]);
        let s = batch_gram(batch.root, k);
        let mix = self.weight.advance(decay, self.a.is_some());
        self.a = Some(running_average(self.a.take(), a, mix));
        self.s = Some(running_average(self.s.take(), s, mix));
    }

    fn sync(&mut self, layer: usize, sync: &mut dyn FactorSync) {
        if let Some(a) = self.a.take() {
            self.a = Some(sync.all_reduce_mean(layer, "a", a));
        }
        if let Some(s) = self.s.take() {
            self.s = Some(sync.all_reduce_mean(layer, "s", s));
        }
    }

    /// (A + ρ_A)⁻¹ and (S + ρ_S)⁻¹ with the π split ([`kronecker_damping`]), on the host in f64
    /// (or f32, [`KroneckerBlock::with_inverse_precision`]).
    fn refresh(&mut self, damping: f64, layer: usize) -> Result<()> {
        let (Some(a), Some(s)) = (self.a.as_ref(), self.s.as_ref()) else {
            return Err(OptimError::NoStatistics { layer: layer + 1 });
        };
        let device = a.device();
        let (a, s) = (HostFactor::download(a), HostFactor::download(s));
        let (rho_a, rho_s) = kronecker_damping(damping, a.mean_trace(), s.mean_trace());
        // f32 where the conditioning allows, uploaded as computed (no f64 round trip), else f64.
        let invert =
            |m: &HostFactor, rho: f64, name: &str| -> Result<Tensor<2>> {
                let n = m.n;
                if self.inverse == Precision::F32
                    && let Some(inv) = ngd_linalg::spd_inverse_f32(
                        faer::MatRef::from_row_major_slice(&m.damped_f32(rho), n, n),
                    )
                {
                    return Ok(symmetric_f32_to_tensor(inv.as_ref(), &device).cast(self.dtype));
                }
                let inv = damped_inverse(&m.mat(), rho, name, layer)?;
                Ok(symmetric_to_tensor(inv.as_ref(), &device, self.dtype))
            };
        self.inverses = Some((invert(&a, rho_a, "A")?, invert(&s, rho_s, "S")?));
        Ok(())
    }

    /// (h̃A⁻¹)ᵀ(YS⁻¹)/N when the batch comes as N < min(d_in, d_out) rows (2N(d_in² + d_out² +
    /// d_in·d_out) flops), else A⁻¹(∇_{W̃}L)S⁻¹ (2d_in·d_out(N + d_in + d_out) flops).
    fn precondition(&self, batch: &LayerSignals, _damping: f64) -> Tensor<2> {
        let (a_inv, s_inv) = self
            .inverses
            .clone()
            .expect("KroneckerBlock::precondition before refresh");
        if let (None, Some((h, y))) = (&batch.gradient, &batch.rows) {
            let [rows, d_in] = h.dims();
            if rows < d_in.min(y.dims()[1]) {
                let u = h.clone().cast(self.dtype).matmul(a_inv);
                let v = y.clone().cast(self.dtype).matmul(s_inv);
                return u.transpose().matmul(v).div_scalar(batch.samples as f64);
            }
        }
        a_inv.matmul(batch.gradient(self.dtype)).matmul(s_inv)
    }

    /// ⟨A V S, V⟩ = vec(V)ᵀ(A ⊗ S)vec(V) with the running A and S in f64 (0 before statistics).
    fn curvature_quadratic(&self, v: &Tensor<2>) -> f64 {
        let (Some(a), Some(s)) = (&self.a, &self.s) else {
            return 0.0;
        };
        let v = v.clone().cast(FloatDType::F64);
        total(a.clone().matmul(v.clone()).matmul(s.clone()) * v)
    }

    fn state(&self) -> Vec<(&'static str, Tensor<2>)> {
        let mut out = Vec::new();
        if let (Some(a), Some(s)) = (&self.a, &self.s) {
            out.push(("a", a.clone()));
            out.push(("s", s.clone()));
            out.extend(self.weight.to_tensor(&a.device()).map(|w| ("weight", w)));
        }
        if let Some((a_inv, s_inv)) = &self.inverses {
            out.push(("a_inv", a_inv.clone()));
            out.push(("s_inv", s_inv.clone()));
        }
        out
    }

    fn load_state(&mut self, take: &mut dyn FnMut(&str) -> Result<Tensor<2>>) -> Result<()> {
        let f64_of = |t: Tensor<2>| t.cast(FloatDType::F64);
        self.a = Some(f64_of(take("a")?));
        self.s = Some(f64_of(take("s")?));
        self.weight = AverageWeight::from_tensor(take("weight").ok());
        let (a_inv, s_inv) = (take("a_inv")?, take("s_inv")?);
        self.inverses = Some((a_inv.cast(self.dtype), s_inv.cast(self.dtype)));
        Ok(())
    }

    fn dims(&self) -> Option<(usize, usize)> {
        Some((self.a.as_ref()?.dims()[0], self.s.as_ref()?.dims()[0]))
    }
}
