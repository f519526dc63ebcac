//! Block tri-diagonal NGD (eq. 19): layer-wise NGD whose Σ couples neighbouring layers,
//! sized to the network's depth when used; α by Lemma 4.3 (Σ singular for L = 3s+2).

use super::{DualDiagnostics, DualSolve, LayerWise};
use crate::{Curvature, Factors, Loss, Result};

/// Block tri-diagonal NGD whose Σ (eq. 19) is sized to the network's depth when used.
#[derive(Debug, Clone, Default)]
pub struct BlockTriDiagonal {
    /// Damping ρ ≥ 0 (> 0 for cross-entropy).
    pub damping: f64,
    /// The loss whose Fisher is used.
    pub loss: Loss,
    /// Precision and damping convention of the dual solve.
    pub dual: DualSolve,
}

impl BlockTriDiagonal {
    /// The layer-wise curvature with this depth's tri-diagonal Σ.
    pub fn layer_wise(&self, depth: usize) -> LayerWise {
        let mut lw = LayerWise::tridiagonal(depth, self.damping);
        lw.loss = self.loss;
        lw.dual = self.dual;
        lw
    }
}

impl Curvature for BlockTriDiagonal {
    fn name(&self) -> &'static str {
        "block-tri-diagonal"
    }

    fn alpha(&self, factors: &Factors) -> Option<f64> {
        LayerWise::tridiagonal(factors.depth(), self.damping).alpha(factors)
    }

    fn direction(&self, factors: &Factors, residual: &[f64]) -> Result<crate::Direction> {
        self.layer_wise(factors.depth())
            .direction(factors, residual)
    }

    fn direction_with_diagnostics(
        &self,
        factors: &Factors,
        residual: &[f64],
    ) -> Result<(crate::Direction, Option<DualDiagnostics>)> {
        self.layer_wise(factors.depth())
            .direction_with_diagnostics(factors, residual)
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{identity_times, residual, synthetic_factors, wide};
    use crate::{Curvature, DampingConvention, LayerWise, Method, MethodCurvature, Precision};

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

    /// L = 5 = 3·1+2: Σ singular with 1 ∈ range Σ, so ρ = 0 is the ρ → 0 limit: Θ̄ = 2I
    /// (α = 1ᵀΣ⁺1 = 2, measured to 1e-8), and the damped dual vector approaches it linearly in
    /// ρ; there is still no α from Σ⁻¹ and so no default learning rate.
    #[test]
    fn tridiagonal_depth_five_pseudo_inverse_limit() {
        let f = synthetic_factors(4, 1, &wide(5), 21);
        let e = residual(4);
        let c0 = Method::BlockTriDiagonal.curvature(0.0).unwrap();
        let tb = crate::coefficient_matrix(c0.as_ref(), &f).unwrap();
        let err = ngd_linalg::max_abs_diff(tb.as_ref(), identity_times(2.0, 4).as_ref());
        assert!(err < 1e-8, "Θ̄ − 2I = {err:e}");
        let limit = LayerWise::tridiagonal(5, 0.0)
            .dual_vector(&f, &e)
            .unwrap()
            .0;
        let gap = |rho: f64| {
            let v = LayerWise::tridiagonal(5, rho)
                .dual_vector(&f, &e)
                .unwrap()
                .0;
            let d: f64 = v.iter().zip(&limit).map(|(a, b)| (a - b).powi(2)).sum();
            let n: f64 = limit.iter().map(|a| a * a).sum();
            (d / n).sqrt()
        };
        let (g6, g8) = (gap(1e-6), gap(1e-8));
        assert!(
            g8 < 1e-4 && g6 / g8 > 50.0,
            "gaps {g6:e} (ρ = 1e-6), {g8:e} (ρ = 1e-8)"
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
        // float32 has no pseudo-inverse limit.
        let mut lw = LayerWise::tridiagonal(5, 0.0);
        lw.dual.precision = Precision::F32;
        assert!(matches!(
            lw.dual_vector(&f, &e).unwrap_err(),
            crate::OptimError::PseudoInverseLimitPrecision
        ));
    }

    /// A singular Σ whose range misses 1 has no ρ → 0 limit: a clear Σ error at ρ = 0.
    #[test]
    fn singular_sigma_without_one_in_range_is_refused() {
        let f = synthetic_factors(4, 1, &wide(3), 22);
        let sigma = crate::parse_sigma("1,-1,0;-1,1,0;0,0,1").unwrap();
        let lw = LayerWise::with_sigma(sigma, 0.0).unwrap();
        let err = lw.direction(&f, &residual(4)).unwrap_err();
        assert!(matches!(err, crate::OptimError::Sigma(_)), "{err}");
        assert!(err.to_string().contains("singular"), "{err}");
    }

    /// float32 agrees with float64 to float32 precision on a well-conditioned system (L = 4,
    /// ρ = 1e-3: relative difference of v between 1e-9 and 1e-4), and is really rounded.
    #[test]
    fn float32_dual_solve_agrees_with_float64() {
        let f = synthetic_factors(6, 2, &wide(4), 23);
        let e = residual(12);
        let lw = LayerWise::tridiagonal(4, 1e-3);
        let mut lw32 = lw.clone();
        lw32.dual.precision = Precision::F32;
        let (a, b) = (
            lw.dual_vector(&f, &e).unwrap().0,
            lw32.dual_vector(&f, &e).unwrap().0,
        );
        let d: f64 = a.iter().zip(&b).map(|(x, y)| (x - y).powi(2)).sum();
        let n: f64 = a.iter().map(|x| x * x).sum();
        let rel = (d / n).sqrt();
        assert!(rel > 1e-9 && rel < 1e-4, "relative difference {rel:e}");
    }

    /// The authors' convention solves (Σ⊗I)K + 2ρI (K_l = J_lJ_lᵀ unnormalised): equal to the
    /// explicit matrix's LU solve to 1e-12, and to the per-sample convention at ρ' = 2ρ/N.
    #[test]
    fn authors_convention_is_the_explicit_matrix() {
        let (n, depth, rho) = (5, 4, 3e-3);
        let f = synthetic_factors(n, 1, &wide(depth), 24);
        let e = residual(n);
        let mut lw = LayerWise::tridiagonal(depth, rho);
        lw.dual.convention = DampingConvention::Authors;
        let (v, grams) = lw.dual_vector(&f, &e).unwrap();
        let sigma = crate::sigma::tridiagonal_sigma(depth);
        let mut a = faer::Mat::from_fn(n * depth, n * depth, |r, c| {
            sigma[(r / n, c / n)] * grams[c / n][(r % n, c % n)]
        });
        for i in 0..n * depth {
            a[(i, i)] += 2.0 * rho;
        }
        let rhs = faer::Mat::from_fn(n * depth, 1, |r, _| e[r % n]);
        let x = ngd_linalg::solve_general(a.as_ref(), rhs.as_ref(), "explicit").unwrap();
        let scale = v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        for (i, vi) in v.iter().enumerate() {
            assert!((vi - x[(i, 0)]).abs() < 1e-12 * scale, "entry {i}");
        }
        let same = LayerWise::tridiagonal(depth, 2.0 * rho / n as f64)
            .dual_vector(&f, &e)
            .unwrap()
            .0;
        for (p, q) in v.iter().zip(&same) {
            assert!((p - q).abs() < 1e-12 * scale);
        }
    }
}
