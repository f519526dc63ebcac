//! K-FAC with state (MATH.md §8): running averages of the two Kronecker factors of every layer,
//! A_l = E[h̃_{l−1}h̃_{l−1}ᵀ] and S_l = E[x x_ᵀ] (the output-side root of the Fisher), decayed as
//! A ← βA + (1−β)Â at each statistics step, and their damped inverses recomputed every T steps.
//! The step is ΔW̃_l = (A_l + ρ_A)⁻¹ ∇_{W̃_l}L (S_l + ρ_B)⁻¹ (eq. 20), formed in primal
//! ((M_{l−1}+1) × M_l) form, since an average over batches has no push-through.

use crate::direction::LayerStep;
use crate::{Factors, OptimError, Result};
use faer::{Mat, Scale};
use ngd_linalg::{Cholesky, add_to_diagonal, gram};

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

/// Y_l = Σ_c g_c(n) δ_l^{(c)}(n) (N × M_l): the per-sample gradient of N·L w.r.t. u_l, from
/// class-major factors and the output gradient g (class-major).
pub(crate) fn loss_signals(factors: &Factors, layer: usize, g: &[f64]) -> Mat<f64> {
    crate::direction::dual_to_coefficients(factors, layer, g)
}
