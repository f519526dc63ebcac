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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BlockDiagonal;
    use crate::coefficient_matrix;
    use crate::testing::{identity_times, synthetic_factors};
    use ngd_linalg::max_abs_diff;

    #[test]
    fn block_diagonal_is_isotropic_with_alpha_depth() {
        let f = synthetic_factors(6, 1, &[20, 30, 25, 1], 4);
        let bd = BlockDiagonal {
            damping: 0.0,
            ..Default::default()
        };
        let tb = coefficient_matrix(&bd, &f).unwrap();
        assert!(max_abs_diff(tb.as_ref(), identity_times(3.0, 6).as_ref()) < 1e-9);
        assert_eq!(bd.alpha(&f), Some(3.0));
    }

    #[test]
    fn singular_gram_without_damping_is_a_clear_error() {
        // More samples than parameters in layer 2 (width 2, 1 output): J_2 J_2ᵀ is singular.
        let f = synthetic_factors(8, 1, &[30, 2, 1], 7);
        let err = BlockDiagonal {
            damping: 0.0,
            ..Default::default()
        }
        .direction(&f, &[1.0; 8])
        .unwrap_err()
        .to_string();
        assert!(err.contains("singular") && err.contains("damping"), "{err}");
        assert!(
            BlockDiagonal {
                damping: 1e-3,
                ..Default::default()
            }
            .direction(&f, &[1.0; 8])
            .is_ok()
        );
    }
}
