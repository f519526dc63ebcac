//! The quasi-diagonal FIM (Ollivier 2015; Fig. 3): per unit, the diagonal plus the bias–weight
//! couplings, an arrow matrix inverted in closed form by block elimination.

use super::diagonal::{delta_squares, gradient_and_diagonal, safe_div};
use crate::direction::{Direction, LayerStep};
use crate::{Curvature, Factors, LayerFactors, Result, check_residual};
use faer::Mat;

/// Quasi-diagonal NGD (Ollivier 2015): per unit, the arrow matrix [F_bb, F_bjᵀ; F_bj, diag F_jj] + ρ.
#[derive(Debug, Clone, Default)]
pub struct QuasiDiagonal {
    /// Damping ρ ≥ 0.
    pub damping: f64,
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

/// F_(i,j),(i,bias) = Σ_n S[n, i] h̃_j(n) σ_b / N for the weights j < M_{l−1}, (M_{l−1}+1) × M_l.
fn bias_coupling(factors: &Factors, layer: &LayerFactors) -> Mat<f64> {
    let n = factors.samples() as f64;
    let m_in = layer.input.ncols() - 1;
    let scaled = Mat::from_fn(layer.input.nrows(), layer.input.ncols(), |s, j| {
        layer.input[(s, j)] * layer.input[(s, m_in)] / n
    });
    scaled.transpose() * delta_squares(factors, layer)
}
