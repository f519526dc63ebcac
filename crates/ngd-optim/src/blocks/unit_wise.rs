//! Unit-wise NGD (eq. 23): unit i of layer l steps g_iᵀ(g_i g_iᵀ + NρI)⁺e with
//! g_i = diag(δ_{l,i}) h̃_{l−1}, so g_i g_iᵀ = diag(δ_i) H̃ diag(δ_i), H̃ = h̃h̃ᵀ shared per layer.
//!
//! C > 1 outputs: g_i (CN × (M_{l−1}+1)) has rows δ^{(c)}_i(n) h̃(n), i.e. g_i g_iᵀ = V H̃ Vᵀ with
//! V = [diag(δ^{(1)}_i); …; diag(δ^{(C)}_i)], whose columns are orthogonal with norms
//! d_n = ‖δ_i(n)‖. Push-through gives the same per-unit N × N form as for C = 1 with
//! δ_i → d and e → w, w_n = Σ_c δ^{(c)}_i(n) e_{c,n} / d_n:
//! R_l[:, i] = d ⊙ (diag(d) H̃ diag(d) + NρI)⁻¹ w (ρ > 0), and R_l[S, i] = H̃[S,S]⁻¹ (w_S / d_S)
//! on the active set S = {n : d_n ≠ 0} for ρ = 0 (V Λ⁻¹ H̃⁻¹ Λ⁻¹ Vᵀ is then (VH̃Vᵀ)⁺).
//!
//! In coefficient form R_l[n, i] = δ_i(n) u_i(n), u_i = (g_i g_iᵀ + NρI)⁺ e. With ρ = 0 the
//! pseudo-inverse is exact on the active set S_i = {n : δ_i(n) ≠ 0} (ReLU units are off on
//! some samples): R_l[S_i, i] = H̃[S_i, S_i]⁻¹ (e_S / δ_S), zero elsewhere.
//!
//! Cross-entropy: unit i's Gram g_iᵀΛg_i = Hᵀ diag(d²) H with d_n² = δ_i(n)ᵀΛ_nδ_i(n) (Λ is
//! block-diagonal over samples), so the same N × N form holds with that d and
//! w_n = Σ_c δ^{(c)}_i(n) r_{c,n} / d_n (MATH.md §8).
//!
//! Θ̄ (eq. 11) is then Σ_units P_{S_i}, the coordinate projectors onto the active sets (when
//! H̃[S_i, S_i] is invertible): diagonal, with Θ̄_nn = number of units active at sample n.
//! Hence α̂ = tr Θ̄ / N = Σ_units |S_i| / N, which is γM(L−1) + 1 at large width (Theorem 5.1;
//! γ = 1/2 for ReLU, 1 for tanh; the single output unit contributes 1). For C > 1 each unit
//! projects every active sample's C-block onto δ_i(n)/d_n, and α̂ = Σ_units |S_i| / (CN).
//!
//! With damping ρ > 0 the step applies Θ̄ = Σ_units K_i (K_i + NρI)⁻¹ (K_i = g_i g_iᵀ), and α̂
//! is that operator's mean eigenvalue Σ_units tr[K_i (K_i + NρI)⁻¹] / (CN), so the default
//! learning rate 1/α̂ follows the damping (it tends to the active-unit count as ρ → 0).

use crate::direction::Direction;
use crate::loss::output_hessian;
use crate::{Curvature, Loss, Result, check_residual};
use crate::{Factors, LayerFactors};
use faer::Mat;
use ngd_linalg::{Cholesky, add_to_diagonal, col};
use rayon::prelude::*;

/// Unit-wise NGD (eq. 23); α̂ = Σ_units |S_i| / (CN) measured from the factors.
#[derive(Debug, Clone, Default)]
pub struct UnitWise {
    /// Damping ρ ≥ 0 (ρ = 0: exact active-set pseudo-inverse).
    pub damping: f64,
    /// The loss whose Fisher is used: with cross-entropy unit i's Gram is g_iᵀΛg_i, which keeps
    /// the per-unit N × N form with d_n² = δ_i(n)ᵀΛ_nδ_i(n) (module docs).
    pub loss: Loss,
}

