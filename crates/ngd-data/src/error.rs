//! The error type of this crate.

use std::path::PathBuf;

use crate::DatasetName;

/// Everything that can go wrong when choosing or loading data.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A dataset name that is neither `mnist` nor `cifar10`.
    #[error("unknown dataset '{0}'; valid datasets: mnist, cifar10")]
    UnknownDataset(String),

    /// A class that the dataset does not have.
    #[error("unknown {dataset} class '{given}'; valid classes: {valid}")]
    UnknownClass {
        /// The dataset.
        dataset: DatasetName,
        /// The class as given.
        given: String,
        /// Description of the valid classes.
        valid: String,
    },

    /// The same class listed twice.
    #[error("{dataset} class '{class}' is listed more than once")]
    DuplicateClass {
        /// The dataset.
        dataset: DatasetName,
        /// The repeated class.
        class: String,
    },

    /// Fewer than two classes.
    #[error("at least two classes are needed, got {got}")]
    TooFewClasses {
        /// How many were given.
        got: usize,
    },

    /// A split size of zero.
    #[error("the number of {split} samples must be at least 1, got 0")]
    ZeroSamples {
        /// "train" or "test".
        split: &'static str,
    },

    /// More samples requested than the selected classes hold in that split.
    #[error(
        "requested {requested} {split} samples, but the {dataset} {split} split holds only \
         {available} samples of classes {classes}"
    )]
    NotEnoughSamples {
        /// The dataset.
        dataset: DatasetName,
        /// "train" or "test".
        split: &'static str,
        /// Requested number of samples.
        requested: usize,
        /// Number of samples of the selected classes in that split.
        available: usize,
        /// The selected classes, as a readable list.
        classes: String,
    },

    /// The data is not installed and could not be downloaded; the message says what was
    /// expected where and how to install it.
    #[error("{0}")]
    Missing(String),

    /// A file or folder that exists but could not be read.
    #[error("could not read {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// Installed data that burn-dataset could not read, or that has an unexpected format.
    #[error("{dataset} data at {path} is unusable: {reason}")]
    Corrupt {
        /// The dataset.
        dataset: DatasetName,
        /// The file or folder.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// An input array that cannot be standardised or normalised (zero spread or zero norm).
    #[error("cannot preprocess: {0}")]
    Degenerate(String),
}
