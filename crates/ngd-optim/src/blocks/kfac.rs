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
    fn alpha(&self, factors: &Factors) -> Option<f64> {
        Some((factors.samples() * (factors.depth() - 1) + 1) as f64)
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
        if self.damping == 0.0 {
            return (0.0, 0.0);
        }
        let n = layer.input.nrows() as f64;
        let tr_a = layer.input.squared_norm_l2() / n / layer.input.ncols() as f64;
        let tr_b = output_root.squared_norm_l2() / n / output_root.ncols() as f64;
        let pi = (tr_a / tr_b).sqrt();
        let root = self.damping.sqrt();
        (root * pi, root / pi)
    }

    /// The step of layer l (0-based): dual coefficients, or dense when A* is explicit.
    fn layer_step(&self, layer: &LayerFactors, root: &OutputRoot, l: usize) -> Result<LayerStep> {
        let n = layer.input.nrows();
        let x = &root.x;
        let (rho_a, rho_b) = self.damping_split(layer, x);
        let what_b = format!("K-FAC factor B* of layer {}", l + 1);
        let what_a = format!("K-FAC factor A* of layer {}", l + 1);
        let first_input = l == 0;
        if layer.input.ncols() >= n && x.ncols() >= x.nrows() {
            // Both pushed through: R = P X with the N × K P = (H̃/N + ρ_A)⁻¹ Bᵀ(XXᵀ/N + ρ_B)⁻¹/N,
            // B the K × N matrix of β, so the only large products are the two Grams and P X.
            let b_inv = damped_gram(x, n, rho_b, &what_b, false)?.inverse();
            let scaled = root.combine(&b_inv, n);
            let p =
                damped_gram(&layer.input, n, rho_a, &what_a, first_input)?.solve(scaled.as_ref());
            return Ok(LayerStep::Coefficients(&p * x));
        }
        // X̂ = X (B* + ρ_B)⁻¹ (K × M_l), then Σ_k β_k x̂_k(n) / N per sample (N × M_l).
        let x_hat = right_inverse(x, n, rho_b, &what_b, false)?;
        let scaled = root.combine(&x_hat, n);
        if layer.input.ncols() >= n {
            // R = (H̃/N + ρ_A)⁻¹ Σ_k β_k x̂_k / N.
            let chol = damped_gram(&layer.input, n, rho_a, &what_a, first_input)?;
            Ok(LayerStep::Coefficients(chol.solve(scaled.as_ref())))
        } else {
            // Dense: Δ(W_lᵀ|b_l) = (A* + ρ_A)⁻¹ h̃ᵀ Σ_k β_k x̂_k / N.
            let a = factor_inverse_explicit(&layer.input, n, rho_a, &what_a, first_input)?;
            Ok(LayerStep::Dense(
                a.solve((layer.input.transpose() * &scaled).as_ref()),
            ))
        }
    }
}

/// The output side of the Fisher of one layer: rows x_k (K × M_l, K = C·N class-major) with
/// Σ_k x_k(n) x_k(n)ᵀ = Σ_{c,c′} Λ_n[c,c′] δ^{(c)}(n) δ^{(c′)}(n)ᵀ, and β (length K) with
/// Σ_c g_c(n) δ^{(c)}(n) = Σ_k β_k(n) x_k(n) for the output gradient g (MATH.md §8).
///
/// MSE: X = δ, β = g. Softmax cross-entropy: Λ_n = A_nA_nᵀ with A_n = diag(√p) − p√pᵀ, so
/// x_k = Σ_c A_n\[c,k\] δ^{(c)} and, as 1ᵀg = 0, β_k = g_k/√p_k. Logistic (C = 1):
/// x = √(p(1−p)) δ, β = g/√(p(1−p)).
#[derive(Debug, Clone)]
pub struct OutputRoot {
    /// X, K × M_l, class-major rows k = c·N + n.
    pub x: Mat<f64>,
    /// β, length K.
    pub beta: Vec<f64>,
}

