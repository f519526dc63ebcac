//! K-FAC (eq. 20), C = 1: ΔW̃_l = (B*_l + ρ_B)⁻¹ ∇_{W̃_l}L (A*_{l−1} + ρ_A)⁻¹ with
//! A* = h̃ᵀh̃/N, B* = δᵀδ/N and ∇_{W̃_l}L = δᵀ diag(e) h̃ / N (MATH.md §3).
//!
//! A factor of dimension d ≥ N is applied through the push-through identity
//! (XᵀX/N + ρ)⁻¹Xᵀ = Xᵀ(XXᵀ/N + ρ)⁻¹ (an N × N solve; never a d × d matrix); a smaller one
//! explicitly (d × d). With both factors pushed through, the step is the dual coefficient
//! R_l = (H̃/N + ρ_A)⁻¹ diag(e) (D/N + ρ_B)⁻¹ δ / N with H̃ = h̃h̃ᵀ, D = δδᵀ, so that
//! Δ(W_lᵀ | b_l) = h̃ᵀR_l; when A* is explicit the step is returned dense.

use crate::direction::{Direction, LayerStep};
use crate::{Curvature, OptimError, Result, check_residual};
use faer::{Mat, Scale};
use ngd_linalg::{Cholesky, add_to_diagonal, gram};
use ngd_model::{Factors, LayerFactors};

/// K-FAC NGD (eq. 20) with π-corrected damping split; α = N(L−1) + 1 at ρ → 0 (see [`Kfac::alpha`]).
#[derive(Debug, Clone, Default)]
pub struct Kfac {
    /// Damping ρ ≥ 0, split as ρ_A = √ρ·π_l, ρ_B = √ρ/π_l.
    pub damping: f64,
}

impl Curvature for Kfac {
    fn name(&self) -> &'static str {
        "kfac"
    }

    /// Θ̄ = αI at the training points for ρ → 0 with full-rank N × N Grams: each hidden layer
    /// gives N·(δδᵀ(δδᵀ)⁻¹ ⊙ H̃H̃⁻¹) = N·I (push-through on both factors), while the last layer,
    /// whose B*_L = δ_Lᵀδ_L/N = 1 is 1 × 1 (C = 1, δ_L = 1), is exactly BD's block and gives I.
    /// So α = N(L−1) + 1; the paper's eq. 21 states N·L (its last term is N·A A⁻¹).
    fn alpha(&self, factors: &Factors) -> Option<f64> {
        Some((factors.samples() * (factors.depth() - 1) + 1) as f64)
    }

    fn direction(&self, factors: &Factors, residual: &[f64]) -> Result<Direction> {
        check_residual(factors, residual)?;
        if factors.outputs_dim() != 1 {
            return Err(OptimError::Unsupported(format!(
                "kfac is implemented for one output (C = 1, eq. 20) only, got C = {}; \
                 use exact, block-diagonal or layer-wise NGD for several classes",
                factors.outputs_dim()
            )));
        }
        let layers = factors
            .layers
            .iter()
            .enumerate()
            .map(|(l, layer)| self.layer_step(layer, l, residual))
            .collect::<Result<Vec<_>>>()?;
        Ok(Direction { layers })
    }
}

impl Kfac {
    /// (ρ_A, ρ_B) = (√ρ·π, √ρ/π), π = √((tr A*/dim A)/(tr B*/dim B)) (Martens & Grosse 2015).
    pub fn damping_split(&self, layer: &LayerFactors) -> (f64, f64) {
        if self.damping == 0.0 {
            return (0.0, 0.0);
        }
        let n = layer.input.nrows() as f64;
        let tr_a = layer.input.squared_norm_l2() / n / layer.input.ncols() as f64;
        let tr_b = layer.delta.squared_norm_l2() / n / layer.delta.ncols() as f64;
        let pi = (tr_a / tr_b).sqrt();
        let root = self.damping.sqrt();
        (root * pi, root / pi)
    }

