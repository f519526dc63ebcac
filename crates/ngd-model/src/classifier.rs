//! The networks `ngd train` builds ([`Arch`]): the MLP of eq. (1) or the fixed [`Cnn`], as one
//! burn module ([`Classifier`]) that the trainer, checkpoints and `ngd eval` share.

use crate::cnn::{Cnn, CnnConfig};
use crate::mlp::{Mlp, MlpConfig};
use burn::module::Module;
use burn::tensor::Tensor;
use ngd_optim::{FactoredModel, Tap};
use serde::{Deserialize, Serialize};

/// The architecture of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Arch {
    /// The MLP of eq. (1) (depth, width, activation and parameterisation as configured).
    #[default]
    Mlp,
    /// The fixed convolutional network of [`CnnConfig`].
    Cnn,
}

impl Arch {
    /// Whether this is the MLP (the default, left out of serialised configs).
    pub fn is_mlp(&self) -> bool {
        *self == Self::Mlp
    }
}

impl std::str::FromStr for Arch {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "mlp" => Ok(Self::Mlp),
            "cnn" => Ok(Self::Cnn),
            _ => Err(format!("unknown architecture '{s}' (expected mlp or cnn)")),
        }
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Mlp => "mlp",
            Self::Cnn => "cnn",
        })
    }
}

/// The shape of a [`Classifier`], as a checkpoint records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "arch")]
pub enum ClassifierConfig {
    /// The MLP.
    Mlp(MlpConfig),
    /// The CNN.
    Cnn(CnnConfig),
}

/// The MLP or the CNN behind one type.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)] // built once per run, never moved in a loop
pub enum Classifier {
    /// The MLP of eq. (1).
    Mlp(Mlp),
    /// The fixed CNN.
    Cnn(Cnn),
}

impl Classifier {
    /// The shape this network was built with.
    pub fn config(&self) -> ClassifierConfig {
        match self {
            Self::Mlp(m) => ClassifierConfig::Mlp(m.config.clone()),
            Self::Cnn(c) => ClassifierConfig::Cnn(c.config()),
        }
    }
}

impl FactoredModel for Classifier {
    fn forward_tapped(&self, x: Tensor<2>, tap: &mut Tap) -> Tensor<2> {
        match self {
            Self::Mlp(m) => m.forward_tapped(x, tap),
            Self::Cnn(c) => c.forward_tapped(x, tap),
        }
    }

    fn update_layer(&mut self, layer: usize, dw: Tensor<2>, db: Tensor<1>, lr: f64) {
        match self {
            Self::Mlp(m) => m.update_layer(layer, dw, db, lr),
            Self::Cnn(c) => c.update_layer(layer, dw, db, lr),
        }
    }
}
