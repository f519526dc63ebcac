//! The defaults of a run, in one place for the command line (`ngd train`, `ngd bench`,
//! `ngd predict`, …) and the experiment configs of `ngd figure`: the paper's quick-start
//! setting (Fig. 1a), MNIST '0' vs '7', N = 100, N′ = 50, L = 3, M = 4096, ReLU, σ_w² = 2,
//! σ_b² = 0 (the NTK network's own defaults, [`ngd_model::MlpConfig::new`]).

use ngd_data::DatasetName;
use ngd_model::{Activation, MlpShape};
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
pub const DEPTH: usize = MlpShape::PAPER.depth;
/// Hidden width M.
pub const WIDTH: usize = MlpShape::PAPER.width;
/// σ_w².
pub const SIGMA_W2: f64 = MlpShape::PAPER.sigma_w2;
/// σ_b².
pub const SIGMA_B2: f64 = MlpShape::PAPER.sigma_b2;
/// Activation φ.
pub const ACTIVATION: Activation = MlpShape::PAPER.activation;
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

/// K-FAC's mini-batch defaults for one network (`ngd train --batch-size B --method kfac`
/// without these flags).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KfacDefaults {
    /// The output-side Fisher.
    pub fisher: ngd_optim::Fisher,
    /// Decay β of the running factor averages.
    pub decay: f64,
    /// Statistics every this many steps.
    pub stats_interval: usize,
    /// Inverses every this many steps.
    pub inverse_interval: usize,
    /// Inverses with every statistics update during the first this many steps (`None`: off).
    pub inverse_warmup: Option<usize>,
    /// Damping ρ.
    pub damping: f64,
    /// Learning rate η.
    pub lr: f64,
    /// KL clipping c (`None`: off).
    pub kl_clip: Option<f64>,
    /// Arithmetic of the damped inversions (f32 where the conditioning allows).
    pub inverse_precision: ngd_optim::Precision,
}

impl KfacDefaults {
    /// Sets these options in `cfg` (a K-FAC run's config; the others are left as they are).
    pub fn apply(&self, cfg: &mut crate::fit::FitConfig) {
        cfg.kfac_with(|k| {
            k.with_fisher(self.fisher)
                .with_decay(self.decay)
                .with_stats_interval(self.stats_interval)
                .with_inverse_interval(self.inverse_interval)
                .with_inverse_warmup(self.inverse_warmup)
                .with_inverse_precision(self.inverse_precision)
        });
        cfg.optimizer.damping.value = self.damping;
        cfg.optimizer.lr = self.lr;
        cfg.optimizer.clipping.kl = self.kl_clip;
    }
}

/// On the MLP: the settings tuned on full MNIST (experiments/full-mnist: 784-1024-1024-10, batch
/// 256, grid η ∈ {0.1, 0.3} × ρ ∈ {0.03, 0.1}; 98 % test accuracy in 2.0 epochs): the sampled
/// Fisher, β = 0.95, statistics every 10 steps, ρ = 0.1, η = 0.1; inverses every 50 steps
/// (experiments/full-mnist-intervals: the same 2.0 epochs to 98 % as every 10, in 0.77× the time
/// at B = 128); the inversions in f32 (every factor well conditioned after damping; README,
/// "Benchmark").
pub const MLP_KFAC: KfacDefaults = KfacDefaults {
    fisher: ngd_optim::Fisher::Sampled,
    decay: 0.95,
    stats_interval: 10,
    inverse_interval: 50,
    inverse_warmup: None,
    damping: 0.1,
    lr: 0.1,
    kl_clip: None,
    inverse_precision: ngd_optim::Precision::F32,
};

/// On the CNN: from a grid on 5,120 CIFAR-10 images at batch 128 (README, "Convolutional
/// networks"): the sampled Fisher, β = 0.95, statistics every 5 steps, ρ = 0.01, η = 0.3 and KL
/// clipping at 1e-3 (without it η = 0.1 diverged by step 14); K-FAC-reduce factors; inverses
/// every 50 steps in f32 (experiments/cifar10-cnn: 1.12× Adam's time to the target against
/// 2.38× with f64 inverses every 10, in 2.5 epochs against 3.25), without the inverse warm-up
/// (1.64× with it, best accuracy 71.7 % against 72.8 %; it helps runs of a few dozen steps).
pub const CNN_KFAC: KfacDefaults = KfacDefaults {
    fisher: ngd_optim::Fisher::Sampled,
    decay: 0.95,
    stats_interval: 5,
    inverse_interval: 50,
    inverse_warmup: None,
    damping: 0.01,
    lr: 0.3,
    kl_clip: Some(1e-3),
    inverse_precision: ngd_optim::Precision::F32,
};

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
