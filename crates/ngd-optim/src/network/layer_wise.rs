//! Layer-wise NGD with a general symmetric Σ (eq. 15): block diagonal (Σ = I) and block
//! tri-diagonal (eq. 19) are special cases; α = 1ᵀΣ⁻¹1 (Theorem 4.1).

use super::require_damping;
use super::{DualDiagnostics, DualSolve, Precision};
use crate::Factors;
use crate::direction::{Direction, dual_to_coefficients};
use crate::sigma::{SigmaError, check_square, check_symmetric, layerwise_weights};
use crate::{Curvature, Loss, OptimError, Result, check_dual_size, check_residual};
use faer::Mat;
use faer::linalg::solvers::Solve;
use ngd_linalg::{
    Cholesky, LinalgError, add_to_diagonal, col, solve_general, symmetric_eigen, to_vec,
};

/// Layer-wise NGD: layer l steps J_lᵀ v_l with [(Σ⊗I_CN)ΛK + NρI] v = 1_L ⊗ g (eq. 15; Λ = I
/// and g = e for MSE). [`DualSolve`] selects float32 arithmetic and the authors' 2ρ in place of
/// Nρ. At ρ = 0 with a singular Σ whose range holds 1_L (the tri-diagonal Σ at L = 3s+2), v is
/// the ρ → 0 limit of the damped solution (see [`LayerWise::pseudo_inverse_limit`]).
#[derive(Debug, Clone)]
pub struct LayerWise {
    /// Σ, L × L, symmetric.
    pub sigma: Mat<f64>,
    /// Damping ρ ≥ 0.
    pub damping: f64,
    /// The command-line name (`block-tri-diagonal` or `layer-wise`).
    pub name: &'static str,
    /// The loss whose Fisher is used (K_l → ΛK_l for cross-entropy).
    pub loss: Loss,
    /// Precision and damping convention of the dual solve.
    pub dual: DualSolve,
}

impl LayerWise {
    /// Block tri-diagonal NGD: Σ_ij = 1 for |i − j| ≤ 1 (eq. 19).
    pub fn tridiagonal(depth: usize, damping: f64) -> Self {
        Self {
            sigma: crate::sigma::tridiagonal_sigma(depth),
            damping,
            name: "block-tri-diagonal",
            loss: Loss::Mse,
            dual: DualSolve::default(),
        }
    }

    /// Layer-wise NGD with a user Σ, validated symmetric and square (eq. 15).
    pub fn with_sigma(sigma: Mat<f64>, damping: f64) -> Result<Self> {
        check_square(sigma.as_ref())?;
        check_symmetric(sigma.as_ref())?;
        Ok(Self {
            sigma,
            damping,
            name: "layer-wise",
            loss: Loss::Mse,
            dual: DualSolve::default(),
        })
    }

    /// Σ⁻¹1_L, the layer weights of Θ̄ (eq. 16); a clear error when Σ is singular.
    pub fn weights(&self) -> Result<Vec<f64>> {
        Ok(layerwise_weights(self.sigma.as_ref())?)
    }

    fn check_depth(&self, factors: &Factors) -> Result<()> {
        if self.sigma.nrows() != factors.depth() {
            return Err(SigmaError::Shape(format!(
                "{} NGD: Σ is {}×{} but the network has depth L = {}",
                self.name,
                self.sigma.nrows(),
                self.sigma.ncols(),
                factors.depth()
            ))
            .into());
        }
        Ok(())
    }
}

impl Curvature for LayerWise {
    fn name(&self) -> &'static str {
        self.name
    }

    fn alpha(&self, _: &Factors) -> Option<f64> {
        self.weights().ok().map(|w| w.iter().sum())
    }

    fn direction(&self, factors: &Factors, residual: &[f64]) -> Result<Direction> {
        Ok(self.direction_with_diagnostics(factors, residual)?.0)
    }

    fn direction_with_diagnostics(
        &self,
        factors: &Factors,
        residual: &[f64],
    ) -> Result<(Direction, Option<DualDiagnostics>)> {
        let (v, grams) = self.dual_vector(factors, residual)?;
        let cn = residual.len();
        let diagnostics = self.diagnostics(&grams, &v, residual)?;
        let coefficients = (0..factors.depth())
            .map(|l| dual_to_coefficients(factors, l, &v[l * cn..(l + 1) * cn]))
            .collect();
        Ok((
            Direction::from_coefficients(coefficients),
            Some(diagnostics),
        ))
    }
}

