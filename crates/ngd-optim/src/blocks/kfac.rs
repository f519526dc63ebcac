//! K-FAC (eq. 20): ΔW̃_l = (B*_l + ρ_B)⁻¹ ∇_{W̃_l}L (A*_{l−1} + ρ_A)⁻¹ with
//! A* = h̃ᵀh̃/N, B* = XᵀX/N and ∇_{W̃_l}L = Σ_c δ^{(c)ᵀ} diag(g^{(c)}) h̃ / N (MATH.md §3, §8).
//!
//! X is the output-side root of the Fisher ([`OutputRoot`]): B* = (1/N) Σ_n Σ_{c,c′}
//! Λ_n[c,c′] δ^{(c)}(n) δ^{(c′)}(n)ᵀ, the Fisher-weighted sum over outputs (Λ = I for MSE, so
//! X = δ; for softmax cross-entropy Λ_n = diag(p_n) − p_np_nᵀ). With C = 1 and MSE, X = δ.
//!
//! A factor of dimension d ≥ N is applied through the push-through identity
//! (XᵀX/N + ρ)⁻¹Xᵀ = Xᵀ(XXᵀ/N + ρ)⁻¹ (an N × N solve; never a d × d matrix); a smaller one
//! explicitly (d × d). With both factors pushed through, the step is the dual coefficient
//! R_l = (H̃/N + ρ_A)⁻¹ diag(e) (D/N + ρ_B)⁻¹ δ / N with H̃ = h̃h̃ᵀ, D = δδᵀ, so that
//! Δ(W_lᵀ | b_l) = h̃ᵀR_l; when A* is explicit the step is returned dense.

pub use super::output_root::OutputRoot;
use crate::direction::{Direction, LayerStep};
use crate::{Curvature, Loss, OptimError, Result, check_residual};
use crate::{Factors, LayerFactors};
use faer::{Mat, Scale};
use ngd_linalg::{Cholesky, add_to_diagonal, gram};

/// K-FAC NGD (eq. 20) with π-corrected damping split; α = N(L−1) + 1 at ρ → 0 (see [`Kfac::alpha`]).
#[derive(Debug, Clone, Default)]
pub struct Kfac {
    /// Damping ρ ≥ 0, split as ρ_A = √ρ·π_l, ρ_B = √ρ/π_l.
    pub damping: f64,
    /// The loss whose Fisher weights the output side (Λ).
    pub loss: Loss,
}

impl Curvature for Kfac {
    fn name(&self) -> &'static str {
        "kfac"
    }

    /// Θ̄ = αI at the training points for ρ → 0 with full-rank N × N Grams: each hidden layer
    /// gives N·(δδᵀ(δδᵀ)⁻¹ ⊙ H̃H̃⁻¹) = N·I (push-through on both factors), while the last layer,
    /// whose B*_L = δ_Lᵀδ_L/N = 1 is 1 × 1 (C = 1, δ_L = 1), is exactly BD's block and gives I.
    /// So α = N(L−1) + 1; the paper's eq. 21 states N·L (its last term is N·A A⁻¹). With C > 1
    /// outputs and MSE the same holds: the last layer's B* = I_C.
    ///
    /// When the first input factor has rank r_0 = rank(h̃_0) < N (M_0 + 1 < N, or dependent
    /// inputs), its ρ → 0 limit is the pseudo-inverse and the first layer contributes
    /// N·diag(h̃_0(h̃_0ᵀh̃_0)⁺h̃_0ᵀ), N times the leverages of h̃_0, which sum to r_0. The mean
    /// eigenvalue of Θ̄ is then α = N(L−2) + r_0 + 1, returned here; Θ̄ = αI exactly when the
    /// leverages are equal, which the Forster transform makes so (r_0 = r, the dimension of the
    /// transformed span, at σ_b = 0; see [`ngd_core::forster`]).
    fn alpha(&self, factors: &Factors) -> Option<f64> {
        let (n, depth) = (factors.samples(), factors.depth());
        let hidden = n * (depth - 1) + 1;
        if depth < 2 {
            return Some(hidden as f64);
        }
        let r0 = first_input_rank(&factors.layers[0].input).ok()?;
        Some((hidden - n + r0) as f64)
    }

    fn direction(&self, factors: &Factors, residual: &[f64]) -> Result<Direction> {
        check_residual(factors, residual)?;
        let layers = factors
            .layers
            .iter()
            .enumerate()
            .map(|(l, layer)| {
                let root = OutputRoot::new(self.loss, &layer.delta, &factors.outputs, residual);
                self.layer_step(layer, &root, l)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Direction { layers })
    }
}