impl Curvature for UnitWise {
    fn name(&self) -> &'static str {
        "unit-wise"
    }

    /// ρ = 0: Σ_units |S_i| / (CN). ρ > 0: the mean eigenvalue of the damped operator the step
    /// applies, Θ̄ = Σ_units K_i (K_i + NρI)⁻¹ (K_i = g_i g_iᵀ), i.e.
    /// α̂ = Σ_units tr[K_i (K_i + NρI)⁻¹] / (CN) = Σ_units (N − Nρ·tr (K_i + NρI)⁻¹) / (CN)
    /// (K_i's non-zero spectrum is that of the N × N diag(d) H̃ diag(d) of `unit_signal`).
    fn alpha(&self, factors: &Factors) -> Option<f64> {
        let cn = (factors.samples() * factors.outputs_dim()) as f64;
        if self.damping > 0.0 {
            let lambda: Option<Vec<Mat<f64>>> = (self.loss == Loss::CrossEntropy).then(|| {
                (0..factors.samples())
                    .map(|i| output_hessian(self.loss, &factors.outputs, i))
                    .collect()
            });
            let zeros = vec![0.0; factors.samples() * factors.outputs_dim()];
            let mut total = 0.0;
            for layer in &factors.layers {
                let h = layer.input_gram();
                let traces = (0..layer.delta.ncols())
                    .into_par_iter()
                    .map(|i| {
                        let (d, _) = match lambda.as_deref() {
                            None => unit_signal(layer, i, &zeros, h.nrows()),
                            Some(lambda) => unit_signal_weighted(layer, i, &zeros, lambda),
                        };
                        self.damped_trace(&h, &d)
                    })
                    .collect::<Option<Vec<f64>>>()?;
                total += traces.iter().sum::<f64>();
            }
            return Some(total / cn);
        }
        let active: usize = factors
            .layers
            .iter()
            .map(|l| {
                (0..l.delta.ncols())
                    .map(|i| active_set(l, i).len())
                    .sum::<usize>()
            })
            .sum();
        Some(active as f64 / cn)
    }

    fn direction(&self, factors: &Factors, residual: &[f64]) -> Result<Direction> {
        check_residual(factors, residual)?;
        let lambda: Option<Vec<Mat<f64>>> = (self.loss == Loss::CrossEntropy).then(|| {
            (0..factors.samples())
                .map(|i| output_hessian(self.loss, &factors.outputs, i))
                .collect()
        });
        let coefficients = factors
            .layers
            .iter()
            .enumerate()
            .map(|(l, layer)| self.layer_coefficients(layer, l, residual, lambda.as_deref()))
            .collect::<Result<Vec<_>>>()?;
        Ok(Direction::from_coefficients(coefficients))
    }
}