impl LayerWise {
    /// The dual vector v = (v_1, …, v_L) of the step (eq. 15) and the layer Grams ΛK_l.
    pub fn dual_vector(
        &self,
        factors: &Factors,
        residual: &[f64],
    ) -> Result<(Vec<f64>, Vec<Mat<f64>>)> {
        check_residual(factors, residual)?;
        self.check_depth(factors)?;
        let cn = residual.len();
        let depth = factors.depth();
        check_dual_size(cn * depth, 2, "the layer-wise system (Σ⊗I)K")?;
        require_damping(self.loss, self.damping)?;
        let grams: Vec<Mat<f64>> = factors
            .layers
            .iter()
            .map(|l| self.loss.weight_gram(&factors.outputs, l.jacobian_gram()))
            .collect();
        if self.damping == 0.0 && self.weights().is_err() {
            // Σ singular: the ρ → 0 limit, defined when 1_L ∈ range Σ (else the Σ error).
            if self.dual.precision != Precision::F64 {
                return Err(OptimError::PseudoInverseLimitPrecision);
            }
            let v = self.pseudo_inverse_limit(&grams, residual)?;
            return Ok((v, grams));
        }
        let diagonal = self
            .dual
            .convention
            .diagonal(factors.samples(), self.damping);
        let system = layerwise_system(&self.sigma, &grams, diagonal);
        let rhs: Vec<f64> = (0..depth).flat_map(|_| residual.iter().copied()).collect();
        let what = format!("{} NGD system (Σ⊗I)K + dI", self.name);
        let v = match self.dual.precision {
            Precision::F64 => {
                to_vec(solve_general(system.as_ref(), col(&rhs).as_ref(), &what)?.as_ref())
            }
            Precision::F32 => solve_f32(&system, &rhs, &what)?,
        };
        Ok((v, grams))
    }

    /// The ρ → 0 limit of v(ρ) = [(Σ⊗I)K + NρI]⁻¹(1⊗e) for a singular Σ with 1 ∈ range Σ and
    /// invertible K_l, i.e. the dual form of F⁺∇L (F symmetric, ∇L ∈ range F). With u_l = K_l v_l
    /// and Z an orthonormal basis of Σ's null space, every ρ > 0 solution satisfies
    /// (Σ⊗I)u + NρK⁻¹u = 1⊗e and, projecting on Z, Σ_l Z_lj K_l⁻¹u_l = 0. The limit therefore
    /// is u_l = c_l e + Σ_j Z_lj w_j with c = Σ⁺1 and w from the kCN × kCN system
    /// Σ_j [Σ_l Z_li Z_lj K_l⁻¹] w_j = −Σ_l Z_li c_l K_l⁻¹e; v_l = K_l⁻¹u_l. Computed in float64.
    pub fn pseudo_inverse_limit(&self, grams: &[Mat<f64>], residual: &[f64]) -> Result<Vec<f64>> {
        let depth = self.sigma.nrows();
        let cn = residual.len();
        let eig = symmetric_eigen(self.sigma.as_ref(), "layer-wise Σ")?;
        let scale = eig.values.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        let tol = 1e-10 * scale.max(1.0);
        let null: Vec<usize> = (0..depth).filter(|&k| eig.values[k].abs() <= tol).collect();
        let q = &eig.vectors;
        // 1 ∈ range Σ ⇔ Zᵀ1 = 0.
        let leak = null
            .iter()
            .map(|&k| (0..depth).map(|l| q[(l, k)]).sum::<f64>().powi(2))
            .sum::<f64>()
            .sqrt();
        if leak > 1e-8 * (depth as f64).sqrt() {
            return Err(crate::sigma::SigmaError::Singular {
                depth,
                hint: format!(
                    ": 1_L has a component {leak:.3e} along Σ's null space, so the ρ → 0 limit \
                     does not exist"
                ),
            }
            .into());
        }
        // c = Σ⁺1 over the non-null eigenpairs.
        let c: Vec<f64> = (0..depth)
            .map(|l| {
                (0..depth)
                    .filter(|k| !null.contains(k))
                    .map(|k| {
                        let proj: f64 = (0..depth).map(|i| q[(i, k)]).sum();
                        q[(l, k)] * proj / eig.values[k]
                    })
                    .sum()
            })
            .collect();
        let inverses: Vec<Mat<f64>> = grams
            .iter()
            .enumerate()
            .map(|(l, g)| {
                Ok(Cholesky::new(g.as_ref(), &format!("layer {} Gram K_l", l + 1))?.inverse())
            })
            .collect::<std::result::Result<_, LinalgError>>()?;
        let e = col(residual);
        let kinv_e: Vec<Mat<f64>> = inverses.iter().map(|k| k * &e).collect();
        let k = null.len();
        let a = Mat::from_fn(k * cn, k * cn, |r, s| {
            let (i, j) = (null[r / cn], null[s / cn]);
            (0..depth)
                .map(|l| q[(l, i)] * q[(l, j)] * inverses[l][(r % cn, s % cn)])
                .sum()
        });
        let b = Mat::from_fn(k * cn, 1, |r, _| {
            let i = null[r / cn];
            -(0..depth)
                .map(|l| q[(l, i)] * c[l] * kinv_e[l][(r % cn, 0)])
                .sum::<f64>()
        });
        let w = solve_general(
            a.as_ref(),
            b.as_ref(),
            "pseudo-inverse limit of layer-wise NGD",
        )?;
        let mut v = vec![0.0; depth * cn];
        for l in 0..depth {
            let mut u = Mat::from_fn(cn, 1, |n, _| c[l] * residual[n]);
            for (jj, &j) in null.iter().enumerate() {
                for n in 0..cn {
                    u[(n, 0)] += q[(l, j)] * w[(jj * cn + n, 0)];
                }
            }
            let vl = &inverses[l] * &u;
            for n in 0..cn {
                v[l * cn + n] = vl[(n, 0)];
            }
        }
        Ok(v)
    }

