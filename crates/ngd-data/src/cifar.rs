//! CIFAR-10 through burn-dataset.
//!
//! burn-dataset's `CifarDataset::new(CifarType::Cifar10)` locates the data under
//! `<cache_dir>/cifar10/{train,test}/<class>/*.png` and downloads it if that folder is
//! absent. Its `train()`/`test()` would list all 50,000 (10,000) files of a split and decode
//! every image that is read; we only need the first N of a few classes. So this module lists
//! the selected class folders itself (sorted by file name), interleaves the classes
//! round-robin, and hands just the chosen N files to burn-dataset's `ImageFolderDataset`
//! (`new_classification_with_items`), which decodes them with the `image` crate.
//!
//! Pixels are flattened in HWC order: row by row, each pixel's R, G, B in turn
//! (`index = (row · 32 + col) · 3 + channel`), as values 0..255.

use std::path::{Path, PathBuf};

use burn_dataset::Dataset as _;
use burn_dataset::vision::{
    CifarDataset, CifarType, ImageDatasetItem, ImageFolderDataset, PixelData,
};

use crate::cache::{cache_dir, missing_error, missing_files, offline, quietly};
use crate::classes::describe;
use crate::preprocess::{RawSplit, build_split};
use crate::{DataConfig, DataError, Dataset, DatasetName, Split, outputs_for};

/// CIFAR-10 class names, indexed by class number (alphabetical, the standard label order).
pub const CIFAR10_CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// Side of a CIFAR-10 image.
const SIDE: usize = 32;
/// Features per CIFAR-10 sample (32 × 32 × 3, HWC).
pub(crate) const DIM: usize = SIDE * SIDE * 3;
/// Image file extensions burn-dataset's image folders accept.
const EXTENSIONS: [&str; 4] = ["bmp", "jpg", "jpeg", "png"];

/// Loads CIFAR-10 as described in MATH.md §7 and the module documentation.
pub(crate) fn load(cfg: &DataConfig) -> Result<Dataset, DataError> {
    let root = locate()?;
    let train = load_split(&root, cfg, "train", cfg.n_train)?;
    let test = load_split(&root, cfg, "test", cfg.n_test)?;
    Ok(Dataset {
        train,
        test,
        classes: cfg.classes.clone(),
        class_names: cfg
            .classes
            .iter()
            .map(|&c| CIFAR10_CLASSES[c].to_string())
            .collect(),
        outputs: outputs_for(cfg.classes.len()),
        source: format!(
            "burn-dataset CifarDataset (CIFAR-10) at {}; the selected images decoded by \
             burn-dataset ImageFolderDataset",
            root.display()
        ),
    })
}

/// Lets burn-dataset locate (and if absent, download) CIFAR-10; returns its folder after
/// checking that every class folder is there.
pub(crate) fn locate() -> Result<PathBuf, DataError> {
    let cache = cache_dir();
    let dir = cache.join("cifar10");
    if !dir.exists() && offline() {
        let why = format!(
            "no download was attempted because {} is set",
            crate::OFFLINE_ENV
        );
        return Err(missing_error(DatasetName::Cifar10, &cache, &why));
    }
    quietly(|| CifarDataset::new(CifarType::Cifar10)).map_err(|reason| {
        let why = format!("burn-dataset's download attempt failed: {reason}");
        missing_error(DatasetName::Cifar10, &cache, &why)
    })?;
    if !missing_files(DatasetName::Cifar10, &cache).is_empty() {
        let why = format!(
            "{} is incomplete (remove it and install again)",
            dir.display()
        );
        return Err(missing_error(DatasetName::Cifar10, &cache, &why));
    }
    Ok(dir)
}

/// One preprocessed split (`"train"` or `"test"`) of `n` samples.
fn load_split(
    root: &Path,
    cfg: &DataConfig,
    split: &'static str,
    n: usize,
) -> Result<Split, DataError> {
    let raw = raw_split(root, cfg, split, n)?;
    build_split(raw.pixels_f64(), DIM, raw.labels, cfg.classes.len())
}

/// The first `n` samples ([`crate::ALL`]: every one) of the selected classes of one split,
/// as raw pixels; `root` from [`locate`].
pub(crate) fn raw_split(
    root: &Path,
    cfg: &DataConfig,
    split: &'static str,
    n: usize,
) -> Result<RawSplit, DataError> {
    let lists = cfg
        .classes
        .iter()
        .map(|&c| list_images(&root.join(split).join(CIFAR10_CLASSES[c])))
        .collect::<Result<Vec<_>, _>>()?;
    let available: usize = lists.iter().map(Vec::len).sum();
    let n = if n == crate::ALL { available } else { n };
    if available < n {
        return Err(DataError::NotEnoughSamples {
            dataset: DatasetName::Cifar10,
            split,
            requested: n,
            available,
            classes: describe(DatasetName::Cifar10, &cfg.classes),
        });
    }
    let chosen = interleave(&lists, n);
    let pixels = decode(&chosen, &cfg.classes, &root.join(split))?;
    let labels = chosen.into_iter().map(|(_, label)| label).collect();
    Ok(RawSplit { pixels, labels })
}

