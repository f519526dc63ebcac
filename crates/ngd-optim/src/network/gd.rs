//! Gradient descent in dual form: Δθ = ∇L = Jᵀe/N (eq. 4), the baseline of every NGD method.

use crate::direction::Direction;
use crate::{Curvature, Factors, Result, check_residual};

/// Plain gradient descent: Δθ = ∇L = Jᵀe/N (eq. 4).
#[derive(Debug, Clone, Default)]
pub struct Gd;

impl Curvature for Gd {
    fn name(&self) -> &'static str {
        "gd"
    }

    fn alpha(&self, _: &Factors) -> Option<f64> {
        None
    }

    fn direction(&self, factors: &Factors, residual: &[f64]) -> Result<Direction> {
        check_residual(factors, residual)?;
        let n = factors.samples() as f64;
        let v: Vec<f64> = residual.iter().map(|e| e / n).collect();
        Ok(Direction::from_dual(factors, &v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Exact;
    use crate::Gd;
    use crate::coefficient_matrix;
    use crate::testing::synthetic_factors;
    use ngd_linalg::max_abs_diff;

    #[test]
    fn gd_coefficient_matrix_is_the_ntk() {
        let f = synthetic_factors(5, 2, &[8, 9, 2], 5);
        let tb = coefficient_matrix(&Gd, &f).unwrap();
        let ntk = f.ntk();
        assert!(
            max_abs_diff(tb.as_ref(), ntk.as_ref())
                < 1e-12 * (1.0 + ngd_linalg::frobenius(ntk.as_ref()))
        );
    }

    #[test]
    fn residual_of_wrong_length_is_rejected() {
        let f = synthetic_factors(4, 2, &[6, 5, 2], 8);
        assert!(Exact::default().direction(&f, &[0.0; 4]).is_err());
    }
}
