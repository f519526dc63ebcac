//! Entry-wise diagonal FIM G_jj = F_jj + ρ (Fig. 3), and the per-layer diagonal statistics it
//! shares with the quasi-diagonal FIM.
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

/// a / b, or 0 when b = 0 (pseudo-inverse of a zero curvature entry, whose gradient is 0 too).
pub(super) fn safe_div(a: f64, b: f64) -> f64 {
    if b == 0.0 { 0.0 } else { a / b }
}

/// S[n, i] = Σ_c δ_i^{(c)}(n)², N × M_l.
pub(super) fn delta_squares(factors: &Factors, layer: &LayerFactors) -> Mat<f64> {
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
pub(super) fn gradient_and_diagonal(
    factors: &Factors,
    l: usize,
    residual: &[f64],
) -> (Mat<f64>, Mat<f64>) {
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
