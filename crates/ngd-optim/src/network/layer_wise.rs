//! Layer-wise NGD with a general symmetric Σ (eq. 15): block diagonal (Σ = I) and block
//! tri-diagonal (eq. 19) are special cases; α = 1ᵀΣ⁻¹1 (Theorem 4.1).

use super::require_damping;
use crate::Factors;
use crate::direction::{Direction, dual_to_coefficients};
use crate::sigma::{SigmaError, check_symmetric, layerwise_weights};
use crate::{Curvature, Loss, Result, check_dual_size, check_residual};
use faer::Mat;
use ngd_linalg::{add_to_diagonal, col, solve_general, to_vec};

/// Layer-wise NGD: layer l steps J_lᵀ v_l with [(Σ⊗I_CN)ΛK + NρI] v = 1_L ⊗ g (eq. 15; Λ = I
/// and g = e for MSE).
#[derive(Debug, Clone)]
pub struct LayerWise {
    /// Σ, L × L, symmetric.
    pub sigma: Mat<f64>,
    /// Damping ρ ≥ 0.
    pub damping: f64,
    /// The command-line name (`block-tri-diagonal` or `layer-wise`).
    pub name: &'static str,
    /// The loss whose Fisher is used (K_l → ΛK_l for cross-entropy).
    pub loss: Loss,
}

impl LayerWise {
    /// Block tri-diagonal NGD: Σ_ij = 1 for |i − j| ≤ 1 (eq. 19).
    pub fn tridiagonal(depth: usize, damping: f64) -> Self {
        Self {
            sigma: crate::sigma::tridiagonal_sigma(depth),
            damping,
            name: "block-tri-diagonal",
            loss: Loss::Mse,
        }
    }

    /// Layer-wise NGD with a user Σ, validated symmetric and square (eq. 15).
    pub fn with_sigma(sigma: Mat<f64>, damping: f64) -> Result<Self> {
        if sigma.nrows() != sigma.ncols() || sigma.nrows() == 0 {
            return Err(SigmaError::Shape(format!(
                "Σ must be a non-empty square L×L matrix, got {}×{}",
                sigma.nrows(),
                sigma.ncols()
            ))
            .into());
        }
        check_symmetric(sigma.as_ref())?;
        Ok(Self {
            sigma,
            damping,
            name: "layer-wise",
            loss: Loss::Mse,
        })
    }

    /// Σ⁻¹1_L, the layer weights of Θ̄ (eq. 16); a clear error when Σ is singular.
    pub fn weights(&self) -> Result<Vec<f64>> {
        Ok(layerwise_weights(self.sigma.as_ref())?)
    }

    fn check_depth(&self, factors: &Factors) -> Result<()> {
        if self.sigma.nrows() != factors.depth() {
            return Err(SigmaError::Shape(format!(
                "{} NGD: Σ is {}×{} but the network has depth L = {}",
                self.name,
                self.sigma.nrows(),
                self.sigma.ncols(),
                factors.depth()
            ))
            .into());
        }
        Ok(())
    }
}

impl Curvature for LayerWise {
    fn name(&self) -> &'static str {
        self.name
    }

    fn alpha(&self, _: &Factors) -> Option<f64> {
        self.weights().ok().map(|w| w.iter().sum())
    }

    fn direction(&self, factors: &Factors, residual: &[f64]) -> Result<Direction> {
        check_residual(factors, residual)?;
        self.check_depth(factors)?;
        if self.damping == 0.0 {
            self.weights()?; // ρ = 0 needs an invertible Σ (Lemma 4.3: not for L = 3s+2)
        }
        let cn = residual.len();
        let depth = factors.depth();
        check_dual_size(cn * depth, 2, "the layer-wise system (Σ⊗I)K")?;
        require_damping(self.loss, self.damping)?;
        let grams: Vec<Mat<f64>> = factors
            .layers
            .iter()
            .map(|l| self.loss.weight_gram(&factors.outputs, l.jacobian_gram()))
            .collect();
        let system = layerwise_system(&self.sigma, &grams, factors.samples(), self.damping);
        let rhs: Vec<f64> = (0..depth).flat_map(|_| residual.iter().copied()).collect();
        let what = format!("{} NGD system (Σ⊗I)K + NρI", self.name);
        let v = to_vec(solve_general(system.as_ref(), col(&rhs).as_ref(), &what)?.as_ref());
        let coefficients = (0..depth)
            .map(|l| dual_to_coefficients(factors, l, &v[l * cn..(l + 1) * cn]))
            .collect();
        Ok(Direction::from_coefficients(coefficients))
    }
}

/// (Σ⊗I_CN) blockdiag(K_l) + NρI, LCN × LCN (block (i, j) is Σ_ij K_j).
fn layerwise_system(sigma: &Mat<f64>, grams: &[Mat<f64>], n: usize, damping: f64) -> Mat<f64> {
    let cn = grams[0].nrows();
    let size = cn * grams.len();
    let mut a = Mat::from_fn(size, size, |r, c| {
        sigma[(r / cn, c / cn)] * grams[c / cn][(r % cn, c % cn)]
    });
    add_to_diagonal(&mut a, n as f64 * damping);
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LayerWise;
    use crate::Method;
    use crate::coefficient_matrix;
    use crate::parse_sigma;
    use crate::testing::{dense_steps, identity_times, residual, synthetic_factors};
    use faer::Mat;
    use ngd_linalg::max_abs_diff;

    /// Θ̄ = αI (Theorem 4.1) for the tri-diagonal Σ (L = 4, α = 2) and a user Σ, with C = 2
    /// (P ≫ CN so ρ = 0 is exact; tolerance 1e-8).
    #[test]
    fn layerwise_sigma_is_isotropic_with_alpha() {
        let f = synthetic_factors(5, 2, &[20, 24, 21, 22, 2], 22);
        let tb = coefficient_matrix(
            Method::BlockTriDiagonal.curvature(0.0).unwrap().as_ref(),
            &f,
        )
        .unwrap();
        assert!(max_abs_diff(tb.as_ref(), identity_times(2.0, 10).as_ref()) < 1e-8);
        let sigma = parse_sigma("1,0.5,0,0;0.5,1,0.5,0;0,0.5,1,0.2;0,0,0.2,1").unwrap();
        let lw = LayerWise::with_sigma(sigma, 0.0).unwrap();
        let alpha = lw.alpha(&f).unwrap();
        let tb = coefficient_matrix(&lw, &f).unwrap();
        assert!(max_abs_diff(tb.as_ref(), identity_times(alpha, 10).as_ref()) < 1e-8);
        // Σ = I is block-diagonal NGD.
        let bd = Method::BlockDiagonal.curvature(0.0).unwrap();
        let lw = LayerWise::with_sigma(Mat::identity(4, 4), 0.0).unwrap();
        let e = residual(10);
        let (a, b) = (bd.direction(&f, &e).unwrap(), lw.direction(&f, &e).unwrap());
        for (x, y) in dense_steps(&f, &a).iter().zip(&dense_steps(&f, &b)) {
            assert!(max_abs_diff(x.as_ref(), y.as_ref()) < 1e-9);
        }
    }
}
