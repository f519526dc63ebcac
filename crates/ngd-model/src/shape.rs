//! The paper's MLP apart from its data-given input and output sizes: depth L, width M, the
//! variances σ_w², σ_b² and φ (MATH.md §1), as runs record it and the command line takes it.

use crate::mlp::{Activation, DEFAULT_SIGMA_B2, DEFAULT_SIGMA_W2, MlpConfig};
use serde::{Deserialize, Serialize};

/// Depth L, width M, σ_w², σ_b² and φ of an NTK MLP (eq. 1–2); runs record these fields flat.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct MlpShape {
    /// Depth L (number of weight layers, ≥ 2).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = MlpShape::PAPER.depth))]
    pub depth: usize,
    /// Width M of every hidden layer.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = MlpShape::PAPER.width))]
    pub width: usize,
    /// Weight variance σ_w².
    #[cfg_attr(feature = "clap", arg(long, default_value_t = MlpShape::PAPER.sigma_w2))]
    pub sigma_w2: f64,
    /// Bias variance σ_b².
    #[cfg_attr(feature = "clap", arg(long, default_value_t = MlpShape::PAPER.sigma_b2))]
    pub sigma_b2: f64,
    /// Activation: relu or tanh.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = MlpShape::PAPER.activation))]
    pub activation: Activation,
}

impl MlpShape {
    /// The paper's quick-start network (Fig. 1a): L = 3, M = 4096, ReLU, σ_w² = 2, σ_b² = 0.
    pub const PAPER: Self = Self {
        depth: 3,
        width: 4096,
        sigma_w2: DEFAULT_SIGMA_W2,
        sigma_b2: DEFAULT_SIGMA_B2,
        activation: Activation::Relu,
    };

    /// The NTK MLP of this shape from `inputs` (M_0) to `outputs` (C = M_L).
    pub fn config(&self, inputs: usize, outputs: usize) -> MlpConfig {
        MlpConfig::new(inputs, self.width, self.depth, outputs)
            .with_variances(self.sigma_w2, self.sigma_b2)
            .with_activation(self.activation)
    }
}

impl Default for MlpShape {
    fn default() -> Self {
        Self::PAPER
    }
}
