//! The mini-batch setting: every image of the selected classes, the last `validation`
//! training images held out, all splits standardised with the training split's statistics.
//!
//! Unlike the paper's preprocessing ([`crate::load`]: each split standardised by its own
//! statistics, then rows scaled to unit norm), a classifier must see new images through the
//! map fitted on its training data: x ← (x − μ)/s with μ, s the mean and standard deviation of
//! all training pixels. Inputs are kept in f32 (CIFAR-10's 50,000 × 3072 pixels are 600 MB).

use crate::preprocess::{RawSplit, pixel_mean_std};
use crate::{DataConfig, DataError, DatasetName, cifar, classes, mnist};

/// Take every sample of the selected classes ([`DataConfig::n_train`], [`DataConfig::n_test`]).
pub const ALL: usize = usize::MAX;

/// One split of standardised images with class labels.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageSplit {
    /// `n × dim` standardised inputs, row-major.
    pub x: Vec<f32>,
    /// Number of samples.
    pub n: usize,
    /// Features per sample.
    pub dim: usize,
    /// Index into the selected classes of each sample's label.
    pub labels: Vec<usize>,
}

impl ImageSplit {
    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.x[i * self.dim..(i + 1) * self.dim]
    }
}

/// Train, validation and test splits for mini-batch training ([`load_holdout`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Holdout {
    /// The training images (the selected ones minus the held-out tail).
    pub train: ImageSplit,
    /// The last `validation` of the selected training images (empty when 0).
    pub validation: ImageSplit,
    /// The test images.
    pub test: ImageSplit,
    /// Number of classes (one output each: 10 for `--classes all`).
    pub classes: usize,
    /// Mean μ of the training pixels (0..255 scale).
    pub mean: f64,
    /// Standard deviation s of the training pixels.
    pub std: f64,
    /// Where the data came from.
    pub source: String,
}

/// Loads the selected classes of `cfg` (`n_train`/`n_test` may be [`ALL`]), holds out the
/// last `validation` training images and standardises all three splits with the statistics
/// of the remaining training images.
pub fn load_holdout(cfg: &DataConfig, validation: usize) -> Result<Holdout, DataError> {
    classes::validate_classes(cfg.dataset, &cfg.classes)?;
    crate::check_sizes(cfg)?;
    let (train, test, source) = match cfg.dataset {
        DatasetName::Mnist => (
            mnist::raw_split(cfg, "train", cfg.n_train)?,
            mnist::raw_split(cfg, "test", cfg.n_test)?,
            "burn-dataset MnistDataset".to_string(),
        ),
        DatasetName::Cifar10 => {
            let root = cifar::locate()?;
            (
                cifar::raw_split(&root, cfg, "train", cfg.n_train)?,
                cifar::raw_split(&root, cfg, "test", cfg.n_test)?,
                format!("burn-dataset CifarDataset at {}", root.display()),
            )
        }
    };
    let n = train.labels.len();
    if validation >= n {
        return Err(DataError::Degenerate(format!(
            "cannot hold out {validation} validation images: the training split has {n} \
             (at least one must remain for training)"
        )));
    }
    let dim = cfg.dataset.dim();
    let keep = n - validation;
    let (mean, std) = pixel_mean_std(&train.pixels[..keep * dim])?;
    let split = |raw: &RawSplit, rows: std::ops::Range<usize>| ImageSplit {
        x: raw.pixels[rows.start * dim..rows.end * dim]
            .iter()
            .map(|&p| ((p as f64 - mean) / std) as f32)
            .collect(),
        n: rows.len(),
        dim,
        labels: raw.labels[rows].to_vec(),
    };
    Ok(Holdout {
        train: split(&train, 0..keep),
        validation: split(&train, keep..n),
        test: split(&test, 0..test.labels.len()),
        classes: cfg.classes.len(),
        mean,
        std,
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixel_stats_are_population_mean_and_std() {
        let (m, s) = pixel_mean_std(&[0u8, 2, 4, 6]).unwrap();
        assert_eq!(m, 3.0);
        assert!((s - 5f64.sqrt()).abs() < 1e-15);
        assert!(pixel_mean_std(&[7u8, 7]).is_err());
    }
}
