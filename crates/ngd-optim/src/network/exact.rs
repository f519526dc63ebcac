//! Exact NGD (eq. 9): the whole network as one Fisher block, solved in dual (CN × CN) form.

use super::dual_solve;
use crate::direction::Direction;
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
        Ok(Direction::from_dual(factors, &v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Exact;
    use crate::coefficient_matrix;
    use crate::testing::{
        dense_steps, explicit_jacobian, explicit_lambda, identity_times, synthetic_factors,
        targets, with_outputs,
    };
    use faer::Mat;
    use faer::Scale;
    use ngd_linalg::add_to_diagonal;
    use ngd_linalg::col;
    use ngd_linalg::max_abs_diff;
    use ngd_linalg::solve_spd;

    #[test]
    fn exact_ngd_is_isotropic_with_alpha_one() {
        let f = synthetic_factors(6, 2, &[20, 30, 25, 2], 3);
        let tb = coefficient_matrix(
            &Exact {
                damping: 0.0,
                ..Default::default()
            },
            &f,
        )
        .unwrap();
        assert!(max_abs_diff(tb.as_ref(), identity_times(1.0, 12).as_ref()) < 1e-9);
    }

    #[test]
    fn damping_shrinks_the_step_like_the_closed_form() {
        // With ρ > 0, Θ̄_exact = K (K + NρI)⁻¹ with K = JJᵀ: eigenvalues λ/(λ + Nρ) < 1.
        let f = synthetic_factors(5, 1, &[12, 10, 1], 6);
        let rho = 0.05;
        let tb = coefficient_matrix(
            &Exact {
                damping: rho,
                ..Default::default()
            },
            &f,
        )
        .unwrap();
        let k = f.ntk() * faer::Scale(5.0);
        let mut damped = k.clone();
        ngd_linalg::add_to_diagonal(&mut damped, 5.0 * rho);
        let want = &k
            * ngd_linalg::solve_spd(damped.as_ref(), Mat::<f64>::identity(5, 5).as_ref(), "t")
                .unwrap();
        assert!(max_abs_diff(tb.as_ref(), want.as_ref()) < 1e-10);
    }

    /// Cross-entropy exact and block-diagonal NGD equal the explicit (JᵀΛJ/N + ρ)⁻¹∇L (P × P,
    /// J from the factors; C = 3 softmax and C = 1 logistic); relative tolerance 1e-8. ρ = 0 is
    /// refused.
    #[test]
    fn cross_entropy_ngd_equals_explicit_fisher_inverse() {
        use crate::{BlockDiagonal, Exact, Loss};
        let rho = 0.02;
        for c in [3, 1] {
            let n = 4;
            let f = with_outputs(synthetic_factors(n, c, &[4, 5, c], 60 + c as u64));
            let y = targets(n, c);
            let g = Loss::CrossEntropy.output_gradient(&f.outputs, &y);
            let lambda = explicit_lambda(&f);
            let jacobians: Vec<Mat<f64>> =
                f.layers.iter().map(|l| explicit_jacobian(l, n)).collect();
            let exact = Exact {
                damping: rho,
                loss: Loss::CrossEntropy,
            };
            let bd = BlockDiagonal {
                damping: rho,
                loss: Loss::CrossEntropy,
            };
            let got_exact = dense_steps(&f, &exact.direction(&f, &g).unwrap());
            let got_bd = dense_steps(&f, &bd.direction(&f, &g).unwrap());
            // Exact: the full J = [J_1 | J_2].
            let sizes: Vec<usize> = jacobians.iter().map(|j| j.ncols()).collect();
            let p: usize = sizes.iter().sum();
            let j = Mat::from_fn(n * c, p, |r, k| {
                let (mut l, mut k) = (0, k);
                while k >= sizes[l] {
                    k -= sizes[l];
                    l += 1;
                }
                jacobians[l][(r, k)]
            });
            let solve = |j: &Mat<f64>| {
                let mut fisher = j.transpose() * &lambda * j * Scale(1.0 / n as f64);
                add_to_diagonal(&mut fisher, rho);
                let grad = j.transpose() * col(&g) * Scale(1.0 / n as f64);
                solve_spd(fisher.as_ref(), grad.as_ref(), "F").unwrap()
            };
            let want = solve(&j);
            let mut offset = 0;
            for (l, jl) in jacobians.iter().enumerate() {
                let m_in = f.layers[l].input.ncols();
                let want_bd = solve(jl);
                for (got, w, off) in [(&got_exact[l], &want, offset), (&got_bd[l], &want_bd, 0)] {
                    let flat = Mat::from_fn(jl.ncols(), 1, |k, _| got[(k % m_in, k / m_in)]);
                    let w = w.as_ref().subrows(off, jl.ncols());
                    let err = max_abs_diff(flat.as_ref(), w) / ngd_linalg::frobenius(w);
                    assert!(
                        err < 1e-8,
                        "C = {c}, layer {}: relative error {err:.2e}",
                        l + 1
                    );
                }
                offset += jl.ncols();
            }
            let zero = Exact {
                damping: 0.0,
                loss: Loss::CrossEntropy,
            };
            assert!(matches!(
                zero.direction(&f, &g).unwrap_err(),
                crate::OptimError::NeedsDamping
            ));
        }
    }
}