impl OutputRoot {
    /// X and β from the layer's δ (CN × M_l), the outputs f (N × C) and g (length CN).
    pub fn new(loss: Loss, delta: &Mat<f64>, outputs: &Mat<f64>, g: &[f64]) -> Self {
        let (n, c_out) = (outputs.nrows(), outputs.ncols());
        if loss == Loss::Mse {
            return Self {
                x: delta.clone(),
                beta: g.to_vec(),
            };
        }
        // Per-sample √p (softmax) or √(p(1−p)) (logistic), floored so that β stays finite.
        let probs: Vec<Vec<f64>> = (0..n)
            .map(|i| crate::loss::probabilities_of(outputs, i))
            .collect();
        if c_out == 1 {
            let s: Vec<f64> = probs
                .iter()
                .map(|p| (p[0] * (1.0 - p[0])).max(1e-300).sqrt())
                .collect();
            return Self {
                x: Mat::from_fn(n, delta.ncols(), |i, j| s[i] * delta[(i, j)]),
                beta: (0..n).map(|i| g[i] / s[i]).collect(),
            };
        }
        let x = Mat::from_fn(c_out * n, delta.ncols(), |row, j| {
            let (k, i) = (row / n, row % n);
            let p = &probs[i];
            let sk = p[k].sqrt();
            // A[c,k] = [c = k]√p_k − p_c√p_k
            let mix: f64 = (0..c_out).map(|c| p[c] * delta[(c * n + i, j)]).sum();
            sk * (delta[(k * n + i, j)] - mix)
        });
        let beta = (0..c_out * n)
            .map(|row| g[row] / probs[row % n][row / n].max(1e-300).sqrt())
            .collect();
        Self { x, beta }
    }

    /// Bᵀ Y / N (N × cols): row n = Σ_c β_{c·N+n} Y[c·N+n, :] / N for a K × cols matrix Y.
    fn combine(&self, y: &Mat<f64>, n: usize) -> Mat<f64> {
        let classes = self.x.nrows() / n;
        Mat::from_fn(n, y.ncols(), |i, j| {
            (0..classes)
                .map(|c| self.beta[c * n + i] * y[(c * n + i, j)])
                .sum::<f64>()
                / n as f64
        })
    }
}

/// Cholesky of X Xᵀ/N + ρI (rows × rows; N the sample count).
fn damped_gram(
    x: &Mat<f64>,
    n: usize,
    rho: f64,
    what: &str,
    first_input: bool,
) -> Result<Cholesky> {
    damped_cholesky(gram(x.as_ref()), n, rho, what, first_input)
}

/// Cholesky of XᵀX/N + ρI (d × d, only used when d < rows).
fn factor_inverse_explicit(
    x: &Mat<f64>,
    n: usize,
    rho: f64,
    what: &str,
    first_input: bool,
) -> Result<Cholesky> {
    damped_cholesky(x.transpose() * x, n, rho, what, first_input)
}

/// Cholesky of G/N + ρI for an unscaled Gram G.
fn damped_cholesky(g: Mat<f64>, n: usize, rho: f64, what: &str, first: bool) -> Result<Cholesky> {
    let mut g = g * Scale(1.0 / n as f64);
    add_to_diagonal(&mut g, rho);
    Cholesky::new(g.as_ref(), what).map_err(|err| input_error(err, first))
}

/// X (XᵀX/N + ρ)⁻¹ (K × d), explicit when d < K, else pushed through: (XXᵀ/N + ρ)⁻¹ X.
fn right_inverse(
    x: &Mat<f64>,
    n: usize,
    rho: f64,
    what: &str,
    first_input: bool,
) -> Result<Mat<f64>> {
    if x.ncols() >= x.nrows() {
        Ok(damped_gram(x, n, rho, what, first_input)?.solve(x.as_ref()))
    } else {
        let chol = factor_inverse_explicit(x, n, rho, what, first_input)?;
        Ok(chol.solve(x.transpose()).transpose().to_owned())
    }
}

/// A singular first-layer input factor becomes [`OptimError::SingularInputFactor`].
fn input_error(err: ngd_linalg::LinalgError, first_input: bool) -> OptimError {
    match err {
        ngd_linalg::LinalgError::Singular { .. } if first_input => {
            OptimError::SingularInputFactor { source: err }
        }
        err => err.into(),
    }
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

    #[test]
    fn kfac_without_damping_on_a_singular_input_gram_suggests_forster() {
        // A duplicated sample makes the input Gram h̃₀h̃₀ᵀ (6 × 6, pushed through since 11 ≥ N)
        // singular, as when M_0 < N.
        let mut f = synthetic_factors(6, 1, &[10, 12, 1], 33);
        let row: Vec<f64> = (0..11).map(|j| f.layers[0].input[(0, j)]).collect();
        for (j, v) in row.into_iter().enumerate() {
            f.layers[0].input[(1, j)] = v;
        }
        let err = Kfac::default().direction(&f, &residual(6)).unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(err, crate::OptimError::SingularInputFactor { .. })
                && msg.contains("singular")
                && msg.contains("Forster"),
            "{msg}"
        );
        let damped = Kfac {
            damping: 1e-2,
            ..Kfac::default()
        };
        assert!(damped.direction(&f, &residual(6)).is_ok());
    }
}
