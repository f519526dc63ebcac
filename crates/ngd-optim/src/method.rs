//! The `--method` names, their curvature objects and their default learning rates.

use crate::Factors;
use crate::{
    BlockDiagonal, BlockTriDiagonal, Curvature, Diagonal, Exact, Gd, Kfac, LayerWise, Loss,
    OptimError, QuasiDiagonal, Result, UnitWise,
};
use faer::Mat;
use ngd_linalg::symmetric_eigenvalues;
use serde::{Deserialize, Serialize};

/// An unknown or invalid method specification.
#[derive(Debug, thiserror::Error)]
pub enum MethodError {
    /// Name not recognised.
    #[error("unknown method '{name}' (expected one of: {})", Method::ALL.map(Method::name).join(", "))]
    Unknown {
        /// The name given.
        name: String,
    },
    /// Negative or non-finite damping.
    #[error("damping must be finite and ≥ 0, got {0}")]
    Damping(f64),
    /// `layer-wise` without Σ, or a malformed Σ.
    #[error("{0}")]
    Sigma(String),
    /// A loss the method does not support.
    #[error("{0}")]
    Loss(String),
    /// Dual-solve options (float32, the authors' damping) for a method without a layer-wise
    /// dual system.
    #[error(
        "{method}: the dual-solve precision and damping convention apply only to the layer-wise \
         methods (block-tri-diagonal, layer-wise)"
    )]
    DualOptions {
        /// The method.
        method: &'static str,
    },
}

/// An optimisation method of the paper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Gradient descent (eq. 4).
    Gd,
    /// Exact (pseudo-inverse) NGD (eq. 9).
    Exact,
    /// Block-diagonal NGD (Sec. 4.1).
    BlockDiagonal,
    /// Block tri-diagonal NGD (eq. 19).
    BlockTriDiagonal,
    /// Layer-wise NGD with a user Σ (eq. 15).
    LayerWise,
    /// K-FAC (eq. 20), any number of outputs (MATH.md §8).
    Kfac,
    /// Unit-wise NGD (eq. 23), any number of outputs.
    UnitWise,
    /// Entry-wise diagonal FIM (Fig. 3).
    Diagonal,
    /// Quasi-diagonal FIM (Ollivier 2015; Fig. 3).
    QuasiDiagonal,
}

impl Method {
    /// Whether the theory predicts the train loss of this method: eq. (5) for GD, and
    /// Θ̄ = αI (eq. 12) for exact, layer-wise, K-FAC and unit-wise NGD; the entry-wise
    /// Fishers are not isotropic (Fig. 3), so they have no line.
    pub fn has_theory_line(self) -> bool {
        !matches!(self, Method::Diagonal | Method::QuasiDiagonal)
    }

    /// Every method, in the paper's order.
    pub const ALL: [Method; 9] = [
        Method::Gd,
        Method::Exact,
        Method::BlockDiagonal,
        Method::BlockTriDiagonal,
        Method::LayerWise,
        Method::Kfac,
        Method::UnitWise,
        Method::Diagonal,
        Method::QuasiDiagonal,
    ];

