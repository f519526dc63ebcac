//! The theory line of the train loss (MATH.md §4).

use crate::Result;
use ngd_linalg::symmetric_eigen;
use ngd_optim::Factors;

/// Predicted train loss per step: (1 − αη)^{2t}·loss₀ under the isotropic condition (eq. 10,
/// 12), or eq. (5) with the empirical NTK at initialisation for GD.
#[derive(Debug, Clone)]
pub enum TheoryLine {
    /// loss_t = (1 − αη)^{2t} loss₀.
    Isotropic {
        /// loss₀.
        loss0: f64,
        /// The contraction 1 − αη.
        factor: f64,
    },
    /// loss_t = 1/(2N) Σ_i (1 − ηλ_i)^{2t} c_i², with Θ = U diag(λ) Uᵀ and c = Uᵀe₀ (eq. 5).
    Ntk {
        /// Eigenvalues λ_i of Θ (CN × CN).
        eigenvalues: Vec<f64>,
        /// c_i² = (u_iᵀ e₀)².
        weights: Vec<f64>,
        /// η.
        lr: f64,
        /// N.
        samples: usize,
    },
}

impl TheoryLine {
    /// Builds the line for residual e₀ at initialisation; `alpha` is `None` for GD.
    pub fn new(factors: &Factors, e0: &[f64], alpha: Option<f64>, lr: f64) -> Result<Self> {
        let n = factors.samples();
        let loss0 = e0.iter().map(|e| e * e).sum::<f64>() / (2.0 * n as f64);
        if let Some(alpha) = alpha {
            return Ok(Self::Isotropic {
                loss0,
                factor: 1.0 - alpha * lr,
            });
        }
        let eig = symmetric_eigen(factors.ntk().as_ref(), "empirical NTK Θ")
            .map_err(ngd_optim::OptimError::from)?;
        let u = eig.vectors.as_ref();
        let weights = (0..u.ncols())
            .map(|i| {
                let c: f64 = (0..u.nrows()).map(|k| u[(k, i)] * e0[k]).sum();
                c * c
            })
            .collect();
        Ok(Self::Ntk {
            eigenvalues: eig.values,
            weights,
            lr,
            samples: n,
        })
    }

    /// The predicted train loss after `step` steps.
    pub fn train_loss(&self, step: usize) -> f64 {
        let t = step as i32;
        match self {
            Self::Isotropic { loss0, factor } => loss0 * factor.powi(2 * t),
            Self::Ntk {
                eigenvalues,
                weights,
                lr,
                samples,
            } => {
                let s: f64 = eigenvalues
                    .iter()
                    .zip(weights)
                    .map(|(l, w)| (1.0 - lr * l).powi(2 * t) * w)
                    .sum();
                s / (2.0 * *samples as f64)
            }
        }
    }
}
