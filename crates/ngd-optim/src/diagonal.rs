//! Entry-wise diagonal FIM G_jj = F_jj + ρ (Fig. 3) and the quasi-diagonal FIM (Ollivier 2015):
//! per unit, the diagonal plus the bias–weight couplings, an arrow matrix inverted in closed form.
//!
//! F's entries of layer l come from the factors: for weight (j → i),
//! F_(i,j),(i,k) = Σ_{c,n} δ_i^{(c)}(n)² h̃_j(n) h̃_k(n) / N, so diag F = (h̃∘h̃)ᵀ S / N and the
//! bias couplings are h̃ᵀ S σ_b / N with S[n, i] = Σ_c δ_i^{(c)}(n)². Steps are dense
//! ((M_{l−1}+1) × M_l per layer). Zero curvature entries (dead ReLU units, σ_b = 0 biases) carry
//! a zero gradient too; with ρ = 0 they are skipped (pseudo-inverse of the zero entries).

use crate::direction::{Direction, LayerStep, dual_to_coefficients};
use crate::{Curvature, Result, check_residual};
use crate::{Factors, LayerFactors};
use faer::Mat;

/// Entry-wise diagonal NGD: Δθ_j = ∇_jL / (F_jj + ρ) (pseudo-inverse of zero entries at ρ = 0).
#[derive(Debug, Clone, Default)]
pub struct Diagonal {
    /// Damping ρ ≥ 0.
    pub damping: f64,
}

/// Quasi-diagonal NGD (Ollivier 2015): per unit, the arrow matrix [F_bb, F_bjᵀ; F_bj, diag F_jj] + ρ.
#[derive(Debug, Clone, Default)]
pub struct QuasiDiagonal {
    /// Damping ρ ≥ 0.
    pub damping: f64,
}

impl Curvature for Diagonal {
    fn name(&self) -> &'static str {
        "diagonal"
    }

    /// The mean eigenvalue tr Θ̄ / CN = Σ_j F_jj/(F_jj + ρ) / CN (Θ̄ is not isotropic; Fig. 3);
    /// at ρ = 0 the number of parameters with F_jj > 0 over CN.
    fn alpha(&self, factors: &Factors) -> Option<f64> {
        let zero = vec![0.0; factors.samples() * factors.outputs_dim()];
        let trace: f64 = (0..factors.depth())
            .map(|l| {
                let (_, f) = gradient_and_diagonal(factors, l, &zero);
                (0..f.ncols())
                    .flat_map(|i| (0..f.nrows()).map(move |j| (j, i)))
                    .map(|(j, i)| safe_div(f[(j, i)], f[(j, i)] + self.damping))
                    .sum::<f64>()
            })
            .sum();
        Some(trace / zero.len() as f64)
    }

    fn direction(&self, factors: &Factors, residual: &[f64]) -> Result<Direction> {
        check_residual(factors, residual)?;
        let layers = (0..factors.depth())
            .map(|l| {
                let (grad, fisher) = gradient_and_diagonal(factors, l, residual);
                let step = Mat::from_fn(grad.nrows(), grad.ncols(), |j, i| {
                    safe_div(grad[(j, i)], fisher[(j, i)] + self.damping)
                });
                LayerStep::Dense(step)
            })
            .collect();
        Ok(Direction { layers })
    }
}

impl Curvature for QuasiDiagonal {
    fn name(&self) -> &'static str {
        "quasi-diagonal"
    }

    /// The mean eigenvalue tr Θ̄ / CN (Θ̄ is not isotropic; Fig. 3), from Θ̄ = JG⁻¹Jᵀ/N
    /// column by column (CN directions: meant for small networks).
    fn alpha(&self, factors: &Factors) -> Option<f64> {
        let theta_bar = crate::coefficient_matrix(self, factors).ok()?;
        let cn = theta_bar.nrows();
        Some((0..cn).map(|k| theta_bar[(k, k)]).sum::<f64>() / cn as f64)
    }

    fn direction(&self, factors: &Factors, residual: &[f64]) -> Result<Direction> {
        check_residual(factors, residual)?;
        let layers = (0..factors.depth())
            .map(|l| LayerStep::Dense(self.layer_step(factors, l, residual)))
            .collect();
        Ok(Direction { layers })
    }
}

