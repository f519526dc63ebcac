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
