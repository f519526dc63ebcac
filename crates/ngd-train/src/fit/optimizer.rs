//! [`OptimizerKind`]: the optimizer of a run, by the name the command line and configs use.

use ngd_optim::Method;
use serde::{Deserialize, Serialize};

/// The optimizer of a run: an NGD method, or one of burn's first-order optimizers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptimizerKind {
    /// Natural-gradient descent with this Fisher approximation ([`ngd_optim::Ngd`]).
    Ngd(Method),
    /// burn's SGD with (optionally Nesterov) momentum.
    Sgd,
    /// burn's Adam.
    Adam,
    /// burn's AdamW (decoupled weight decay).
    AdamW,
    /// burn's Muon on the hidden layers' weights, AdamW on the first and last layers and the
    /// biases ([`super::muon_optimizer`]).
    Muon,
}

impl OptimizerKind {
    /// The NGD method, if this is one.
    pub fn method(self) -> Option<Method> {
        match self {
            Self::Ngd(m) => Some(m),
            _ => None,
        }
    }
}

impl std::fmt::Display for OptimizerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ngd(m) => write!(f, "{m}"),
            Self::Sgd => f.write_str("sgd"),
            Self::Adam => f.write_str("adam"),
            Self::AdamW => f.write_str("adamw"),
            Self::Muon => f.write_str("muon"),
        }
    }
}

impl std::str::FromStr for OptimizerKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "sgd" => Ok(Self::Sgd),
            "adam" => Ok(Self::Adam),
            "adamw" => Ok(Self::AdamW),
            "muon" => Ok(Self::Muon),
            _ => s.parse::<Method>().map(Self::Ngd).map_err(|e| {
                format!("{e}; the first-order baselines are sgd, adam, adamw and muon")
            }),
        }
    }
}

impl Serialize for OptimizerKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for OptimizerKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optimizer_names_round_trip() {
        for name in ["sgd", "adam", "adamw", "muon", "kfac", "exact", "unit-wise"] {
            let kind: OptimizerKind = name.parse().unwrap();
            assert_eq!(kind.to_string(), name);
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(serde_json::from_str::<OptimizerKind>(&json).unwrap(), kind);
        }
        let err = "adagrad".parse::<OptimizerKind>().unwrap_err();
        assert!(err.contains("sgd, adam, adamw and muon"), "{err}");
    }
}