impl UnitWise {
    /// R_l (N × M_l), one small solve per unit, in parallel over units.
    fn layer_coefficients(
        &self,
        layer: &LayerFactors,
        l: usize,
        e: &[f64],
        lambda: Option<&[Mat<f64>]>,
    ) -> Result<Mat<f64>> {
        let h = layer.input_gram();
        let columns = (0..layer.delta.ncols())
            .into_par_iter()
            .map(|i| {
                let (d, w) = match lambda {
                    None => unit_signal(layer, i, e, h.nrows()),
                    Some(lambda) => unit_signal_weighted(layer, i, e, lambda),
                };
                self.unit_coefficients(&h, &d, &w, i, l)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Mat::from_fn(layer.input.nrows(), columns.len(), |n, i| {
            columns[i][n]
        }))
    }

    /// tr[K (K + NρI)⁻¹] = N − Nρ·tr (K + NρI)⁻¹ for K = diag(d) H̃ diag(d) (ρ > 0); units
    /// with d = 0 contribute 0.
    fn damped_trace(&self, h: &Mat<f64>, d: &[f64]) -> Option<f64> {
        if d.iter().all(|&x| x == 0.0) {
            return Some(0.0);
        }
        let n = h.nrows();
        let nrho = n as f64 * self.damping;
        let mut g = Mat::from_fn(n, n, |a, b| d[a] * h[(a, b)] * d[b]);
        add_to_diagonal(&mut g, nrho);
        let inv = Cholesky::new(g.as_ref(), "unit-wise damped Gram")
            .ok()?
            .inverse();
        let tr_inv: f64 = (0..n).map(|k| inv[(k, k)]).sum();
        Some((n as f64 - nrho * tr_inv).max(0.0))
    }

    /// R_l[:, i] = d ⊙ (diag(d) H̃ diag(d) + NρI)⁺ w for unit i (d, w: [`unit_signal`]); at
    /// ρ = 0 on the active set {n : d_n > 0}.
    fn unit_coefficients(
        &self,
        h: &Mat<f64>,
        d: &[f64],
        e: &[f64],
        i: usize,
        l: usize,
    ) -> Result<Vec<f64>> {
        let n = h.nrows();
        let mut out = vec![0.0; n];
        let what = || format!("unit-wise NGD Gram of unit {i} in layer {}", l + 1);
        if self.damping > 0.0 {
            let mut g = Mat::from_fn(n, n, |a, b| d[a] * h[(a, b)] * d[b]);
            add_to_diagonal(&mut g, n as f64 * self.damping);
            let u = Cholesky::new(g.as_ref(), &what())?.solve(col(e).as_ref());
            for (k, o) in out.iter_mut().enumerate() {
                *o = d[k] * u[(k, 0)];
            }
            return Ok(out);
        }
        let s: Vec<usize> = (0..n).filter(|&k| d[k] > 0.0).collect();
        if s.is_empty() {
            return Ok(out);
        }
        let hs = Mat::from_fn(s.len(), s.len(), |a, b| h[(s[a], s[b])]);
        let rhs = Mat::from_fn(s.len(), 1, |a, _| e[s[a]] / d[s[a]]);
        let what = format!("{} (restricted to its {} active samples)", what(), s.len());
        let x = Cholesky::new(hs.as_ref(), &what)?.solve(rhs.as_ref());
        for (a, &k) in s.iter().enumerate() {
            out[k] = x[(a, 0)];
        }
        Ok(out)
    }
}

/// d_n = ‖δ_i(n)‖ over the C outputs and w_n = Σ_c δ^{(c)}_i(n) e_{c,n} / d_n (0 where d_n = 0);
/// for C = 1 this is d = |δ_i|, w = sign(δ_i) e, so that d ⊙ w / d² = e / δ_i.
fn unit_signal(layer: &LayerFactors, i: usize, e: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let c_out = layer.delta.nrows() / n;
    let delta = layer.delta.col(i);
    (0..n)
        .map(|k| {
            let norm = (0..c_out)
                .map(|c| delta[c * n + k].powi(2))
                .sum::<f64>()
                .sqrt();
            let dot: f64 = (0..c_out).map(|c| delta[c * n + k] * e[c * n + k]).sum();
            (norm, if norm > 0.0 { dot / norm } else { 0.0 })
        })
        .unzip()
}

/// Cross-entropy: d_n = √(δ_i(n)ᵀΛ_nδ_i(n)) and w_n = Σ_c δ^{(c)}_i(n) r_{c,n} / d_n (0 where
/// d_n = 0, where the numerator vanishes too: δ_i(n) ∝ 1 and 1ᵀr_n = 0).
fn unit_signal_weighted(
    layer: &LayerFactors,
    i: usize,
    r: &[f64],
    lambda: &[Mat<f64>],
) -> (Vec<f64>, Vec<f64>) {
    let n = lambda.len();
    let c_out = layer.delta.nrows() / n;
    let delta = layer.delta.col(i);
    (0..n)
        .map(|k| {
            let v = |c: usize| delta[c * n + k];
            let quad: f64 = (0..c_out)
                .flat_map(|c| (0..c_out).map(move |b| (c, b)))
                .map(|(c, b)| v(c) * lambda[k][(c, b)] * v(b))
                .sum();
            let norm = quad.max(0.0).sqrt();
            let dot: f64 = (0..c_out).map(|c| v(c) * r[c * n + k]).sum();
            (norm, if norm > 0.0 { dot / norm } else { 0.0 })
        })
        .unzip()
}

/// S_i = {n : δ_i(n) ≠ 0 for some output}, the samples on which unit i of the layer is active.
fn active_set(layer: &LayerFactors, i: usize) -> Vec<usize> {
    let n = layer.input.nrows();
    let c_out = layer.delta.nrows() / n;
    let d = layer.delta.col(i);
    (0..n)
        .filter(|&k| (0..c_out).any(|c| d[c * n + k] != 0.0))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Loss;
    use crate::UnitWise;
    use crate::coefficient_matrix;
    use crate::testing::{
        assert_layers_close, dense_steps, explicit_lambda, relu_like, relu_like_outputs, residual,
        targets, unit_wise_explicit, with_outputs,
    };
    use faer::Mat;
    use ngd_linalg::max_abs_diff;

    /// Unit-wise NGD for `loss` equals [`unit_wise_explicit`] with the output Hessian `lambda`
    /// at ρ = 0 (exact active-set path) and ρ = 0.05, relative 1e-8.
    fn assert_matches_explicit(f: &Factors, e: &[f64], lambda: &Mat<f64>, loss: Loss, what: &str) {
        for rho in [0.0, 0.05] {
            let uw = UnitWise { damping: rho, loss };
            let got = dense_steps(f, &uw.direction(f, e).unwrap());
            let want = unit_wise_explicit(f, e, lambda, rho);
            assert_layers_close(&got, &want, &format!("{what}, ρ = {rho}"));
        }
    }

    /// Unit-wise NGD equals the explicit per-unit (pseudo-)inverse: ρ = 0 (exact active-set
    /// path) and ρ = 0.05; relative tolerance 1e-8.
    #[test]
    fn unit_wise_equals_explicit_per_unit_pseudo_inverse() {
        let n = 6;
        let f = relu_like(n, &[10, 9, 8, 1], 41);
        let id = Mat::identity(n, n);
        assert_matches_explicit(&f, &residual(n), &id, Loss::Mse, "C = 1");
    }

    /// The same for C = 3 outputs (g_i is 3N × (M+1); the code's per-unit N × N push-through
    /// form against the explicit 3N × 3N pseudo-inverse), ρ = 0 and 0.05; relative tolerance 1e-8.
    #[test]
    fn unit_wise_several_outputs_equals_explicit_per_unit_pseudo_inverse() {
        let n = 5;
        let f = relu_like_outputs(n, 3, &[10, 9, 8, 3], 43);
        let id = Mat::identity(3 * n, 3 * n);
        assert_matches_explicit(&f, &residual(3 * n), &id, Loss::Mse, "C = 3");
        // α̂ = tr Θ̄ / (CN) (Θ̄ = Σ_units projectors)
        let tb = coefficient_matrix(&UnitWise::default(), &f).unwrap();
        let trace: f64 = (0..3 * n).map(|k| tb[(k, k)]).sum();
        let alpha = UnitWise::default().alpha(&f).unwrap();
        assert!(
            (trace / (3 * n) as f64 - alpha).abs() < 1e-9,
            "{trace} vs {alpha}"
        );
    }

    /// Cross-entropy unit-wise NGD (C = 3 softmax, C = 1 logistic) equals the explicit per-unit
    /// (g_iᵀΛg_i/N + ρ)⁺ g_iᵀr/N in parameter space (pseudo-inverse at ρ = 0); relative 1e-8.
    #[test]
    fn unit_wise_cross_entropy_equals_explicit_per_unit_fisher_inverse() {
        let n = 5;
        for c in [3, 1] {
            let f = with_outputs(relu_like_outputs(n, c, &[10, 9, 8, c], 47 + c as u64));
            let r = Loss::CrossEntropy.output_gradient(&f.outputs, &targets(n, c));
            let what = format!("cross-entropy, C = {c}");
            assert_matches_explicit(&f, &r, &explicit_lambda(&f), Loss::CrossEntropy, &what);
        }
    }

    /// With ρ = 0, Θ̄ = Σ_units P_{S_i} = diag(number of active units per sample) and α̂ is its
    /// mean (exact to 1e-9).
    #[test]
    fn unit_wise_theta_bar_counts_active_units() {
        let n = 6;
        let f = relu_like(n, &[10, 9, 8, 1], 42);
        let uw = UnitWise::default();
        let tb = coefficient_matrix(&uw, &f).unwrap();
        let counts: Vec<f64> = (0..n)
            .map(|s| {
                f.layers
                    .iter()
                    .map(|l| {
                        (0..l.delta.ncols())
                            .filter(|&i| l.delta[(s, i)] != 0.0)
                            .count()
                    })
                    .sum::<usize>() as f64
            })
            .collect();
        let want = Mat::from_fn(n, n, |i, j| if i == j { counts[i] } else { 0.0 });
        assert!(max_abs_diff(tb.as_ref(), want.as_ref()) < 1e-9);
        let mean = counts.iter().sum::<f64>() / n as f64;
        assert!((uw.alpha(&f).unwrap() - mean).abs() < 1e-12);
    }

    /// With ρ > 0, α̂ is the mean eigenvalue of the damped Θ̄ = Σ_units K_i (K_i + NρI)⁻¹ that
    /// the step applies (tr Θ̄ / (CN), Θ̄ from the directions), for C = 1 and C = 3 (MSE), to
    /// 1e-9; it is at most the active-unit count and within 2e-3 of it at
    /// ρ = 1e-9 (measured 7e-4: a near-singular H̃[S, S] direction of this tiny case).
    #[test]
    fn damped_alpha_is_the_mean_eigenvalue_of_the_damped_theta_bar() {
        let n = 6;
        for (c, loss) in [(1, Loss::Mse), (3, Loss::Mse)] {
            let f = with_outputs(relu_like_outputs(n, c, &[10, 9, 8, c], 51 + c as u64));
            let undamped = UnitWise { damping: 0.0, loss }.alpha(&f).unwrap();
            for rho in [1e-9, 1e-3, 0.05, 1.0] {
                let uw = UnitWise { damping: rho, loss };
                let tb = coefficient_matrix(&uw, &f).unwrap();
                let trace: f64 = (0..c * n).map(|k| tb[(k, k)]).sum();
                let alpha = uw.alpha(&f).unwrap();
                let want = trace / (c * n) as f64;
                assert!(
                    (alpha - want).abs() < 1e-9 * want.max(1.0),
                    "C = {c}, {loss:?}, ρ = {rho}: α̂ {alpha} vs tr Θ̄/(CN) {want}"
                );
                assert!(alpha <= undamped + 1e-9, "{alpha} > {undamped}");
                if rho == 1e-9 {
                    assert!(
                        (alpha - undamped).abs() < 2e-3 * undamped,
                        "{alpha} vs {undamped}"
                    );
                }
            }
        }
    }

    /// Cross-entropy with ρ > 0: α̂ is the mean eigenvalue of the damped Θ̄Λ that drives the
    /// output gradient (Δg ≈ −ηΛΘ̄g; per unit tr[K_i(K_i + NρI)⁻¹] with K_i = Λ^½g_ig_iᵀΛ^½),
    /// tr(Θ̄Λ)/(CN) from the directions with the explicit Λ, softmax C = 3 and logistic C = 1,
    /// to 1e-9; it falls as ρ grows.
    #[test]
    fn damped_alpha_with_cross_entropy_is_the_mean_eigenvalue_of_theta_bar_lambda() {
        let n = 5;
        for c in [3, 1] {
            let f = with_outputs(relu_like_outputs(n, c, &[10, 9, 8, c], 61 + c as u64));
            let lambda = explicit_lambda(&f);
            let mut previous = f64::INFINITY;
            for rho in [1e-4, 1e-2, 0.5] {
                let uw = UnitWise {
                    damping: rho,
                    loss: Loss::CrossEntropy,
                };
                let tl = coefficient_matrix(&uw, &f).unwrap() * &lambda;
                let want = (0..c * n).map(|k| tl[(k, k)]).sum::<f64>() / (c * n) as f64;
                let alpha = uw.alpha(&f).unwrap();
                assert!(
                    (alpha - want).abs() < 1e-9 * want.max(1.0),
                    "C = {c}, ρ = {rho}: α̂ {alpha} vs tr(Θ̄Λ)/(CN) {want}"
                );
                assert!(
                    alpha < previous && alpha > 0.0,
                    "C = {c}, ρ = {rho}: {alpha}"
                );
                previous = alpha;
            }
        }
    }
}