/// The image files in `dir`, sorted by file name.
fn list_images(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let io_err = |source| DataError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err)? {
        let path = entry.map_err(io_err)?.path();
        if is_image(&path) {
            files.push(path);
        }
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(files)
}

/// Whether `path` is a file with an image extension burn-dataset accepts.
fn is_image(path: &Path) -> bool {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    path.is_file() && EXTENSIONS.iter().any(|e| e.eq_ignore_ascii_case(ext))
}

/// Round-robin over the classes (file 0 of each class in order, then file 1, …; a class that
/// runs out is skipped), truncated to `n`: (path, label index into the class list).
pub(crate) fn interleave(lists: &[Vec<PathBuf>], n: usize) -> Vec<(PathBuf, usize)> {
    let longest = lists.iter().map(Vec::len).max().unwrap_or(0);
    (0..longest)
        .flat_map(|k| {
            lists
                .iter()
                .enumerate()
                .filter_map(move |(label, files)| files.get(k).map(|p| (p.clone(), label)))
        })
        .take(n)
        .collect()
}

/// Decodes the chosen files through burn-dataset's `ImageFolderDataset` into one
/// `chosen.len() × DIM` array of pixel values 0..255 (HWC).
fn decode(
    chosen: &[(PathBuf, usize)],
    classes: &[usize],
    split_dir: &Path,
) -> Result<Vec<u8>, DataError> {
    let items = chosen
        .iter()
        .map(|(path, label)| (path.clone(), CIFAR10_CLASSES[classes[*label]].to_string()))
        .collect();
    let corrupt = |reason: String| DataError::Corrupt {
        dataset: DatasetName::Cifar10,
        path: split_dir.to_path_buf(),
        reason,
    };
    let images = ImageFolderDataset::new_classification_with_items(items, &CIFAR10_CLASSES)
        .map_err(|e| corrupt(e.to_string()))?;
    let mut pixels = Vec::with_capacity(chosen.len() * DIM);
    for (i, (path, _)) in chosen.iter().enumerate() {
        // A decoding failure (error or panic inside the decoder) names the file.
        let named = |e: String| corrupt(format!("{}: {e}", path.display()));
        let item = quietly(|| images.get(i))
            .map_err(named)?
            .map_err(|e| named(e.to_string()))?;
        push_pixels(&mut pixels, item).map_err(corrupt)?;
    }
    Ok(pixels)
}

/// Appends a decoded 32×32 RGB image's pixels; an error names any other format.
fn push_pixels(pixels: &mut Vec<u8>, item: ImageDatasetItem) -> Result<(), String> {
    match item.image {
        PixelData::U8(v)
            if item.image_width == SIDE && item.image_height == SIDE && v.len() == DIM =>
        {
            pixels.extend_from_slice(&v);
            Ok(())
        }
        _ => {
            let pixels = (item.image_width * item.image_height).max(1);
            let bits = match item.image {
                PixelData::U8(_) => 8,
                PixelData::U16(_) => 16,
                PixelData::F32(_) => 32,
            };
            Err(format!(
                "{} is not a 32×32 8-bit RGB image ({}×{}, {} channel(s) of {bits} bits)",
                item.image_path,
                item.image_width,
                item.image_height,
                item.image.len() / pixels
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file that is not an image is reported as corrupt data naming that file (the decoder
    /// panics on it; before, the message gave only the decoder's words).
    #[test]
    fn a_bad_image_file_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("0002_broken.png");
        std::fs::write(&bad, b"\x89PNG garbage").unwrap();
        let chosen = vec![(bad.clone(), 0)];
        let err = decode(&chosen, &[0], dir.path()).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, DataError::Corrupt { .. }), "{msg}");
        assert!(msg.contains("0002_broken.png"), "{msg}");
    }

    #[test]
    fn interleave_is_round_robin_and_skips_exhausted_classes() {
        let p = |s: &str| PathBuf::from(s);
        let lists = vec![vec![p("a0"), p("a1"), p("a2")], vec![p("b0")]];
        let got: Vec<_> = interleave(&lists, 10)
            .into_iter()
            .map(|(p, l)| (p.display().to_string(), l))
            .collect();
        let want = [("a0", 0), ("b0", 1), ("a1", 0), ("a2", 0)];
        assert_eq!(got, want.map(|(s, l)| (s.to_string(), l)));
        assert_eq!(interleave(&lists, 2).len(), 2);
    }

    #[test]
    fn list_images_sorts_by_name_and_skips_other_files() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["0010.png", "0002.PNG", "notes.txt", "0001.jpg"] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        std::fs::create_dir(dir.path().join("0000.png")).unwrap();
        let names: Vec<_> = list_images(dir.path())
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["0001.jpg", "0002.PNG", "0010.png"]);
    }
}
