//! MNIST through burn-dataset's `MnistDataset`.

use burn_dataset::Dataset as _;
use burn_dataset::vision::{MnistDataset, MnistItem};

use crate::cache::{cache_dir, missing_error, missing_files, offline, quietly};
use crate::classes::describe;
use crate::preprocess::{RawSplit, build_split};
use crate::{DataConfig, DataError, Dataset, DatasetName, Split, outputs_for};

/// Side of an MNIST image.
const SIDE: usize = 28;
/// Features per MNIST sample (28 × 28, flattened row-major).
pub(crate) const DIM: usize = SIDE * SIDE;

/// Loads MNIST as described in MATH.md §7: keep the IDX order, take the first samples of
/// the selected classes, flatten row-major, standardise per split, unit-normalise rows.
pub(crate) fn load(cfg: &DataConfig) -> Result<Dataset, DataError> {
    let train = load_split(cfg, "train", cfg.n_train)?;
    let test = load_split(cfg, "test", cfg.n_test)?;
    Ok(Dataset {
        train,
        test,
        classes: cfg.classes.clone(),
        class_names: cfg.classes.iter().map(|c| c.to_string()).collect(),
        outputs: outputs_for(cfg.classes.len()),
        source: format!(
            "burn-dataset MnistDataset at {}",
            cache_dir().join("mnist").display()
        ),
    })
}

/// One preprocessed split (`"train"` or `"test"`) of `n` samples.
fn load_split(cfg: &DataConfig, split: &'static str, n: usize) -> Result<Split, DataError> {
    let raw = raw_split(cfg, split, n)?;
    build_split(raw.pixels_f64(), DIM, raw.labels, cfg.classes.len())
}

/// The first `n` samples ([`crate::ALL`]: every one) of the selected classes of one split,
/// as raw pixels.
pub(crate) fn raw_split(
    cfg: &DataConfig,
    split: &'static str,
    n: usize,
) -> Result<RawSplit, DataError> {
    let source = open(split)?;
    let (pixels, labels) =
        select(&source, &cfg.classes, n).map_err(|available| DataError::NotEnoughSamples {
            dataset: DatasetName::Mnist,
            split,
            requested: n,
            available,
            classes: describe(DatasetName::Mnist, &cfg.classes),
        })?;
    Ok(RawSplit { pixels, labels })
}

/// Opens one split with burn-dataset, which downloads missing files (unless offline).
/// Its panics (no network, unreadable files) become errors.
fn open(split: &str) -> Result<MnistDataset, DataError> {
    let root = cache_dir();
    let absent = !missing_files(DatasetName::Mnist, &root).is_empty();
    if absent && offline() {
        let why = format!(
            "no download was attempted because {} is set",
            crate::OFFLINE_ENV
        );
        return Err(missing_error(DatasetName::Mnist, &root, &why));
    }
    let opened = quietly(|| match split {
        "train" => MnistDataset::train(),
        _ => MnistDataset::test(),
    });
    opened.map_err(|reason| {
        if missing_files(DatasetName::Mnist, &root).is_empty() {
            DataError::Corrupt {
                dataset: DatasetName::Mnist,
                path: root.join("mnist").join(split),
                reason,
            }
        } else {
            let why = format!("burn-dataset's download attempt failed: {reason}");
            missing_error(DatasetName::Mnist, &root, &why)
        }
    })
}

/// The first `n` samples of `classes` ([`crate::ALL`]: all of them), in source order: raw
/// pixels (0..255, row-major) and label indices into `classes`. `Err(available)` if the split
/// holds fewer than `n`.
fn select(
    source: &MnistDataset,
    classes: &[usize],
    n: usize,
) -> Result<(Vec<u8>, Vec<usize>), usize> {
    let cap = n.min(source.len());
    let mut pixels = Vec::with_capacity(cap * DIM);
    let mut labels = Vec::with_capacity(cap);
    for i in 0..source.len() {
        let item = source.get(i).expect("in-memory MNIST item");
        let Some(label) = classes.iter().position(|&c| c == item.label as usize) else {
            continue;
        };
        push_pixels(&mut pixels, &item);
        labels.push(label);
        if labels.len() == n {
            break;
        }
    }
    if labels.len() < n && n != crate::ALL {
        return Err(labels.len());
    }
    Ok((pixels, labels))
}

/// Appends the image's 784 pixels, row by row.
fn push_pixels(pixels: &mut Vec<u8>, item: &MnistItem) {
    pixels.extend(item.image.iter().flatten().map(|&p| p as u8));
}
