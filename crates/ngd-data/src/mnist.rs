//! MNIST through burn-dataset's `MnistDataset`.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use burn_dataset::Dataset as _;
use burn_dataset::vision::{MnistDataset, MnistItem};

use crate::cache::{MNIST_FILES, cache_dir, missing_error, missing_files, offline, quietly};
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
    check_idx_files(&root, split)?;
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

/// Checks the headers of one split's two installed IDX files before burn-dataset reads them
/// (it checks neither the magic numbers, the image size nor that the counts agree, and pairs
/// images with labels up to the shorter file): images `0x00000803` n × 28 × 28, labels
/// `0x00000801` n, each file holding its n items. Files not installed are left to burn-dataset.
fn check_idx_files(root: &Path, split: &str) -> Result<(), DataError> {
    let [images, labels] = match split {
        "train" => [MNIST_FILES[0].1, MNIST_FILES[1].1],
        _ => [MNIST_FILES[2].1, MNIST_FILES[3].1],
    }
    .map(|name| root.join("mnist").join(split).join(name));
    if !images.is_file() || !labels.is_file() {
        return Ok(());
    }
    let n_images = idx_count(&images, 0x0803, &[SIDE as u32, SIDE as u32], "images")?;
    let n_labels = idx_count(&labels, 0x0801, &[], "labels")?;
    if n_images != n_labels {
        return Err(corrupt(
            &labels,
            format!(
                "it declares {n_labels} labels for the {n_images} images of {}",
                images.display()
            ),
        ));
    }
    Ok(())
}

/// The item count of the IDX file at `path` after checking its magic number, its dimensions
/// after the first (`rest`) and that it holds every item it declares; `what` names the items.
fn idx_count(path: &Path, magic: u32, rest: &[u32], what: &str) -> Result<u32, DataError> {
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(io)?;
    let header_len = 4 * (2 + rest.len());
    let mut header = Vec::with_capacity(header_len);
    file.by_ref()
        .take(header_len as u64)
        .read_to_end(&mut header)
        .map_err(io)?;
    let got = header.len();
    if got < header_len {
        return Err(corrupt(
            path,
            format!("{got} bytes, shorter than the {header_len}-byte header of an IDX {what} file"),
        ));
    }
    let words: Vec<u32> = header
        .chunks(4)
        .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
        .collect();
    if words[0] != magic {
        return Err(corrupt(
            path,
            format!(
                "magic number {:#010x} where an IDX {what} file has {magic:#010x}",
                words[0]
            ),
        ));
    }
    if words[2..] != *rest {
        return Err(corrupt(
            path,
            format!("{what} of shape {:?}, expected {rest:?}", &words[2..]),
        ));
    }
    let count = words[1];
    let item: u64 = rest.iter().map(|&d| d as u64).product();
    let need = count as u64 * item;
    let have = file.metadata().map_err(io)?.len() - header_len as u64;
    if have < need {
        return Err(corrupt(
            path,
            format!(
                "it declares {count} {what} ({need} bytes), but only {have} bytes follow the header"
            ),
        ));
    }
    Ok(count)
}

/// A [`DataError::Corrupt`] for the MNIST file at `path`.
fn corrupt(path: &Path, reason: String) -> DataError {
    DataError::Corrupt {
        dataset: DatasetName::Mnist,
        path: path.to_path_buf(),
        reason,
    }
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
