//! Entry-wise diagonal FIM G_jj = F_jj + ρ (Fig. 3), and the per-layer diagonal statistics it
//! shares with the quasi-diagonal FIM.
//!
//! F's entries of layer l come from the factors: for weight (j → i),
//! F_(i,j),(i,k) = Σ_{c,n} δ_i^{(c)}(n)² h̃_j(n) h̃_k(n) / N, so diag F = (h̃∘h̃)ᵀ S / N and the
//! bias couplings are h̃ᵀ S σ_b / N with S[n, i] = Σ_c δ_i^{(c)}(n)². Steps are dense
//! ((M_{l−1}+1) × M_l per layer). Zero curvature entries (dead ReLU units, σ_b = 0 biases) carry
//! a zero gradient too; with ρ = 0 they are skipped (pseudo-inverse of the zero entries).

use crate::direction::{Direction, LayerStep, dual_to_coefficients};
use crate::{Curvature, Result, check_residual};
use crate::{Factors, LayerFactors};
use faer::Mat;

/// Entry-wise diagonal NGD: Δθ_j = ∇_jL / (F_jj + ρ) (pseudo-inverse of zero entries at ρ = 0).
#[derive(Debug, Clone, Default)]
pub struct Diagonal {
    /// Damping ρ ≥ 0.
    pub damping: f64,
}

impl Curvature for Diagonal {
    fn name(&self) -> &'static str {
        "diagonal"
    }

    /// The mean eigenvalue tr Θ̄ / CN = Σ_j F_jj/(F_jj + ρ) / CN (Θ̄ is not isotropic; Fig. 3);
    /// at ρ = 0 the number of parameters with F_jj > 0 over CN.
    fn alpha(&self, factors: &Factors) -> Option<f64> {
        let zero = vec![0.0; factors.samples() * factors.outputs_dim()];
        let trace: f64 = (0..factors.depth())
            .map(|l| {
                let (_, f) = gradient_and_diagonal(factors, l, &zero);
                (0..f.ncols())
                    .flat_map(|i| (0..f.nrows()).map(move |j| (j, i)))
                    .map(|(j, i)| safe_div(f[(j, i)], f[(j, i)] + self.damping))
                    .sum::<f64>()
            })
            .sum();
        Some(trace / zero.len() as f64)
    }

    fn direction(&self, factors: &Factors, residual: &[f64]) -> Result<Direction> {
        check_residual(factors, residual)?;
        let layers = (0..factors.depth())
            .map(|l| {
                let (grad, fisher) = gradient_and_diagonal(factors, l, residual);
                let step = Mat::from_fn(grad.nrows(), grad.ncols(), |j, i| {
                    safe_div(grad[(j, i)], fisher[(j, i)] + self.damping)
                });
                LayerStep::Dense(step)
            })
            .collect();
        Ok(Direction { layers })
    }
}

/// a / b, or 0 when b = 0 (pseudo-inverse of a zero curvature entry, whose gradient is 0 too).
pub(super) fn safe_div(a: f64, b: f64) -> f64 {
    if b == 0.0 { 0.0 } else { a / b }
}

/// S[n, i] = Σ_c δ_i^{(c)}(n)², N × M_l.
pub(super) fn delta_squares(factors: &Factors, layer: &LayerFactors) -> Mat<f64> {
    let n = factors.samples();
    let c_out = factors.outputs_dim();
    Mat::from_fn(n, layer.width(), |s, i| {
        (0..c_out)
            .map(|c| layer.delta[(c * n + s, i)].powi(2))
            .sum()
    })
}

