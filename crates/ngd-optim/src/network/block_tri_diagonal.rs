//! Block tri-diagonal NGD (eq. 19): layer-wise NGD whose Σ couples neighbouring layers,
//! sized to the network's depth when used; α by Lemma 4.3 (Σ singular for L = 3s+2).

use super::LayerWise;
use crate::{Curvature, Factors, Loss, Result};

/// Block tri-diagonal NGD whose Σ (eq. 19) is sized to the network's depth when used.
#[derive(Debug, Clone, Default)]
pub struct BlockTriDiagonal {
    /// Damping ρ ≥ 0 (> 0 for cross-entropy).
    pub damping: f64,
    /// The loss whose Fisher is used.
    pub loss: Loss,
}

impl Curvature for BlockTriDiagonal {
    fn name(&self) -> &'static str {
        "block-tri-diagonal"
    }

    fn alpha(&self, factors: &Factors) -> Option<f64> {
        LayerWise::tridiagonal(factors.depth(), self.damping).alpha(factors)
    }

    fn direction(&self, factors: &Factors, residual: &[f64]) -> Result<crate::Direction> {
        let mut lw = LayerWise::tridiagonal(factors.depth(), self.damping);
        lw.loss = self.loss;
        lw.direction(factors, residual)
    }
}

#[cfg(test)]
mod tests {
    use crate::Method;
    use crate::testing::{residual, synthetic_factors, wide};

    /// Lemma 4.3 through the method: α = 1, 2, 2, 3 at L = 3, 4, 6, 7 (exact to 1e-12).
    #[test]
    fn tridiagonal_alpha_follows_lemma_4_3_through_the_method() {
        for (depth, want) in [(3, 1.0), (4, 2.0), (6, 2.0), (7, 3.0)] {
            let f = synthetic_factors(4, 1, &wide(depth), 10 + depth as u64);
            let c = Method::BlockTriDiagonal.curvature(0.0).unwrap();
            let alpha = c.alpha(&f).unwrap();
            assert!((alpha - want).abs() < 1e-12, "L = {depth}: α = {alpha}");
            let lr = Method::BlockTriDiagonal.optimal_lr(c.as_ref(), &f).unwrap();
            assert!((lr - 1.0 / want).abs() < 1e-12);
        }
    }

    /// L = 5 = 3·1+2: Σ singular, so ρ = 0 is a clear error; ρ > 0 runs.
    #[test]
    fn tridiagonal_depth_five_needs_damping() {
        let f = synthetic_factors(4, 1, &wide(5), 21);
        let e = residual(4);
        let err = Method::BlockTriDiagonal
            .curvature(0.0)
            .unwrap()
            .direction(&f, &e)
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("singular") && msg.contains("3s+2") && msg.contains("damping"),
            "{msg}"
        );
        let c = Method::BlockTriDiagonal.curvature(1e-3).unwrap();
        assert!(c.direction(&f, &e).is_ok());
        assert!(c.alpha(&f).is_none());
        assert!(matches!(
            Method::BlockTriDiagonal
                .optimal_lr(c.as_ref(), &f)
                .unwrap_err(),
            crate::OptimError::NoDefaultLr { .. }
        ));
    }
}
