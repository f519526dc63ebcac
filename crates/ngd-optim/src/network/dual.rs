//! Options of the layer-wise dual solve [(Σ⊗I)K + dI] v = 1_L ⊗ e: the arithmetic it is solved
//! in and the diagonal d that the damping ρ adds; and the per-step diagnostics of the solve.

use serde::{Deserialize, Serialize};

/// Arithmetic of the layer-wise dual solve.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Precision {
    /// float64 throughout (the default).
    #[default]
    F64,
    /// The system matrix and right-hand side are rounded to float32, solved by LU in float32
    /// (as JAX does by default), and the solution returned to float64.
    F32,
}

impl Precision {
    /// Whether this is the default (float64), for `skip_serializing_if`.
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// The burn float dtype of this precision (for the per-layer curvature blocks).
    pub fn dtype(self) -> burn::tensor::FloatDType {
        match self {
            Self::F64 => burn::tensor::FloatDType::F64,
            Self::F32 => burn::tensor::FloatDType::F32,
        }
    }
}

impl std::str::FromStr for Precision {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "f64" | "float64" => Ok(Self::F64),
            "f32" | "float32" => Ok(Self::F32),
            _ => Err(format!("unknown precision '{s}' (expected f64 or f32)")),
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::F64 => "f64",
            Self::F32 => "f32",
        })
    }
}

/// How the damping ρ enters the unnormalised dual matrix (Σ⊗I)K, K = blockdiag(K_l),
/// K_l = J_l J_lᵀ (Θ_l = K_l/N, MATH.md §2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DampingConvention {
    /// (Σ⊗I)K + NρI, the push-through of G = F + ρI with F = JᵀJ/N (MATH.md §3; the default).
    #[default]
    PerSample,
    /// (Σ⊗I)K + 2ρI, the authors' code: ρ enters as 2ρ, independent of N (equal to the
    /// per-sample convention at ρ' = 2ρ/N).
    Authors,
}

impl DampingConvention {
    /// The diagonal d added to (Σ⊗I)K for damping ρ and N samples.
    pub fn diagonal(self, samples: usize, damping: f64) -> f64 {
        match self {
            Self::PerSample => samples as f64 * damping,
            Self::Authors => 2.0 * damping,
        }
    }

    /// Whether this is the default (Nρ), for `skip_serializing_if`.
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

impl std::str::FromStr for DampingConvention {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "per-sample" | "n-rho" => Ok(Self::PerSample),
            "authors" | "2-rho" => Ok(Self::Authors),
            _ => Err(format!(
                "unknown damping convention '{s}' (expected per-sample or authors)"
            )),
        }
    }
}

impl std::fmt::Display for DampingConvention {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::PerSample => "per-sample",
            Self::Authors => "authors",
        })
    }
}

/// Precision and damping convention of the layer-wise dual solve.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DualSolve {
    /// Arithmetic of the solve.
    pub precision: Precision,
    /// How ρ enters the dual matrix.
    pub convention: DampingConvention,
}

impl DualSolve {
    /// Whether both options are the defaults (float64, Nρ).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// What a layer-wise dual solve measured about its solution v.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DualDiagnostics {
    /// ‖Σ_l z_l K_l v_l‖ / ‖e‖ with z the unit eigenvector of Σ of smallest |eigenvalue| (Σ's
    /// null vector when Σ is singular, e.g. (1, −1, 0, 1, −1)/2 for the tri-diagonal Σ at
    /// L = 5): the size of v's component along that direction, in function-space units (with
    /// K_l v_l = c_l e + z_l w it is ‖w‖/‖e‖ plus zᵀc).
    pub null_component: f64,
}
