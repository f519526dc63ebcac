//! The curvature objects and the default learning rates of the `--method` names
//! ([`MethodCurvature`]; the table itself is `ngd-core`'s [`Method`]).

use crate::Factors;
use crate::{
    BlockDiagonal, BlockTriDiagonal, Curvature, Diagonal, Exact, Gd, Kfac, LayerWise, Loss, LrRule,
    Method, MethodError, OptimError, QuasiDiagonal, Result, UnitWise,
};
use faer::Mat;
use ngd_linalg::symmetric_eigenvalues;

/// The optimizer's side of a [`Method`]: its curvature object and its learning rate at
/// initialisation (`use ngd_optim::MethodCurvature` to call them as methods).
pub trait MethodCurvature {
    /// The curvature object with damping ρ (`layer-wise` needs Σ: use
    /// [`MethodCurvature::curvature_with`]).
    fn curvature(self, damping: f64) -> std::result::Result<Box<dyn Curvature>, MethodError>;

    /// The curvature object with damping ρ and, for `layer-wise`, the L × L matrix Σ (eq. 15).
    fn curvature_with(
        self,
        damping: f64,
        sigma: Option<&Mat<f64>>,
    ) -> std::result::Result<Box<dyn Curvature>, MethodError>;

    /// The curvature object for `loss` (G = JᵀΛJ/N + ρ; cross-entropy only for gd, exact and
    /// the layer-wise methods).
    fn curvature_for(
        self,
        damping: f64,
        sigma: Option<&Mat<f64>>,
        loss: Loss,
    ) -> std::result::Result<Box<dyn Curvature>, MethodError>;

    /// [`MethodCurvature::curvature_for`] with the layer-wise dual solve's precision and damping
    /// convention ([`crate::DualSolve`]); non-default options are an error for other methods.
    fn curvature_dual(
        self,
        damping: f64,
        sigma: Option<&Mat<f64>>,
        loss: Loss,
        dual: crate::DualSolve,
    ) -> std::result::Result<Box<dyn Curvature>, MethodError>;

    /// The paper's optimal learning rate at initialisation: 1/α for NGD (Cor. 4.2), and
    /// 1/λ_max(Θ) for GD (Fig. 1a).
    fn default_lr(self, factors: &Factors) -> Result<f64>;

    /// η of [`Method::lr_rule`] for this method's `curvature` at the factors: 1/α (Cor. 4.2),
    /// 1/λ_max(Θ) for GD (eq. 5), 1/λ_max(Θ̄) for the entry-wise Fishers.
    fn optimal_lr(self, curvature: &dyn Curvature, factors: &Factors) -> Result<f64>;
}

impl MethodCurvature for Method {
    fn curvature(self, damping: f64) -> std::result::Result<Box<dyn Curvature>, MethodError> {
        self.curvature_with(damping, None)
    }

    fn curvature_with(
        self,
        damping: f64,
        sigma: Option<&Mat<f64>>,
    ) -> std::result::Result<Box<dyn Curvature>, MethodError> {
        self.curvature_for(damping, sigma, Loss::Mse)
    }

    fn curvature_for(
        self,
        damping: f64,
        sigma: Option<&Mat<f64>>,
        loss: Loss,
    ) -> std::result::Result<Box<dyn Curvature>, MethodError> {
        self.curvature_dual(damping, sigma, loss, crate::DualSolve::default())
    }

    fn curvature_dual(
        self,
        damping: f64,
        sigma: Option<&Mat<f64>>,
        loss: Loss,
        dual: crate::DualSolve,
    ) -> std::result::Result<Box<dyn Curvature>, MethodError> {
        self.check_dual_options(dual.is_default())?;
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
                "the cross-entropy loss is supported by every dual form but the entry-wise \
                 diagonal and quasi-diagonal Fishers, not by {self} (the diagonal Fisher takes \
                 it through its per-layer blocks: a sampled or empirical Fisher, running \
                 averages or intervals, and an explicit learning rate)"
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

    fn default_lr(self, factors: &Factors) -> Result<f64> {
        let curvature = self.curvature(0.0)?;
        self.optimal_lr(curvature.as_ref(), factors)
    }

    fn optimal_lr(self, curvature: &dyn Curvature, factors: &Factors) -> Result<f64> {
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
