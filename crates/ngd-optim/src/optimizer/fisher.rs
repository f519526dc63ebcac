//! Which Fisher K-FAC accumulates for cross-entropy.

use serde::{Deserialize, Serialize};

/// The output-side Fisher that K-FAC accumulates (for cross-entropy; MSE's Λ = I is exact).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Fisher {
    /// The true Fisher: Λ_n = diag(p_n) − p_np_nᵀ, C backward passes per statistics step.
    #[default]
    Exact,
    /// The true Fisher estimated with one label ŷ ~ p(y|x_n) per sample (Monte Carlo): one
    /// backward pass of Σ_n (p_n − e_ŷ)·f(x_n).
    Sampled,
    /// The empirical Fisher: the loss gradients themselves (biased; Kunstner et al. 2019).
    Empirical,
}

impl std::str::FromStr for Fisher {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "exact" => Ok(Self::Exact),
            "sampled" => Ok(Self::Sampled),
            "empirical" => Ok(Self::Empirical),
            _ => Err(format!(
                "unknown Fisher '{s}' (expected exact, sampled or empirical)"
            )),
        }
    }
}

impl std::fmt::Display for Fisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Exact => "exact",
            Self::Sampled => "sampled",
            Self::Empirical => "empirical",
        })
    }
}

/// How K-FAC's Kronecker factors treat a convolution's output locations (MATH.md §8c).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ConvFactors {
    /// K-FAC-expand (KFC, Grosse & Martens 2016): every location an extra row, A over N·R
    /// patches, S summed over the locations.
    Expand,
    /// K-FAC-reduce (Eschenhagen et al. 2023): patches averaged and signals summed over the
    /// locations per sample, N rows.
    #[default]
    Reduce,
}

impl std::str::FromStr for ConvFactors {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "expand" => Ok(Self::Expand),
            "reduce" => Ok(Self::Reduce),
            _ => Err(format!(
                "unknown convolution factors '{s}' (expected expand or reduce)"
            )),
        }
    }
}

impl std::fmt::Display for ConvFactors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Expand => "expand",
            Self::Reduce => "reduce",
        })
    }
}
