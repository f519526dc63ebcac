//! Block-diagonal NGD (Sec. 4.1; eq. 15 with Σ = I): one exact Fisher block per layer, each
//! solved in dual form with the layer Gram K_l = J_lJ_lᵀ (MATH.md §2–3).

use crate::direction::{Direction, dual_to_coefficients};
use crate::network::dual_solve;
use crate::{Curvature, Factors, Loss, Result, check_dual_size, check_residual};

/// Block-diagonal NGD: Δθ_l = J_lᵀ(ΛJ_lJ_lᵀ + NρI)⁻¹g (eq. 15, Σ = I). α = L.
#[derive(Debug, Clone, Default)]
pub struct BlockDiagonal {
    /// Damping ρ ≥ 0 (> 0 for cross-entropy).
    pub damping: f64,
    /// The loss whose Fisher is used.
    pub loss: Loss,
}

impl Curvature for BlockDiagonal {
    fn name(&self) -> &'static str {
        "block-diagonal"
    }

    fn alpha(&self, factors: &Factors) -> Option<f64> {
        Some(factors.depth() as f64)
    }

    fn direction(&self, factors: &Factors, residual: &[f64]) -> Result<Direction> {
        check_residual(factors, residual)?;
        check_dual_size(residual.len(), 2, "the layer Gram J_lJ_lᵀ")?;
        let coefficients = factors
            .layers
            .iter()
            .enumerate()
            .map(|(l, layer)| {
                let what = format!("block-diagonal NGD Gram of layer {}", l + 1);
                let gram = layer.jacobian_gram();
                let v = dual_solve(gram, factors, self.damping, self.loss, residual, &what)?;
                Ok(dual_to_coefficients(factors, l, &v))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Direction::from_coefficients(coefficients))
    }
}
