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