impl Kfac {
    /// (ρ_A, ρ_B) = (√ρ·π, √ρ/π), π = √((tr A*/dim A)/(tr B*/dim B)) (Martens & Grosse 2015).
    /// `output_root` is the X of B* = XᵀX/N (δ itself for MSE).
    pub fn damping_split(&self, layer: &LayerFactors, output_root: &Mat<f64>) -> (f64, f64) {
        let n = layer.input.nrows() as f64;
        let tr_a = layer.input.squared_norm_l2() / n / layer.input.ncols() as f64;
        let tr_b = output_root.squared_norm_l2() / n / output_root.ncols() as f64;
        crate::curvature::kronecker_damping(self.damping, tr_a, tr_b)
    }

    /// The step of layer l (0-based): dual coefficients, or dense when A* is explicit.
    fn layer_step(&self, layer: &LayerFactors, root: &OutputRoot, l: usize) -> Result<LayerStep> {
        let n = layer.input.nrows();
        let x = &root.x;
        let (rho_a, rho_b) = self.damping_split(layer, x);
        let what_b = format!("K-FAC factor B* of layer {} damped by {rho_b:.3e}", l + 1);
        let what_a = format!("K-FAC factor A* of layer {} damped by {rho_a:.3e}", l + 1);
        let first_input = l == 0;
        if layer.input.ncols() >= n && x.ncols() >= x.nrows() {
            // Both pushed through: R = P X with the N × K P = (H̃/N + ρ_A)⁻¹ Bᵀ(XXᵀ/N + ρ_B)⁻¹/N,
            // B the K × N matrix of β, so the only large products are the two Grams and P X.
            let b_inv = damped_gram(x, n, rho_b, &what_b)?.inverse();
            let scaled = root.combine(&b_inv, n);
            let p = input_factor(gram(layer.input.as_ref()), n, rho_a, &what_a, first_input)?
                .solve(scaled.as_ref());
            return Ok(LayerStep::Coefficients(&p * x));
        }
        // X̂ = X (B* + ρ_B)⁻¹ (K × M_l), then Σ_k β_k x̂_k(n) / N per sample (N × M_l).
        let x_hat = right_inverse(x, n, rho_b, &what_b)?;
        let scaled = root.combine(&x_hat, n);
        if layer.input.ncols() >= n {
            // R = (H̃/N + ρ_A)⁻¹ Σ_k β_k x̂_k / N.
            let a = input_factor(gram(layer.input.as_ref()), n, rho_a, &what_a, first_input)?;
            Ok(LayerStep::Coefficients(a.solve(scaled.as_ref())))
        } else {
            // Dense: Δ(W_lᵀ|b_l) = (A* + ρ_A)⁻¹ h̃ᵀ Σ_k β_k x̂_k / N.
            let g = layer.input.transpose() * &layer.input;
            let a = input_factor(g, n, rho_a, &what_a, first_input)?;
            Ok(LayerStep::Dense(
                a.solve((layer.input.transpose() * &scaled).as_ref()),
            ))
        }
    }
}

