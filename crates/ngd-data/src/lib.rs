//! Dataset loading and the paper's preprocessing (MATH.md §7).
//!
//! MNIST and CIFAR-10 are located (and, with network access, downloaded) by `burn-dataset`;
//! this crate selects the requested classes, orders and truncates the samples, standardises
//! each split by the mean and standard deviation of its whole selected pixel array, scales
//! every sample to unit L2 norm and builds the regression targets. It also provides the
//! metrics on those targets and the Gaussian inputs of Fig. 3.
//!
//! Data that is neither installed nor downloadable gives [`DataError::Missing`], whose
//! message says how to install it (`datasets/install.sh` in the repository root).

#![warn(missing_docs)]

mod augment;
mod cache;
mod cifar;
mod classes;
mod error;
mod gaussian;
mod holdout;
mod metrics;
mod mnist;
mod preprocess;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use augment::{Augment, CROP_PAD, FlipCrop, flip_crop_rows};
pub use cache::{OFFLINE_ENV, cache_dir, missing_files};
pub use cifar::CIFAR10_CLASSES;
pub use classes::parse_classes;
pub use error::DataError;
pub use gaussian::gaussian_inputs;
pub use holdout::{ALL, Holdout, ImageSplit, Standardisation, load_holdout, load_holdout_with};
pub use metrics::{accuracy, mse_loss};
pub use preprocess::{normalise_rows, standardise};

/// The datasets this crate can load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DatasetName {
    /// MNIST handwritten digits: 28×28 grey images, classes 0..=9.
    Mnist,
    /// CIFAR-10: 32×32 RGB images, classes 0..=9 (airplane … truck).
    Cifar10,
}

impl DatasetName {
    /// The lower-case name used on the command line and in [`fmt::Display`].
    pub fn as_str(self) -> &'static str {
        match self {
            DatasetName::Mnist => "mnist",
            DatasetName::Cifar10 => "cifar10",
        }
    }

    /// Number of input features per sample after flattening (784 or 3072).
    pub fn dim(self) -> usize {
        match self {
            DatasetName::Mnist => mnist::DIM,
            DatasetName::Cifar10 => cifar::DIM,
        }
    }

    /// The image shape [C, H, W]: MNIST 1 × 28 × 28, CIFAR-10 3 × 32 × 32.
    pub fn image_shape(self) -> [usize; 3] {
        match self {
            DatasetName::Mnist => [1, 28, 28],
            DatasetName::Cifar10 => [3, 32, 32],
        }
    }

    /// Human-readable names of all classes of the dataset, indexed by class number.
    pub fn all_class_names(self) -> Vec<String> {
        match self {
            DatasetName::Mnist => (0..10).map(|d| d.to_string()).collect(),
            DatasetName::Cifar10 => CIFAR10_CLASSES.iter().map(|s| s.to_string()).collect(),
        }
    }
}

impl fmt::Display for DatasetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DatasetName {
    type Err = DataError;

    /// Parses `"mnist"` or `"cifar10"` (case-insensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "mnist" => Ok(DatasetName::Mnist),
            "cifar10" => Ok(DatasetName::Cifar10),
            _ => Err(DataError::UnknownDataset(s.to_string())),
        }
    }
}

/// What to load: a dataset, its classes (in target order) and the split sizes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataConfig {
    /// Which dataset.
    pub dataset: DatasetName,
    /// Class numbers (0..=9), at least two, no duplicates. With two classes the first one
    /// gets target +0.5 and the second −0.5; with more, class `classes[i]` is one-hot output `i`.
    pub classes: Vec<usize>,
    /// Number of training samples N (the first N of the selected classes).
    pub n_train: usize,
    /// Number of test samples N' (the first N' of the selected classes).
    pub n_test: usize,
}

/// One preprocessed split.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// `n × dim` inputs, row-major, standardised then scaled to unit L2 norm per row.
    pub x: Vec<f64>,
    /// Number of samples.
    pub n: usize,
    /// Features per sample.
    pub dim: usize,
    /// `n × outputs` targets, row-major: ±0.5 for two classes, one-hot for more.
    pub y: Vec<f64>,
    /// Index into [`DataConfig::classes`] of each sample's class.
    pub labels: Vec<usize>,
}

impl Split {
    /// Number of outputs (columns of `y`).
    pub fn outputs(&self) -> usize {
        self.y.len().checked_div(self.n).unwrap_or(0)
    }

    /// Row `i` of `x`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.x[i * self.dim..(i + 1) * self.dim]
    }
}

/// A loaded and preprocessed dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Training split (N samples).
    pub train: Split,
    /// Test split (N' samples).
    pub test: Split,
    /// The selected class numbers, in target order (a copy of [`DataConfig::classes`]).
    pub classes: Vec<usize>,
    /// Names of the selected classes, in the same order.
    pub class_names: Vec<String>,
    /// Number of network outputs: 1 for two classes, else the number of classes.
    pub outputs: usize,
    /// Human description of where the data came from.
    pub source: String,
}

/// Loads and preprocesses the dataset described by `cfg` (MATH.md §7).
///
/// Checks the configuration first (classes valid, distinct and at least two; split sizes
/// non-zero), then the installed files; see [`DataError`] for the failure cases.
pub fn load(cfg: &DataConfig) -> Result<Dataset, DataError> {
    classes::validate_classes(cfg.dataset, &cfg.classes)?;
    check_sizes(cfg)?;
    match cfg.dataset {
        DatasetName::Mnist => mnist::load(cfg),
        DatasetName::Cifar10 => cifar::load(cfg),
    }
}

/// Rejects zero split sizes.
pub(crate) fn check_sizes(cfg: &DataConfig) -> Result<(), DataError> {
    if cfg.n_train == 0 {
        return Err(DataError::ZeroSamples { split: "train" });
    }
    if cfg.n_test == 0 {
        return Err(DataError::ZeroSamples { split: "test" });
    }
    Ok(())
}

/// Number of outputs for `k` classes: one output for two classes, `k` (one-hot) otherwise.
pub fn outputs_for(k: usize) -> usize {
    if k == 2 { 1 } else { k }
}