/// (∇_{(W_lᵀ|b_l)}L, diag F) of layer l, both (M_{l−1}+1) × M_l: ∇ = h̃ᵀR with R the GD
/// coefficients of e/N (eq. 4) and diag F = (h̃∘h̃)ᵀ S / N.
pub(super) fn gradient_and_diagonal(
    factors: &Factors,
    l: usize,
    residual: &[f64],
) -> (Mat<f64>, Mat<f64>) {
    let layer = &factors.layers[l];
    let n = factors.samples() as f64;
    let v: Vec<f64> = residual.iter().map(|e| e / n).collect();
    let grad = layer.input.transpose() * dual_to_coefficients(factors, l, &v);
    let h2 = Mat::from_fn(layer.input.nrows(), layer.input.ncols(), |s, j| {
        layer.input[(s, j)].powi(2) / n
    });
    let fisher = h2.transpose() * delta_squares(factors, layer);
    (grad, fisher)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coefficient_matrix;
    use crate::testing::{dense_steps, explicit_fisher, residual, synthetic_factors};
    use crate::{Method, MethodCurvature};
    use faer::Mat;
    use ngd_linalg::max_abs_diff;
    use ngd_linalg::solve_spd;

    /// Diagonal and quasi-diagonal steps equal G⁻¹∇L with G built explicitly from F (diagonal;
    /// per-unit arrow: diagonal + bias row/column), ρ = 0.01, C = 2; relative tolerance 1e-9.
    #[test]
    fn diagonal_and_quasi_diagonal_equal_explicit_inverse() {
        let (n, rho) = (5, 0.01);
        let f = synthetic_factors(n, 2, &[4, 3, 2], 51);
        let e = residual(2 * n);
        let gd = dense_steps(&f, &crate::Gd.direction(&f, &e).unwrap());
        let diag = dense_steps(
            &f,
            &crate::Diagonal { damping: rho }.direction(&f, &e).unwrap(),
        );
        let quasi = dense_steps(
            &f,
            &crate::QuasiDiagonal { damping: rho }
                .direction(&f, &e)
                .unwrap(),
        );
        for l in 0..f.depth() {
            let fisher = explicit_fisher(&f, l);
            let m_in = f.layers[l].input.ncols();
            let p = fisher.nrows();
            let grad = Mat::from_fn(p, 1, |k, _| gd[l][(k % m_in, k / m_in)]);
            let keep_diag =
                Mat::from_fn(p, p, |a, b| if a == b { fisher[(a, b)] + rho } else { 0.0 });
            let arrow = Mat::from_fn(p, p, |a, b| {
                let same_unit = a / m_in == b / m_in;
                let touches_bias = a % m_in == m_in - 1 || b % m_in == m_in - 1;
                if a == b {
                    fisher[(a, b)] + rho
                } else if same_unit && touches_bias {
                    fisher[(a, b)]
                } else {
                    0.0
                }
            });
            for (g, got) in [(keep_diag, &diag[l]), (arrow, &quasi[l])] {
                let want = solve_spd(g.as_ref(), grad.as_ref(), "g").unwrap();
                let got = Mat::from_fn(p, 1, |k, _| got[(k % m_in, k / m_in)]);
                let err = max_abs_diff(got.as_ref(), want.as_ref())
                    / ngd_linalg::frobenius(want.as_ref());
                assert!(err < 1e-9, "layer {}: relative error {err:.2e}", l + 1);
            }
        }
        // The diagonal α (mean eigenvalue of Θ̄) matches tr Θ̄ / CN from the columns.
        let d = crate::Diagonal { damping: rho };
        let tb = coefficient_matrix(&d, &f).unwrap();
        let mean = (0..2 * n).map(|k| tb[(k, k)]).sum::<f64>() / (2 * n) as f64;
        assert!((d.alpha(&f).unwrap() - mean).abs() < 1e-9 * mean);
    }

    /// The default η of the non-isotropic diagonal methods is 1/λ_max(Θ̄) (power iteration vs the
    /// eigenvalues of the explicit Θ̄, relative 1e-6).
    #[test]
    fn diagonal_default_lr_is_one_over_largest_theta_bar_eigenvalue() {
        let f = synthetic_factors(5, 1, &[6, 7, 1], 80);
        for c in [Method::Diagonal, Method::QuasiDiagonal] {
            let curvature = c.curvature(0.01).unwrap();
            let tb = coefficient_matrix(curvature.as_ref(), &f).unwrap();
            let sym = Mat::from_fn(5, 5, |i, j| 0.5 * (tb[(i, j)] + tb[(j, i)]));
            let lmax = *ngd_linalg::symmetric_eigenvalues(sym.as_ref(), "tb")
                .unwrap()
                .last()
                .unwrap();
            let lr = c.optimal_lr(curvature.as_ref(), &f).unwrap();
            assert!(
                (lr * lmax - 1.0).abs() < 1e-6,
                "{c}: η λ_max = {}",
                lr * lmax
            );
        }
    }
}
