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
