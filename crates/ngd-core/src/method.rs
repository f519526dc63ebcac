//! The `--method` names, their default damping and their learning-rate rules (the curvature
//! objects are `ngd-optim`'s `MethodCurvature`).

use faer::Mat;
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

    /// The dual-solve options (float32, the authors' damping convention) for this method:
    /// `Ok` when they are the defaults or the method solves a layer-wise dual system
    /// (block-tri-diagonal, layer-wise).
    pub fn check_dual_options(self, defaults: bool) -> Result<(), MethodError> {
        if defaults || matches!(self, Method::BlockTriDiagonal | Method::LayerWise) {
            Ok(())
        } else {
            Err(MethodError::DualOptions {
                method: self.name(),
            })
        }
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
    crate::sigma::check_square(sigma.as_ref())
        .and_then(|()| crate::sigma::check_symmetric(sigma.as_ref()))
        .map_err(|e| MethodError::Sigma(e.to_string()))?;
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
