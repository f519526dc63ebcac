//! The mini-batch setting: every image of the selected classes, the last `validation`
//! training images held out, all splits standardised with the training split's statistics.
//!
//! The CNN's convention ([`Standardisation::Channels`]) standardises each colour channel with
//! its own training mean and standard deviation and lays every image out C × H × W.
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

/// How [`load_holdout_with`] standardises and lays out the images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Standardisation {
    /// One mean and standard deviation over all training pixels, each image in the dataset's
    /// own order (MNIST row by row, CIFAR-10 HWC): the MLP's input.
    #[default]
    Pixels,
    /// A mean and standard deviation per colour channel, each image laid out C × H × W: the
    /// convention of convolutional networks.
    Channels,
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
    /// Per-channel means and standard deviations with [`Standardisation::Channels`] (empty
    /// otherwise).
    pub channel_stats: Vec<(f64, f64)>,
    /// The image shape [C, H, W] (rows are laid out C × H × W with
    /// [`Standardisation::Channels`]).
    pub image: [usize; 3],
    /// Where the data came from.
    pub source: String,
}

/// Loads the selected classes of `cfg` (`n_train`/`n_test` may be [`ALL`]), holds out the
/// last `validation` training images and standardises all three splits with the statistics
/// of the remaining training images.
pub fn load_holdout(cfg: &DataConfig, validation: usize) -> Result<Holdout, DataError> {
    load_holdout_with(cfg, validation, Standardisation::Pixels)
}

/// [`load_holdout`] with a choice of standardisation and layout.
pub fn load_holdout_with(
    cfg: &DataConfig,
    validation: usize,
    standardisation: Standardisation,
) -> Result<Holdout, DataError> {
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
    let image = cfg.dataset.image_shape();
    let keep = n - validation;
    let (mean, std) = pixel_mean_std(&train.pixels[..keep * dim])?;
    let channel_stats = match standardisation {
        Standardisation::Pixels => Vec::new(),
        Standardisation::Channels => channel_mean_std(&train.pixels[..keep * dim], image[0])?,
    };
    let split = |raw: &RawSplit, rows: std::ops::Range<usize>| {
        let pixels = &raw.pixels[rows.start * dim..rows.end * dim];
        let x = match standardisation {
            Standardisation::Pixels => pixels
                .iter()
                .map(|&p| ((p as f64 - mean) / std) as f32)
                .collect(),
            Standardisation::Channels => channels_first(pixels, image, &channel_stats),
        };
        ImageSplit {
            x,
            n: rows.len(),
            dim,
            labels: raw.labels[rows].to_vec(),
        }
    };
    Ok(Holdout {
        train: split(&train, 0..keep),
        validation: split(&train, keep..n),
        test: split(&test, 0..test.labels.len()),
        classes: cfg.classes.len(),
        mean,
        std,
        channel_stats,
        image,
        source,
    })
}

/// (mean, std) of each of the `c` channels of interleaved pixels (channel fastest: HWC).
fn channel_mean_std(pixels: &[u8], c: usize) -> Result<Vec<(f64, f64)>, DataError> {
    (0..c)
        .map(|ch| {
            let values: Vec<u8> = pixels.iter().skip(ch).step_by(c).copied().collect();
            pixel_mean_std(&values)
        })
        .collect()
}

/// Standardised images laid out C × H × W from HWC pixels, (x − μ_c)/s_c per channel.
fn channels_first(pixels: &[u8], [c, h, w]: [usize; 3], stats: &[(f64, f64)]) -> Vec<f32> {
    let dim = c * h * w;
    let mut out = vec![0f32; pixels.len()];
    for (src, dst) in pixels.chunks_exact(dim).zip(out.chunks_exact_mut(dim)) {
        for p in 0..h * w {
            for (ch, &(m, s)) in stats.iter().enumerate() {
                dst[ch * h * w + p] = ((src[p * c + ch] as f64 - m) / s) as f32;
            }
        }
    }
    out
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

    /// Two 2×1 RGB images in HWC order become C × H × W with each channel standardised by its
    /// own statistics over both images.
    #[test]
    fn channels_first_reorders_and_standardises_each_channel() {
        // Image 0: pixels (r, g, b) = (0, 10, 100), (2, 30, 100); image 1: (4, 10, 200), (6, 30, 200).
        let pixels = [0u8, 10, 100, 2, 30, 100, 4, 10, 200, 6, 30, 200];
        let stats = channel_mean_std(&pixels, 3).unwrap();
        assert_eq!(stats[0], (3.0, 5f64.sqrt()));
        assert_eq!(stats[1], (20.0, 10.0));
        assert_eq!(stats[2], (150.0, 50.0));
        let x = channels_first(&pixels, [3, 2, 1], &stats);
        let r = 1.0 / 5f32.sqrt();
        let want = [
            -3.0 * r,
            -r,
            -1.0,
            1.0,
            -1.0,
            -1.0,
            r,
            3.0 * r,
            -1.0,
            1.0,
            1.0,
            1.0,
        ];
        for (got, want) in x.iter().zip(want) {
            assert!((got - want).abs() < 1e-6, "{x:?}");
        }
    }
}