    /// The step of layer l (0-based): dual coefficients, or dense when A* is explicit.
    fn layer_step(&self, layer: &LayerFactors, l: usize, e: &[f64]) -> Result<LayerStep> {
        let n = layer.input.nrows();
        let (rho_a, rho_b) = self.damping_split(layer);
        let what_b = format!("K-FAC factor B* of layer {}", l + 1);
        let what_a = format!("K-FAC factor A* of layer {}", l + 1);
        let hint = if l == 0 {
            " (the input Gram h̃₀h̃₀ᵀ is singular when M_0 < N or inputs are dependent: use \
             --forster or --damping)"
        } else {
            ""
        };
        if layer.input.ncols() >= n && layer.delta.ncols() >= n {
            // Both pushed through: R = P δ with the N × N P = (H̃/N + ρ_A)⁻¹ diag(e/N) (D/N + ρ_B)⁻¹,
            // so the only N × M products are the two Grams and P δ.
            let b_inv = damped_gram(&layer.delta, rho_b, &what_b, "")?.inverse();
            let scaled = Mat::from_fn(n, n, |i, j| e[i] * b_inv[(i, j)] / n as f64);
            let p = damped_gram(&layer.input, rho_a, &what_a, hint)?.solve(scaled.as_ref());
            return Ok(LayerStep::Coefficients(&p * &layer.delta));
        }
        // δ̂ = δ (B* + ρ_B)⁻¹ (N × M_l), then scaled row-wise by e/N: diag(e) δ̂ / N.
        let delta_hat = right_inverse(&layer.delta, rho_b, &what_b, "")?;
        let scaled = Mat::from_fn(n, delta_hat.ncols(), |i, j| {
            e[i] * delta_hat[(i, j)] / n as f64
        });
        if layer.input.ncols() >= n {
            // R = (H̃/N + ρ_A)⁻¹ diag(e) δ̂ / N.
            let chol = damped_gram(&layer.input, rho_a, &what_a, hint)?;
            Ok(LayerStep::Coefficients(chol.solve(scaled.as_ref())))
        } else {
            // Dense: Δ(W_lᵀ|b_l) = (A* + ρ_A)⁻¹ h̃ᵀ diag(e) δ̂ / N.
            let a = factor_inverse_explicit(&layer.input, rho_a, &what_a, hint)?;
            Ok(LayerStep::Dense(
                a.solve((layer.input.transpose() * &scaled).as_ref()),
            ))
        }
    }
}

/// Cholesky of X Xᵀ/N + ρI (N × N).
fn damped_gram(x: &Mat<f64>, rho: f64, what: &str, hint: &str) -> Result<Cholesky> {
    let n = x.nrows();
    let mut g = gram(x.as_ref()) * Scale(1.0 / n as f64);
    add_to_diagonal(&mut g, rho);
    Cholesky::new(g.as_ref(), what).map_err(|err| with_hint(err, hint))
}

/// Cholesky of XᵀX/N + ρI (d × d, only used when d < N).
fn factor_inverse_explicit(x: &Mat<f64>, rho: f64, what: &str, hint: &str) -> Result<Cholesky> {
    let n = x.nrows();
    let mut g = x.transpose() * x * Scale(1.0 / n as f64);
    add_to_diagonal(&mut g, rho);
    Cholesky::new(g.as_ref(), what).map_err(|err| with_hint(err, hint))
}

/// X (XᵀX/N + ρ)⁻¹ (N × d), explicit when d < N, else pushed through: (XXᵀ/N + ρ)⁻¹ X.
fn right_inverse(x: &Mat<f64>, rho: f64, what: &str, hint: &str) -> Result<Mat<f64>> {
    if x.ncols() >= x.nrows() {
        Ok(damped_gram(x, rho, what, hint)?.solve(x.as_ref()))
    } else {
        let chol = factor_inverse_explicit(x, rho, what, hint)?;
        Ok(chol.solve(x.transpose()).transpose().to_owned())
    }
}

fn with_hint(err: ngd_linalg::LinalgError, hint: &str) -> OptimError {
    if hint.is_empty() {
        err.into()
    } else {
        OptimError::Unsupported(format!("{err}{hint}"))
    }
}
