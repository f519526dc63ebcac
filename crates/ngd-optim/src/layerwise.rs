//! Gradient descent, exact NGD (eq. 9) and block-diagonal NGD (eq. 15 with Σ = I), in dual form.

use crate::Factors;
use crate::direction::{Direction, dual_to_coefficients};
use crate::{Curvature, Loss, OptimError, Result, check_dual_size, check_residual};
use faer::Mat;
use ngd_linalg::{Cholesky, add_to_diagonal, col, solve_general, to_vec};

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

/// v = (ΛK + NρI)⁻¹ g: Cholesky for MSE (Λ = I), LU for cross-entropy, which needs ρ > 0
/// (the softmax Λ_n is singular: Λ_n1 = 0).
pub(crate) fn dual_solve(
    gram: Mat<f64>,
    factors: &Factors,
    damping: f64,
    loss: Loss,
    g: &[f64],
    what: &str,
) -> Result<Vec<f64>> {
    let n = factors.samples();
    if loss == Loss::Mse {
        return damped_solve(gram, n, damping, g, what);
    }
    require_damping(loss, damping)?;
    let mut a = loss.weight_gram(&factors.outputs, gram);
    add_to_diagonal(&mut a, n as f64 * damping);
    Ok(to_vec(
        solve_general(a.as_ref(), col(g).as_ref(), what)?.as_ref(),
    ))
}

/// Cross-entropy NGD needs ρ > 0 (the likelihood's output Hessian Λ is singular for softmax).
pub(crate) fn require_damping(loss: Loss, damping: f64) -> Result<()> {
    if loss == Loss::CrossEntropy && damping <= 0.0 {
        return Err(OptimError::NeedsDamping);
    }
    Ok(())
}

/// v = (K + NρI)⁻¹ e by Cholesky (clear error when singular).
pub(crate) fn damped_solve(
    mut gram: Mat<f64>,
    n: usize,
    damping: f64,
    residual: &[f64],
    what: &str,
) -> Result<Vec<f64>> {
    add_to_diagonal(&mut gram, n as f64 * damping);
    let chol = Cholesky::new(gram.as_ref(), what)?;
    Ok(to_vec(chol.solve(col(residual).as_ref()).as_ref()))
}
