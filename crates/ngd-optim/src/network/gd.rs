//! Gradient descent in dual form: Δθ = ∇L = Jᵀe/N (eq. 4), the baseline of every NGD method.

use crate::direction::{Direction, dual_to_coefficients};
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
        let coefficients = (0..factors.depth())
            .map(|l| dual_to_coefficients(factors, l, &v))
            .collect();
        Ok(Direction::from_coefficients(coefficients))
    }
}
