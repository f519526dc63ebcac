//! Scalar helpers of the spectral calculus: (1 − ηλ)^t gains, memoised maps over
//! eigenvalues, significant layer weights and the isotropic value of a diagonal.

use crate::{KernelError, Result};

/// 1 − (1 − ηλ)^t, or its t → ∞ limit 1 (error when |1 − ηλ| ≥ 1).
pub(super) fn gain(eta: f64, lambda: f64, t: Option<usize>) -> Result<f64> {
    let x = eta * lambda;
    match t {
        None => {
            let factor = (1.0 - x).abs();
            if factor < 1.0 {
                Ok(1.0)
            } else {
                Err(KernelError::NoLimit {
                    eta,
                    lambda,
                    factor,
                })
            }
        }
        Some(t) => Ok(one_minus_pow(x, t)),
    }
}

/// 1 − (1 − x)^t, accurate for small x (−expm1(t·ln(1 − x)) when 1 − x > 0).
pub(super) fn one_minus_pow(x: f64, t: usize) -> f64 {
    let base = 1.0 - x;
    if base > 0.0 {
        -(t as f64 * (-x).ln_1p()).exp_m1()
    } else {
        1.0 - base.powf(t as f64)
    }
}

/// gain/λ = Σ_{k<t} η(1−ηλ)^k, with the λ → 0 limit ηt (t finite).
pub(super) fn ratio(gain: f64, lambda: f64, eta: f64, t: Option<usize>) -> f64 {
    if lambda != 0.0 {
        gain / lambda
    } else {
        t.map_or(f64::INFINITY, |t| eta * t as f64)
    }
}

/// Applies g to each entry, evaluating it once per distinct value run (isotropic: once).
pub(super) fn memoised_map(d: &[f64], g: &impl Fn(f64) -> Result<f64>) -> Result<Vec<f64>> {
    let mut out = Vec::with_capacity(d.len());
    let mut last: Option<(f64, f64)> = None;
    for &v in d {
        let gv = match last {
            Some((lv, lg)) if lv == v => lg,
            _ => g(v)?,
        };
        last = Some((v, gv));
        out.push(gv);
    }
    Ok(out)
}

/// Zeroes weights that are rounding noise (|w_l| ≤ 1e-13·Σ|w|) so that their Θ_l need no
/// factorisation (e.g. tri-diagonal L = 3: Σ⁻¹1 = (0, 1, 0)); returns (weights, α = Σ w_l).
pub(super) fn significant_weights(mut w: Vec<f64>) -> (Vec<f64>, f64) {
    let total: f64 = w.iter().map(|v| v.abs()).sum();
    for v in &mut w {
        if v.abs() <= 1e-13 * total {
            *v = 0.0;
        }
    }
    let alpha = w.iter().sum();
    (w, alpha)
}

/// Some(α) when every entry equals the first to 1e-12 relative, else None.
pub(super) fn isotropic_value(d: &[f64]) -> Option<f64> {
    let first = *d.first()?;
    d.iter()
        .all(|&v| (v - first).abs() <= 1e-12 * first.abs())
        .then_some(first)
}
