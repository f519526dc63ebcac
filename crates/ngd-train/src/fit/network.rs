//! The networks the trainer builds from a run's configuration: the MLP of eq. (1) or the CNN.

use super::FitConfig;
use crate::Result;
use burn::tensor::Device;
use ngd_data::Holdout;
use ngd_model::{Arch, Classifier, ClassifierConfig, CnnConfig, MlpConfig};

/// The network of a run: the MLP's shape from `cfg`, or the CNN for the data's images.
pub fn classifier_config(cfg: &FitConfig, data: &Holdout) -> ClassifierConfig {
    match cfg.model.arch {
        Arch::Mlp => ClassifierConfig::Mlp(network_config(cfg, data)),
        Arch::Cnn => ClassifierConfig::Cnn(CnnConfig::new(data.image, data.classes)),
    }
}

/// The network of a run with `seed`'s initial weights on `device`.
pub fn build_classifier(
    config: &ClassifierConfig,
    seed: u64,
    device: &Device,
) -> Result<Classifier> {
    Ok(match config {
        ClassifierConfig::Mlp(c) => Classifier::Mlp(c.init(seed, device)?),
        ClassifierConfig::Cnn(c) => Classifier::Cnn(c.init(seed, device)?),
    })
}

/// The MLP of a run.
pub fn network_config(cfg: &FitConfig, data: &Holdout) -> MlpConfig {
    MlpConfig::new(
        data.train.dim,
        cfg.model.width,
        cfg.model.depth,
        data.classes,
    )
    .with_variances(cfg.model.sigma_w2, cfg.model.sigma_b2)
    .with_activation(cfg.model.activation)
    .with_parameterization(cfg.model.parameterization)
}