/// Cholesky of X Xᵀ/N + ρI (rows × rows; N the sample count).
fn damped_gram(x: &Mat<f64>, n: usize, rho: f64, what: &str) -> Result<Cholesky> {
    damped_cholesky(gram(x.as_ref()), n, rho, what)
}

/// Cholesky of XᵀX/N + ρI (d × d, only used when d < rows).
fn factor_inverse_explicit(x: &Mat<f64>, n: usize, rho: f64, what: &str) -> Result<Cholesky> {
    damped_cholesky(x.transpose() * x, n, rho, what)
}

/// Cholesky of G/N + ρI for an unscaled Gram G.
fn damped_cholesky(g: Mat<f64>, n: usize, rho: f64, what: &str) -> Result<Cholesky> {
    let mut g = g * Scale(1.0 / n as f64);
    add_to_diagonal(&mut g, rho);
    Ok(Cholesky::new(g.as_ref(), what)?)
}

/// X (XᵀX/N + ρ)⁻¹ (K × d), explicit when d < K, else pushed through: (XXᵀ/N + ρ)⁻¹ X.
fn right_inverse(x: &Mat<f64>, n: usize, rho: f64, what: &str) -> Result<Mat<f64>> {
    if x.ncols() >= x.nrows() {
        Ok(damped_gram(x, n, rho, what)?.solve(x.as_ref()))
    } else {
        let chol = factor_inverse_explicit(x, n, rho, what)?;
        Ok(chol.solve(x.transpose()).transpose().to_owned())
    }
}

/// Relative eigenvalue cut of the first input factor's pseudo-inverse at ρ = 0: eigenvalues at
/// or below `PINV_REL_TOL`·λ_max are taken as zero. Exact zeros (a zero bias column at σ_b = 0,
/// constant pixels, directions outside a Forster span) come out at ≲ 1e-15·λ_max from the f32
/// network inputs; the smallest genuine eigenvalue of raw MNIST's A*_0 is ≈ 1e-11·λ_max.
pub const PINV_REL_TOL: f64 = 1e-12;

/// An inverted input factor: Cholesky, or at ρ = 0 for the first layer the pseudo-inverse.
enum FactorSolve {
    Cholesky(Cholesky),
    /// U_r diag(1/λ) U_rᵀ of the kept eigenpairs.
    PseudoInverse {
        vectors: Mat<f64>,
        inverse: Vec<f64>,
    },
}

impl FactorSolve {
    fn solve(&self, b: faer::MatRef<'_, f64>) -> Mat<f64> {
        match self {
            FactorSolve::Cholesky(c) => c.solve(b),
            FactorSolve::PseudoInverse { vectors, inverse } => {
                let mut coeff = vectors.transpose() * b;
                for (k, &inv) in inverse.iter().enumerate() {
                    for j in 0..coeff.ncols() {
                        coeff[(k, j)] *= inv;
                    }
                }
                vectors * coeff
            }
        }
    }
}

/// G/N + ρI for an unscaled input Gram G (h̃h̃ᵀ or h̃ᵀh̃) inverted by Cholesky; when that fails
/// for the first layer at ρ = 0, the pseudo-inverse (the ρ → 0 limit, since the gradient lies in
/// the factor's range): the zero bias column at σ_b = 0 and inputs that span fewer dimensions
/// than the factor's size (M_0 + 1 < N, or a Forster span) make it singular.
fn input_factor(g: Mat<f64>, n: usize, rho: f64, what: &str, first: bool) -> Result<FactorSolve> {
    let mut g = g * Scale(1.0 / n as f64);
    add_to_diagonal(&mut g, rho);
    match Cholesky::new(g.as_ref(), what) {
        Ok(c) => Ok(FactorSolve::Cholesky(c)),
        Err(ngd_linalg::LinalgError::Singular { .. }) if first && rho == 0.0 => {
            let eig = ngd_linalg::symmetric_eigen(g.as_ref(), what)?;
            let keep = kept_eigenvalues(&eig.values);
            let u = &eig.vectors;
            Ok(FactorSolve::PseudoInverse {
                vectors: Mat::from_fn(u.nrows(), keep.len(), |i, k| u[(i, keep[k])]),
                inverse: keep.iter().map(|&k| 1.0 / eig.values[k]).collect(),
            })
        }
        // A first-layer factor that stays singular with damping has its own error.
        Err(err @ ngd_linalg::LinalgError::Singular { .. }) if first => {
            Err(OptimError::SingularInputFactor { source: err })
        }
        Err(err) => Err(err.into()),
    }
}

