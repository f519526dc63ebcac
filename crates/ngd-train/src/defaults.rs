//! The defaults of a run, in one place for the command line (`ngd train`, `ngd bench`,
//! `ngd predict`, …) and the experiment configs of `ngd figure`: the paper's quick-start
//! setting (Fig. 1a), MNIST '0' vs '7', N = 100, N′ = 50, L = 3, M = 4096, ReLU, σ_w² = 2,
//! σ_b² = 0 (the NTK network's own defaults, [`ngd_model::MlpConfig::new`]).

use ngd_data::DatasetName;
use ngd_model::Activation;
use ngd_optim::Method;

/// Dataset.
pub const DATASET: DatasetName = DatasetName::Mnist;
/// Classes (two: one output with targets ±½).
pub const CLASSES: &str = "0,7";
/// Training samples N.
pub const N_TRAIN: usize = 100;
/// Test samples N′.
pub const N_TEST: usize = 50;
/// Depth L.
pub const DEPTH: usize = 3;
/// Hidden width M.
pub const WIDTH: usize = 4096;
/// σ_w².
pub const SIGMA_W2: f64 = ngd_model::DEFAULT_SIGMA_W2;
/// σ_b².
pub const SIGMA_B2: f64 = ngd_model::DEFAULT_SIGMA_B2;
/// Activation φ.
pub const ACTIVATION: Activation = Activation::Relu;
/// Seed of the initial weights.
pub const SEED: u64 = 0;
/// Method.
pub const METHOD: Method = Method::BlockDiagonal;
/// Damping ρ (0: the pseudo-inverse limit of the paper).
pub const DAMPING: f64 = 0.0;
/// Training steps.
pub const STEPS: usize = 3;
/// Backend.
pub const BACKEND: &str = "flex";

/// K-FAC's defaults for the CNN (`ngd train --arch cnn --method kfac` without these flags),
/// from a grid on 5,120 CIFAR-10 images at batch 128 (README, "CNN on CIFAR-10"): the sampled
/// Fisher, K-FAC-reduce factors, running averages with β = 0.95, statistics every 5 steps and
/// inverses every 10, ρ = 0.01, η = 0.3 and KL clipping at 1e-3 (without it η = 0.1 already
/// diverged by step 14).
pub mod cnn_kfac {
    /// Decay β of the running factor averages.
    pub const DECAY: f64 = 0.95;
    /// Statistics every this many steps.
    pub const STATS_INTERVAL: usize = 5;
    /// Inverses every this many steps.
    pub const INVERSE_INTERVAL: usize = 10;
    /// Damping ρ.
    pub const DAMPING: f64 = 0.01;
    /// Learning rate η.
    pub const LR: f64 = 0.3;
    /// KL clipping c.
    pub const KL_CLIP: f64 = 1e-3;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The command line shows the defaults with `Display` and parses them back.
    #[test]
    fn typed_defaults_round_trip_through_their_names() {
        assert_eq!(DATASET.to_string().parse::<DatasetName>().unwrap(), DATASET);
        assert_eq!(
            ACTIVATION.to_string().parse::<Activation>().unwrap(),
            ACTIVATION
        );
        assert_eq!(METHOD.to_string().parse::<Method>().unwrap(), METHOD);
        assert_eq!(CLASSES.split(',').count(), 2);
    }
}