    /// Short aliases accepted by [`str::parse`] besides [`Method::name`].
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            Method::BlockDiagonal => &["bd"],
            Method::BlockTriDiagonal => &["btd"],
            Method::Kfac => &["k-fac"],
            _ => &[],
        }
    }

    /// The default damping ρ of this method at hidden width M: 0 (the pseudo-inverse limit) for
    /// all but unit-wise NGD, whose default is [`UNIT_WISE_DAMPING_TIMES_WIDTH`]/M. A unit's Gram
    /// entries are O(1/M) in the NTK parameterisation, so this is ρ̄ = 4e-8 on the Gram rescaled
    /// by M (Theorem 5.1's normalisation, experiments/theorem51-damping): at ρ = 0 ReLU
    /// unit-wise NGD diverges on MNIST 0 vs 7, with the theorem's ρ̄ = M^(−ε), ε < 1/12, the
    /// damping dominates the Gram and 1/α̂ overshoots; ρ̄ = 4e-8 converges at M = 256–4096.
    pub fn default_damping(self, width: usize) -> f64 {
        match self {
            Method::UnitWise => UNIT_WISE_DAMPING_TIMES_WIDTH / width.max(1) as f64,
            _ => 0.0,
        }
    }

    /// How the paper's learning rate of this method is set at initialisation.
    pub fn lr_rule(self) -> LrRule {
        match self {
            Method::Gd => LrRule::InverseMaxNtkEigenvalue,
            // Not isotropic (Fig. 3): like GD, 1/λ_max of their Θ̄.
            Method::Diagonal | Method::QuasiDiagonal => LrRule::InverseMaxThetaBarEigenvalue,
            _ => LrRule::InverseAlpha,
        }
    }

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Method::Gd => "gd",
            Method::Exact => "exact",
            Method::BlockDiagonal => "block-diagonal",
            Method::BlockTriDiagonal => "block-tri-diagonal",
            Method::LayerWise => "layer-wise",
            Method::Kfac => "kfac",
            Method::UnitWise => "unit-wise",
            Method::Diagonal => "diagonal",
            Method::QuasiDiagonal => "quasi-diagonal",
        }
    }

    /// The curvature object with damping ρ (`layer-wise` needs Σ: use [`Method::curvature_with`]).
    pub fn curvature(self, damping: f64) -> std::result::Result<Box<dyn Curvature>, MethodError> {
        self.curvature_with(damping, None)
    }

    /// The curvature object with damping ρ and, for `layer-wise`, the L × L matrix Σ (eq. 15).
    pub fn curvature_with(
        self,
        damping: f64,
        sigma: Option<&Mat<f64>>,
    ) -> std::result::Result<Box<dyn Curvature>, MethodError> {
        self.curvature_for(damping, sigma, Loss::Mse)
    }

    /// The curvature object for `loss` (G = JᵀΛJ/N + ρ; cross-entropy only for gd, exact and
    /// the layer-wise methods).
    pub fn curvature_for(
        self,
        damping: f64,
        sigma: Option<&Mat<f64>>,
        loss: Loss,
    ) -> std::result::Result<Box<dyn Curvature>, MethodError> {
        self.curvature_dual(damping, sigma, loss, crate::DualSolve::default())
    }

    /// [`Method::curvature_for`] with the layer-wise dual solve's precision and damping
    /// convention ([`crate::DualSolve`]); non-default options are an error for other methods.
    pub fn curvature_dual(
        self,
        damping: f64,
        sigma: Option<&Mat<f64>>,
        loss: Loss,
        dual: crate::DualSolve,
    ) -> std::result::Result<Box<dyn Curvature>, MethodError> {
        if !dual.is_default() && !matches!(self, Method::BlockTriDiagonal | Method::LayerWise) {
            return Err(MethodError::DualOptions {
                method: self.name(),
            });
        }
        if !(damping.is_finite() && damping >= 0.0) {
            return Err(MethodError::Damping(damping));
        }
        if sigma.is_some() && self != Method::LayerWise {
            return Err(MethodError::Sigma(format!(
                "Σ is only used by the layer-wise method, not by {self}"
            )));
        }
        let supports_ce = !matches!(self, Method::Diagonal | Method::QuasiDiagonal);
        if loss == Loss::CrossEntropy && !supports_ce {
            return Err(MethodError::Loss(format!(
                "the cross-entropy loss is supported by every method but the entry-wise \
                 diagonal and quasi-diagonal Fishers, not by {self}"
            )));
        }
        Ok(match self {
            Method::Gd => Box::new(Gd),
            Method::Exact => Box::new(Exact { damping, loss }),
            Method::BlockDiagonal => Box::new(BlockDiagonal { damping, loss }),
            Method::BlockTriDiagonal => Box::new(BlockTriDiagonal {
                damping,
                loss,
                dual,
            }),
            Method::LayerWise => {
                let sigma = sigma.ok_or_else(|| {
                    MethodError::Sigma("layer-wise NGD needs Σ (L×L, symmetric)".into())
                })?;
                let mut lw = LayerWise::with_sigma(sigma.clone(), damping)
                    .map_err(|e| MethodError::Sigma(e.to_string()))?;
                lw.loss = loss;
                lw.dual = dual;
                Box::new(lw)
            }
            Method::Kfac => Box::new(Kfac { damping, loss }),
            Method::UnitWise => Box::new(UnitWise { damping, loss }),
            Method::Diagonal => Box::new(Diagonal { damping }),
            Method::QuasiDiagonal => Box::new(QuasiDiagonal { damping }),
        })
    }

    /// The paper's optimal learning rate at initialisation: 1/α for NGD (Cor. 4.2), and
    /// 1/λ_max(Θ) for GD (Fig. 1a).
    pub fn default_lr(self, factors: &Factors) -> Result<f64> {
        let curvature = self
            .curvature(0.0)
            .map_err(|e| OptimError::Unsupported(e.to_string()))?;
        self.optimal_lr(curvature.as_ref(), factors)
    }

    /// η of [`Method::lr_rule`] for this method's `curvature` at the factors: 1/α (Cor. 4.2),
    /// 1/λ_max(Θ) for GD (eq. 5), 1/λ_max(Θ̄) for the entry-wise Fishers.
    pub fn optimal_lr(self, curvature: &dyn Curvature, factors: &Factors) -> Result<f64> {
        match self.lr_rule() {
            LrRule::InverseMaxNtkEigenvalue => Ok(1.0 / max_ntk_eigenvalue(factors)?),
            LrRule::InverseMaxThetaBarEigenvalue => {
                Ok(1.0 / max_coefficient_eigenvalue(curvature, factors, 50)?)
            }
            LrRule::InverseAlpha => match curvature.alpha(factors) {
                Some(alpha) if alpha > 0.0 => Ok(1.0 / alpha),
                _ => Err(OptimError::NoDefaultLr {
                    method: self.name(),
                }),
            },
        }
    }
}