/// Indices of the eigenvalues above [`PINV_REL_TOL`]·λ_max.
fn kept_eigenvalues(values: &[f64]) -> Vec<usize> {
    let max = values.iter().cloned().fold(0.0f64, f64::max);
    (0..values.len())
        .filter(|&k| values[k] > PINV_REL_TOL * max)
        .collect()
}

/// rank(h̃_0) (≤ N) as the pseudo-inverse of [`input_factor`] counts it: full when the smaller
/// Gram factorises, else the eigenvalues above [`PINV_REL_TOL`]·λ_max.
fn first_input_rank(input: &Mat<f64>) -> Result<usize> {
    let (n, d) = (input.nrows(), input.ncols());
    let g = if d < n {
        input.transpose() * input
    } else {
        gram(input.as_ref())
    };
    if Cholesky::new(g.as_ref(), "K-FAC first input factor").is_ok() {
        return Ok(n.min(d));
    }
    let values = ngd_linalg::symmetric_eigenvalues(g.as_ref(), "K-FAC first input factor")?;
    Ok(kept_eigenvalues(&values).len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Kfac;
    use crate::Loss;
    use crate::testing::{
        assert_layers_close, dense_steps, explicit_lambda, kfac_explicit, residual,
        synthetic_factors, targets, with_outputs,
    };
    use faer::Mat;

    /// The N × N push-through form equals the explicit Kronecker inverse, with layers where
    /// M_l > N and M_l < N on both factors (N = 6; widths 10, 12, 3, 1; ρ = 0.1 and 1e-3;
    /// relative tolerance 1e-8).
    #[test]
    fn kfac_push_through_equals_explicit_kronecker_inverse() {
        let n = 6;
        let f = synthetic_factors(n, 1, &[10, 12, 3, 1], 31);
        let e = residual(n);
        for rho in [0.1, 1e-3] {
            let kfac = Kfac {
                damping: rho,
                ..Kfac::default()
            };
            let got = dense_steps(&f, &kfac.direction(&f, &e).unwrap());
            let want = kfac_explicit(&f, &e, &Mat::identity(n, n), rho);
            assert_layers_close(&got, &want, &format!("ρ = {rho}"));
        }
    }

    /// K-FAC with C > 1 outputs, for MSE (Λ = I) and softmax cross-entropy (Λ_n = diag(p) − ppᵀ),
    /// and logistic cross-entropy with C = 1, equals the explicit Kronecker-factored inverse; layers
    /// whose output side is pushed through (M_l ≥ CN) and explicit (M_l < CN); relative 1e-8.
    #[test]
    fn kfac_several_outputs_equals_explicit_kronecker_inverse() {
        let n = 4;
        for (c, loss) in [
            (3, Loss::Mse),
            (3, Loss::CrossEntropy),
            (1, Loss::CrossEntropy),
        ] {
            let f = with_outputs(synthetic_factors(n, c, &[5, 14, 3, c], 40 + c as u64));
            let y = targets(n, c);
            let g = loss.output_gradient(&f.outputs, &y);
            let lambda = match loss {
                Loss::Mse => Mat::identity(n * c, n * c),
                Loss::CrossEntropy => explicit_lambda(&f),
            };
            for rho in [0.1, 1e-3] {
                let kfac = Kfac { damping: rho, loss };
                let got = dense_steps(&f, &kfac.direction(&f, &g).unwrap());
                let want = kfac_explicit(&f, &g, &lambda, rho);
                assert_layers_close(&got, &want, &format!("C = {c}, {loss}, ρ = {rho}"));
            }
        }
    }

    /// Relative max error of every layer of `got` against `want` (Frobenius scale).
    fn layers_rel_err(got: &[Mat<f64>], want: &[Mat<f64>]) -> f64 {
        got.iter()
            .zip(want)
            .map(|(g, w)| {
                ngd_linalg::max_abs_diff(g.as_ref(), w.as_ref()) / ngd_linalg::frobenius(w.as_ref())
            })
            .fold(0.0, f64::max)
    }

    /// At ρ = 0 a singular first input factor is pseudo-inverted (the ρ → 0 limit): a
    /// duplicated sample (h̃₀h̃₀ᵀ singular, pushed through) and M_0 + 1 < N with a zero bias
    /// column (σ_b = 0, A*_0 explicit and singular). The step equals the damped step at
    /// ρ = 1e-18 (ρ_A ≈ 1e-9; measured ≤ 1.0e-7 relative, tolerance 1e-6), the zero bias column
    /// gets a zero step, and α = N(L−2) + rank(h̃₀) + 1 is the mean eigenvalue tr(Θ̄)/N.
    #[test]
    fn kfac_without_damping_pseudo_inverts_a_singular_first_input_factor() {
        // Duplicated sample: h̃₀ is 6 × 11, pushed through, rank 5.
        let mut dup = synthetic_factors(6, 1, &[10, 12, 1], 33);
        let row: Vec<f64> = (0..11).map(|j| dup.layers[0].input[(0, j)]).collect();
        for (j, v) in row.into_iter().enumerate() {
            dup.layers[0].input[(1, j)] = v;
        }
        // M_0 + 1 < N with a zero bias column: h̃₀ is 12 × 6, explicit, rank 5.
        let mut low = synthetic_factors(12, 1, &[5, 16, 1], 34);
        for i in 0..12 {
            low.layers[0].input[(i, 5)] = 0.0;
        }
        for (name, f, rank) in [
            ("duplicated sample", &dup, 5usize),
            ("zero bias column", &low, 5),
        ] {
            let n = f.samples();
            let e = residual(n);
            let exact = dense_steps(f, &Kfac::default().direction(f, &e).unwrap());
            let tiny = Kfac {
                damping: 1e-18,
                ..Kfac::default()
            };
            let damped = dense_steps(f, &tiny.direction(f, &e).unwrap());
            let err = layers_rel_err(&exact, &damped);
            eprintln!("{name}: ρ = 0 vs ρ = 1e-18 relative {err:.2e}");
            assert!(err < 1e-6, "{name}: {err:.2e}");
            if name == "zero bias column" {
                let bias_row = exact[0].ncols();
                assert!(
                    (0..bias_row)
                        .all(|j| exact[0][(5, j)] == 0.0 || exact[0][(5, j)].abs() < 1e-12)
                );
            }
            let alpha = Kfac::default().alpha(f).unwrap();
            assert_eq!(alpha, (n * (f.depth() - 2) + rank + 1) as f64, "{name}");
            let theta = crate::coefficient_matrix(&Kfac::default(), f).unwrap();
            let mean = (0..n).map(|k| theta[(k, k)]).sum::<f64>() / n as f64;
            eprintln!("{name}: α = {alpha}, tr(Θ̄)/N = {mean}");
            assert!(
                (mean - alpha).abs() < 1e-9 * alpha,
                "{name}: {mean} vs {alpha}"
            );
        }
        // With damping a singular factor is not special-cased.
        let damped = Kfac {
            damping: 1e-2,
            ..Kfac::default()
        };
        assert!(damped.direction(&dup, &residual(6)).is_ok());
    }
}
