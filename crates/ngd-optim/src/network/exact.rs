//! Exact NGD (eq. 9): the whole network as one Fisher block, solved in dual (CN × CN) form.

use super::dual_solve;
use crate::direction::{Direction, dual_to_coefficients};
use crate::{Curvature, Factors, Loss, Result, check_dual_size, check_residual};

/// Exact NGD: Δθ = Jᵀ(ΛJJᵀ + NρI)⁻¹g (eq. 9 with Λ = I, g = e for MSE; ρ → 0 is the
/// pseudo-inverse NGD). α = 1.
#[derive(Debug, Clone, Default)]
pub struct Exact {
    /// Damping ρ ≥ 0 (> 0 for cross-entropy).
    pub damping: f64,
    /// The loss whose Fisher is used (Λ of [`Loss::weight_gram`]).
    pub loss: Loss,
}

impl Curvature for Exact {
    fn name(&self) -> &'static str {
        "exact"
    }

    fn alpha(&self, _: &Factors) -> Option<f64> {
        Some(1.0)
    }

    fn direction(&self, factors: &Factors, residual: &[f64]) -> Result<Direction> {
        check_residual(factors, residual)?;
        let cn = residual.len();
        check_dual_size(cn, 3, "the exact Gram JJᵀ and its layer terms")?;
        let mut gram = factors.layers[0].jacobian_gram();
        for layer in &factors.layers[1..] {
            gram += layer.jacobian_gram();
        }
        let v = dual_solve(
            gram,
            factors,
            self.damping,
            self.loss,
            residual,
            "exact NGD Gram JJᵀ",
        )?;
        let coefficients = (0..factors.depth())
            .map(|l| dual_to_coefficients(factors, l, &v))
            .collect();
        Ok(Direction::from_coefficients(coefficients))
    }
}