/// Unit-wise NGD's default damping times the hidden width M ([`Method::default_damping`]).
pub const UNIT_WISE_DAMPING_TIMES_WIDTH: f64 = 4e-8;

/// The paper's learning-rate rule of a method (Cor. 4.2, Fig. 1a, Fig. 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LrRule {
    /// η = 1/α of the isotropic Θ̄ = αI (eq. 12).
    InverseAlpha,
    /// η = 1/λ_max(Θ), the stable GD step (eq. 5).
    InverseMaxNtkEigenvalue,
    /// η = 1/λ_max(Θ̄) for a Θ̄ that is not isotropic.
    InverseMaxThetaBarEigenvalue,
}

/// Parses Σ from "1,0.5,0;0.5,1,0.5;0,0.5,1" (rows separated by ';'), checked square and
/// symmetric (eq. 15).
pub fn parse_sigma(text: &str) -> std::result::Result<Mat<f64>, MethodError> {
    let rows: Vec<Vec<f64>> = text
        .split(';')
        .map(|row| {
            row.split(',')
                .map(|v| v.trim().parse::<f64>())
                .collect::<std::result::Result<Vec<_>, _>>()
        })
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| MethodError::Sigma(format!("Σ '{text}': {e}")))?;
    let l = rows.len();
    if let Some(bad) = rows.iter().find(|r| r.len() != l) {
        return Err(MethodError::Sigma(format!(
            "Σ '{text}' must be L×L; it has {l} rows but a row of length {}",
            bad.len()
        )));
    }
    let sigma = Mat::from_fn(l, l, |i, j| rows[i][j]);
    LayerWise::with_sigma(sigma.clone(), 0.0).map_err(|e| MethodError::Sigma(e.to_string()))?;
    Ok(sigma)
}

impl std::str::FromStr for Method {
    type Err = MethodError;
    fn from_str(s: &str) -> std::result::Result<Self, MethodError> {
        Method::ALL
            .into_iter()
            .find(|m| m.name() == s || m.aliases().contains(&s))
            .ok_or_else(|| MethodError::Unknown { name: s.into() })
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// λ_max of Θ̄ = JG⁻¹Jᵀ/N (eq. 11, symmetric PSD) by power iteration on e ↦ JΔθ(e).
pub fn max_coefficient_eigenvalue(
    curvature: &dyn Curvature,
    factors: &Factors,
    iterations: usize,
) -> Result<f64> {
    let cn = factors.samples() * factors.outputs_dim();
    let mut v: Vec<f64> = (0..cn).map(|k| 1.0 + 0.1 * ((k * 7) % 5) as f64).collect();
    let mut lambda = 0.0;
    for _ in 0..iterations {
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        v.iter_mut().for_each(|x| *x /= norm);
        let w = crate::function_step(factors, &curvature.direction(factors, &v)?);
        lambda = v.iter().zip(&w).map(|(a, b)| a * b).sum();
        v = w;
    }
    Ok(lambda)
}

/// λ_max of the empirical NTK Θ = JJᵀ/N (eq. 6).
pub fn max_ntk_eigenvalue(factors: &Factors) -> Result<f64> {
    let theta = factors.ntk();
    let values = symmetric_eigenvalues(theta.as_ref(), "empirical NTK Θ")?;
    Ok(*values.last().expect("non-empty NTK"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LayerWise;
    use crate::Method;
    use crate::parse_sigma;
    use crate::testing::{residual, synthetic_factors, wide};
    use faer::Mat;

    #[test]
    fn unknown_method_lists_the_valid_ones() {
        let err = "kfca".parse::<Method>().unwrap_err().to_string();
        assert!(
            err.contains("kfca") && err.contains("block-diagonal"),
            "{err}"
        );
        assert!(Method::Exact.curvature(-1.0).is_err());
        assert!(Method::Exact.curvature(f64::NAN).is_err());
    }

    #[test]
    fn sigma_parsing_rejects_bad_matrices() {
        assert!(parse_sigma("1,0.5;0.5,1").is_ok());
        assert!(
            parse_sigma("1,0.5;0.4,1")
                .unwrap_err()
                .to_string()
                .contains("symmetric")
        );
        assert!(
            parse_sigma("1,0;0")
                .unwrap_err()
                .to_string()
                .contains("L×L")
        );
        assert!(parse_sigma("1,x;0,1").is_err());
        let f = synthetic_factors(4, 1, &wide(3), 23);
        let lw = LayerWise::with_sigma(Mat::identity(2, 2), 0.0).unwrap();
        assert!(
            lw.direction(&f, &residual(4))
                .unwrap_err()
                .to_string()
                .contains("depth")
        );
        assert!(Method::LayerWise.curvature(0.0).is_err());
    }
}
