//! Unit-wise NGD (eq. 23), C = 1: unit i of layer l steps g_iᵀ(g_i g_iᵀ + NρI)⁻¹e with
//! g_i = diag(δ_{l,i}) h̃_{l−1}, so g_i g_iᵀ = diag(δ_i) H̃ diag(δ_i), H̃ = h̃h̃ᵀ shared per layer.
//!
//! In coefficient form R_l[n, i] = δ_i(n) u_i(n), u_i = (g_i g_iᵀ + NρI)⁺ e. With ρ = 0 the
//! pseudo-inverse is exact on the active set S_i = {n : δ_i(n) ≠ 0} (ReLU units are off on
//! some samples): R_l[S_i, i] = H̃[S_i, S_i]⁻¹ (e_S / δ_S), zero elsewhere.
//!
//! Θ̄ (eq. 11) is then Σ_units P_{S_i}, the coordinate projectors onto the active sets (when
//! H̃[S_i, S_i] is invertible): diagonal, with Θ̄_nn = number of units active at sample n.
//! Hence α̂ = tr Θ̄ / N = Σ_units |S_i| / N, which is γM(L−1) + 1 at large width (Theorem 5.1;
//! γ = 1/2 for ReLU, 1 for tanh; the single output unit contributes 1).

use crate::direction::Direction;
use crate::{Curvature, OptimError, Result, check_residual};
use faer::Mat;
use ngd_linalg::{Cholesky, add_to_diagonal, col};
use ngd_model::{Factors, LayerFactors};
use rayon::prelude::*;

/// Unit-wise NGD (eq. 23); α̂ = Σ_units |S_i| / N measured from the factors.
#[derive(Debug, Clone, Default)]
pub struct UnitWise {
    /// Damping ρ ≥ 0 (ρ = 0: exact active-set pseudo-inverse).
    pub damping: f64,
}

impl Curvature for UnitWise {
    fn name(&self) -> &'static str {
        "unit-wise"
    }

    fn alpha(&self, factors: &Factors) -> Option<f64> {
        let active: usize = factors
            .layers
            .iter()
            .map(|l| {
                (0..l.delta.ncols())
                    .map(|i| active_set(l, i).len())
                    .sum::<usize>()
            })
            .sum();
        Some(active as f64 / factors.samples() as f64)
    }

    fn direction(&self, factors: &Factors, residual: &[f64]) -> Result<Direction> {
        check_residual(factors, residual)?;
        if factors.outputs_dim() != 1 {
            return Err(OptimError::Unsupported(format!(
                "unit-wise NGD is implemented for one output (C = 1, eq. 23) only, got C = {}",
                factors.outputs_dim()
            )));
        }
        let coefficients = factors
            .layers
            .iter()
            .enumerate()
            .map(|(l, layer)| self.layer_coefficients(layer, l, residual))
            .collect::<Result<Vec<_>>>()?;
        Ok(Direction::from_coefficients(coefficients))
    }
}

impl UnitWise {
    /// R_l (N × M_l), one small solve per unit, in parallel over units.
    fn layer_coefficients(&self, layer: &LayerFactors, l: usize, e: &[f64]) -> Result<Mat<f64>> {
        let h = layer.input_gram();
        let columns = (0..layer.delta.ncols())
            .into_par_iter()
            .map(|i| self.unit_coefficients(layer, &h, i, e, l))
            .collect::<Result<Vec<_>>>()?;
        Ok(Mat::from_fn(e.len(), columns.len(), |n, i| columns[i][n]))
    }

    /// R_l[:, i] = δ_i ⊙ (diag(δ_i) H̃ diag(δ_i) + NρI)⁺ e for unit i.
    fn unit_coefficients(
        &self,
        layer: &LayerFactors,
        h: &Mat<f64>,
        i: usize,
        e: &[f64],
        l: usize,
    ) -> Result<Vec<f64>> {
        let n = e.len();
        let d = layer.delta.col(i);
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
        let s = active_set(layer, i);
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

/// S_i = {n : δ_i(n) ≠ 0}, the samples on which unit i of the layer is active.
fn active_set(layer: &LayerFactors, i: usize) -> Vec<usize> {
    let d = layer.delta.col(i);
    (0..d.nrows()).filter(|&n| d[n] != 0.0).collect()
}
