//! The `--method` names, their curvature objects and their default learning rates.

use crate::{BlockDiagonal, Curvature, Exact, Gd, Result};
use ngd_linalg::symmetric_eigenvalues;
use ngd_model::Factors;
use serde::{Deserialize, Serialize};

/// An unknown or invalid method specification.
#[derive(Debug, thiserror::Error)]
pub enum MethodError {
    /// Name not recognised.
    #[error("unknown method '{name}' (expected one of: {})", Method::NAMES.join(", "))]
    Unknown { name: String },
    /// Negative or non-finite damping.
    #[error("damping must be finite and ≥ 0, got {0}")]
    Damping(f64),
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
}

impl Method {
    /// Every accepted `--method` name.
    pub const NAMES: &'static [&'static str] = &["gd", "exact", "block-diagonal"];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Method::Gd => "gd",
            Method::Exact => "exact",
            Method::BlockDiagonal => "block-diagonal",
        }
    }

    /// The curvature object with damping ρ.
    pub fn curvature(self, damping: f64) -> std::result::Result<Box<dyn Curvature>, MethodError> {
        if !(damping.is_finite() && damping >= 0.0) {
            return Err(MethodError::Damping(damping));
        }
        Ok(match self {
            Method::Gd => Box::new(Gd),
            Method::Exact => Box::new(Exact { damping }),
            Method::BlockDiagonal => Box::new(BlockDiagonal { damping }),
        })
    }

    /// The paper's optimal learning rate at initialisation: 1/α for NGD (Cor. 4.2), and
    /// 1/λ_max(Θ) for GD (Fig. 1a).
    pub fn default_lr(self, factors: &Factors) -> Result<f64> {
        match self {
            Method::Gd => Ok(1.0 / max_ntk_eigenvalue(factors)?),
            _ => {
                let alpha = self
                    .curvature(0.0)
                    .expect("zero damping is valid")
                    .alpha(factors)
                    .expect("NGD methods have an α");
                Ok(1.0 / alpha)
            }
        }
    }
}

impl std::str::FromStr for Method {
    type Err = MethodError;
    fn from_str(s: &str) -> std::result::Result<Self, MethodError> {
        match s {
            "gd" => Ok(Method::Gd),
            "exact" => Ok(Method::Exact),
            "block-diagonal" | "bd" => Ok(Method::BlockDiagonal),
            _ => Err(MethodError::Unknown { name: s.into() }),
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// λ_max of the empirical NTK Θ = JJᵀ/N (eq. 6).
pub fn max_ntk_eigenvalue(factors: &Factors) -> Result<f64> {
    let theta = factors.ntk();
    let values = symmetric_eigenvalues(theta.as_ref(), "empirical NTK Θ")?;
    Ok(*values.last().expect("non-empty NTK"))
}