impl QuasiDiagonal {
    /// Per unit i: x_b = (g_b − uᵀD⁻¹g_w)/(a − uᵀD⁻¹u), x_w = D⁻¹(g_w − u x_b), where
    /// a = F_bb + ρ, u = F_bw, D = diag F_ww + ρ (block elimination of the arrow matrix).
    fn layer_step(&self, factors: &Factors, l: usize, residual: &[f64]) -> Mat<f64> {
        let layer = &factors.layers[l];
        let (grad, fisher) = gradient_and_diagonal(factors, l, residual);
        let coupling = bias_coupling(factors, layer);
        let m_in = grad.nrows() - 1; // bias row last
        let rho = self.damping;
        let mut step = Mat::zeros(grad.nrows(), grad.ncols());
        for i in 0..grad.ncols() {
            let a = fisher[(m_in, i)] + rho;
            let d = |j: usize| fisher[(j, i)] + rho;
            let (mut num, mut schur) = (grad[(m_in, i)], a);
            for j in 0..m_in {
                let u = coupling[(j, i)];
                num -= u * safe_div(grad[(j, i)], d(j));
                schur -= u * safe_div(u, d(j));
            }
            let xb = safe_div(num, schur);
            step[(m_in, i)] = xb;
            for j in 0..m_in {
                step[(j, i)] = safe_div(grad[(j, i)] - coupling[(j, i)] * xb, d(j));
            }
        }
        step
    }
}

/// a / b, or 0 when b = 0 (pseudo-inverse of a zero curvature entry, whose gradient is 0 too).
fn safe_div(a: f64, b: f64) -> f64 {
    if b == 0.0 { 0.0 } else { a / b }
}

/// S[n, i] = Σ_c δ_i^{(c)}(n)², N × M_l.
fn delta_squares(factors: &Factors, layer: &LayerFactors) -> Mat<f64> {
    let n = factors.samples();
    let c_out = factors.outputs_dim();
    Mat::from_fn(n, layer.width(), |s, i| {
        (0..c_out)
            .map(|c| layer.delta[(c * n + s, i)].powi(2))
            .sum()
    })
}

/// (∇_{(W_lᵀ|b_l)}L, diag F) of layer l, both (M_{l−1}+1) × M_l: ∇ = h̃ᵀR with R the GD
/// coefficients of e/N (eq. 4) and diag F = (h̃∘h̃)ᵀ S / N.
fn gradient_and_diagonal(factors: &Factors, l: usize, residual: &[f64]) -> (Mat<f64>, Mat<f64>) {
    let layer = &factors.layers[l];
    let n = factors.samples() as f64;
    let v: Vec<f64> = residual.iter().map(|e| e / n).collect();
    let grad = layer.input.transpose() * dual_to_coefficients(factors, l, &v);
    let h2 = Mat::from_fn(layer.input.nrows(), layer.input.ncols(), |s, j| {
        layer.input[(s, j)].powi(2) / n
    });
    let fisher = h2.transpose() * delta_squares(factors, layer);
    (grad, fisher)
}

/// F_(i,j),(i,bias) = Σ_n S[n, i] h̃_j(n) σ_b / N for the weights j < M_{l−1}, (M_{l−1}+1) × M_l.
fn bias_coupling(factors: &Factors, layer: &LayerFactors) -> Mat<f64> {
    let n = factors.samples() as f64;
    let m_in = layer.input.ncols() - 1;
    let scaled = Mat::from_fn(layer.input.nrows(), layer.input.ncols(), |s, j| {
        layer.input[(s, j)] * layer.input[(s, m_in)] / n
    });
    scaled.transpose() * delta_squares(factors, layer)
}