    /// [`DualDiagnostics`] of a dual vector v for the Grams K_l and residual e.
    fn diagnostics(
        &self,
        grams: &[Mat<f64>],
        v: &[f64],
        residual: &[f64],
    ) -> Result<DualDiagnostics> {
        let depth = self.sigma.nrows();
        let cn = residual.len();
        let eig = symmetric_eigen(self.sigma.as_ref(), "layer-wise Σ")?;
        let k = (0..depth)
            .min_by(|&a, &b| eig.values[a].abs().total_cmp(&eig.values[b].abs()))
            .unwrap_or(0);
        let mut acc = Mat::<f64>::zeros(cn, 1);
        for (l, g) in grams.iter().enumerate() {
            let kv = g * col(&v[l * cn..(l + 1) * cn]);
            for n in 0..cn {
                acc[(n, 0)] += eig.vectors[(l, k)] * kv[(n, 0)];
            }
        }
        let e_norm = residual.iter().map(|x| x * x).sum::<f64>().sqrt();
        Ok(DualDiagnostics {
            null_component: acc.norm_l2() / e_norm,
        })
    }
}

/// Solves a x = b with a and b rounded to float32, by LU in float32; x back in float64.
/// A non-finite solution is reported as a singular system.
fn solve_f32(a: &Mat<f64>, b: &[f64], what: &str) -> Result<Vec<f64>> {
    let n = a.nrows();
    let a32 = Mat::<f32>::from_fn(n, n, |i, j| a[(i, j)] as f32);
    let b32 = Mat::<f32>::from_fn(n, 1, |i, _| b[i] as f32);
    let x = a32.partial_piv_lu().solve(&b32);
    let v: Vec<f64> = (0..n).map(|i| x[(i, 0)] as f64).collect();
    if v.iter().any(|x| !x.is_finite()) {
        return Err(LinalgError::Singular {
            what: format!("{what} (float32)"),
            n,
            how: "float32 LU gave a non-finite solution",
        }
        .into());
    }
    Ok(v)
}

/// (Σ⊗I_CN) blockdiag(K_l) + dI, LCN × LCN (block (i, j) is Σ_ij K_j; d = Nρ or 2ρ).
fn layerwise_system(sigma: &Mat<f64>, grams: &[Mat<f64>], diagonal: f64) -> Mat<f64> {
    let cn = grams[0].nrows();
    let size = cn * grams.len();
    let mut a = Mat::from_fn(size, size, |r, c| {
        sigma[(r / cn, c / cn)] * grams[c / cn][(r % cn, c % cn)]
    });
    add_to_diagonal(&mut a, diagonal);
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LayerWise;
    use crate::coefficient_matrix;
    use crate::parse_sigma;
    use crate::testing::{dense_steps, identity_times, residual, synthetic_factors};
    use crate::{Method, MethodCurvature};
    use faer::Mat;
    use ngd_linalg::max_abs_diff;

    /// Θ̄ = αI (Theorem 4.1) for the tri-diagonal Σ (L = 4, α = 2) and a user Σ, with C = 2
    /// (P ≫ CN so ρ = 0 is exact; tolerance 1e-8).
    #[test]
    fn layerwise_sigma_is_isotropic_with_alpha() {
        let f = synthetic_factors(5, 2, &[20, 24, 21, 22, 2], 22);
        let tb = coefficient_matrix(
            Method::BlockTriDiagonal.curvature(0.0).unwrap().as_ref(),
            &f,
        )
        .unwrap();
        assert!(max_abs_diff(tb.as_ref(), identity_times(2.0, 10).as_ref()) < 1e-8);
        let sigma = parse_sigma("1,0.5,0,0;0.5,1,0.5,0;0,0.5,1,0.2;0,0,0.2,1").unwrap();
        let lw = LayerWise::with_sigma(sigma, 0.0).unwrap();
        let alpha = lw.alpha(&f).unwrap();
        let tb = coefficient_matrix(&lw, &f).unwrap();
        assert!(max_abs_diff(tb.as_ref(), identity_times(alpha, 10).as_ref()) < 1e-8);
        // Σ = I is block-diagonal NGD.
        let bd = Method::BlockDiagonal.curvature(0.0).unwrap();
        let lw = LayerWise::with_sigma(Mat::identity(4, 4), 0.0).unwrap();
        let e = residual(10);
        let (a, b) = (bd.direction(&f, &e).unwrap(), lw.direction(&f, &e).unwrap());
        for (x, y) in dense_steps(&f, &a).iter().zip(&dense_steps(&f, &b)) {
            assert!(max_abs_diff(x.as_ref(), y.as_ref()) < 1e-9);
        }
    }
}
