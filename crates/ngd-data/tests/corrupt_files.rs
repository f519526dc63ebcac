//! Corrupted installed data gives a clear [`DataError`], never a panic: truncated, empty,
//! mislabelled or mismatched MNIST IDX files, and CIFAR-10 images of the wrong size or format.
//!
//! burn-dataset (and so this crate) finds its files through `dirs::cache_dir()`, i.e. the
//! process-wide `XDG_CACHE_HOME`; no loader takes a path. So every case builds its own cache in
//! a temporary folder and loads it in a child process (this test binary run again, filtered to
//! [`child_load`]) whose `XDG_CACHE_HOME` points there: the real cache is never touched, the
//! cases run in parallel, and a panic in the loader shows as a failed child.

use std::path::{Path, PathBuf};
use std::process::Command;

use ngd_data::{DataConfig, DataError, DatasetName, OFFLINE_ENV, load, load_holdout};

/// `<dataset>:<api>` for the child ([`child_load`]); unset in a normal test run.
const CASE_ENV: &str = "NGD_TEST_CORRUPT_CASE";
/// Where the child writes its outcome.
const OUT_ENV: &str = "NGD_TEST_CORRUPT_OUT";

/// Training and test images of the synthetic MNIST files.
const MNIST_TRAIN: usize = 40;
const MNIST_TEST: usize = 20;
/// Images per class folder of the synthetic CIFAR-10 (train, test); classes 0 and 1 only.
const CIFAR_TRAIN: usize = 3;
const CIFAR_TEST: usize = 2;

/// What a load in the child gave.
#[derive(Debug)]
enum Outcome {
    /// Loaded: (train, test) sample counts.
    Loaded(usize, usize),
    /// Refused: the error's variant name and its message.
    Refused(String, String),
}

/// The child's side: loads with the cache of its environment and writes the outcome (a no-op
/// in a normal test run, where [`CASE_ENV`] is unset).
#[test]
fn child_load() {
    let Ok(case) = std::env::var(CASE_ENV) else {
        return;
    };
    let out = std::env::var(OUT_ENV).expect("outcome path");
    let (dataset, api) = case.split_once(':').expect("<dataset>:<api>");
    let (dataset, classes, n_train, n_test) = match dataset {
        "mnist" => (DatasetName::Mnist, (0..10).collect(), 30, 10),
        _ => (
            DatasetName::Cifar10,
            vec![0, 1],
            2 * CIFAR_TRAIN,
            2 * CIFAR_TEST,
        ),
    };
    let cfg = DataConfig {
        dataset,
        classes,
        n_train,
        n_test,
    };
    let result: Result<(usize, usize), DataError> = match api {
        "load" => load(&cfg).map(|d| (d.train.n, d.test.n)),
        _ => load_holdout(&cfg, 1).map(|h| (h.train.n + h.validation.n, h.test.n)),
    };
    let text = match result {
        Ok((train, test)) => format!("ok\n{train} {test}"),
        Err(e) => {
            let debug = format!("{e:?}");
            let variant = debug
                .split(|c: char| !c.is_alphanumeric())
                .next()
                .unwrap_or("")
                .to_string();
            format!("err\n{variant}\n{e}")
        }
    };
    std::fs::write(out, text).unwrap();
}

/// Loads `dataset` ("mnist" or "cifar10") through `api` ("load" or "holdout") in a child
/// process whose cache is `cache`; panics (failing the test) if the child did not finish.
fn load_in_child(cache: &Path, dataset: &str, api: &str) -> Outcome {
    let out = cache.join(format!("outcome-{dataset}-{api}.txt"));
    let run = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_load",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("XDG_CACHE_HOME", cache)
        .env(OFFLINE_ENV, "1")
        .env(CASE_ENV, format!("{dataset}:{api}"))
        .env(OUT_ENV, &out)
        .output()
        .expect("run the test binary again");
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    assert!(
        run.status.success() && !text.is_empty(),
        "{dataset} {api}: the load did not return (a panic?): {}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let mut lines = text.splitn(3, '\n');
    match lines.next() {
        Some("ok") => {
            let counts: Vec<usize> = lines
                .next()
                .unwrap()
                .split(' ')
                .map(|n| n.parse().unwrap())
                .collect();
            Outcome::Loaded(counts[0], counts[1])
        }
        _ => Outcome::Refused(
            lines.next().unwrap().to_string(),
            lines.next().unwrap_or("").to_string(),
        ),
    }
}

/// Asserts that every API refuses the data in `cache` with a `Corrupt` error whose message
/// contains each of `needles`.
fn assert_corrupt(cache: &Path, dataset: &str, case: &str, needles: &[&str]) {
    for api in ["load", "holdout"] {
        match load_in_child(cache, dataset, api) {
            Outcome::Refused(variant, msg) => {
                eprintln!("{case} ({api}): {variant}: {msg}");
                assert_eq!(variant, "Corrupt", "{case} ({api}): {msg}");
                for needle in needles {
                    assert!(
                        msg.contains(needle),
                        "{case} ({api}): {needle:?} not in: {msg}"
                    );
                }
                assert!(
                    msg.lines().count() <= 2 && msg.len() < 600,
                    "{case} ({api}): not a short message: {msg}"
                );
            }
            other => panic!("{case} ({api}): corrupted data was accepted: {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// MNIST

/// An IDX file: magic number, dimensions (big-endian u32) and payload.
fn idx(magic: u32, dims: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut bytes = magic.to_be_bytes().to_vec();
    for d in dims {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(payload);
    bytes
}

/// A valid images file of `n` 28×28 images with varied pixels.
fn mnist_images(n: usize, salt: usize) -> Vec<u8> {
    let pixels: Vec<u8> = (0..n * 784)
        .map(|k| ((k * 37 + salt * 11 + k / 784 * 5) % 251) as u8)
        .collect();
    idx(0x0803, &[n as u32, 28, 28], &pixels)
}

/// A valid labels file of `n` labels 0, 1, …, 9, 0, ….
fn mnist_labels(n: usize) -> Vec<u8> {
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    idx(0x0801, &[n as u32], &labels)
}

/// The four MNIST files of a valid small installation (file name, split, contents).
fn mnist_files() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    vec![
        (
            "train-images-idx3-ubyte",
            "train",
            mnist_images(MNIST_TRAIN, 1),
        ),
        (
            "train-labels-idx1-ubyte",
            "train",
            mnist_labels(MNIST_TRAIN),
        ),
        (
            "t10k-images-idx3-ubyte",
            "test",
            mnist_images(MNIST_TEST, 2),
        ),
        ("t10k-labels-idx1-ubyte", "test", mnist_labels(MNIST_TEST)),
    ]
}

/// A temporary cache holding the MNIST files, `file` replaced by `edit` of its valid contents;
/// returns the cache and the split folder of `file`.
fn mnist_cache(file: &str, edit: impl Fn(Vec<u8>) -> Vec<u8>) -> (tempfile::TempDir, PathBuf) {
    let cache = tempfile::tempdir().unwrap();
    let root = cache.path().join("burn-dataset").join("mnist");
    let mut folder = PathBuf::new();
    for (name, split, bytes) in mnist_files() {
        let dir = root.join(split);
        std::fs::create_dir_all(&dir).unwrap();
        let bytes = if name == file {
            folder = dir.clone();
            edit(bytes)
        } else {
            bytes
        };
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    (cache, folder)
}

/// The synthetic files themselves load (so that each refusal below is the corruption's doing).
#[test]
fn valid_synthetic_mnist_files_load() {
    let (cache, _) = mnist_cache("", |b| b);
    for api in ["load", "holdout"] {
        match load_in_child(cache.path(), "mnist", api) {
            Outcome::Loaded(train, test) => assert_eq!((train, test), (30, 10), "{api}"),
            other => panic!("{api}: {other:?}"),
        }
    }
}

/// An images file cut short of the images its header declares.
#[test]
fn truncated_mnist_images_file_is_corrupt() {
    let (cache, folder) = mnist_cache("train-images-idx3-ubyte", |mut b| {
        b.truncate(b.len() - 1000);
        b
    });
    let folder = folder.display().to_string();
    assert_corrupt(
        cache.path(),
        "mnist",
        "images cut short",
        &[&folder, "image", "bytes"],
    );
}

/// A labels file cut short of the labels its header declares.
#[test]
fn truncated_mnist_labels_file_is_corrupt() {
    let (cache, folder) = mnist_cache("train-labels-idx1-ubyte", |mut b| {
        b.truncate(8 + 10);
        b
    });
    let folder = folder.display().to_string();
    assert_corrupt(
        cache.path(),
        "mnist",
        "labels cut short",
        &[&folder, "label", "bytes"],
    );
}

/// A file shorter than its own header, and an empty file (of the test split: the training
/// split loads first and is fine).
#[test]
fn mnist_file_shorter_than_its_header_is_corrupt() {
    for (file, keep) in [("t10k-images-idx3-ubyte", 6), ("t10k-labels-idx1-ubyte", 0)] {
        let (cache, folder) = mnist_cache(file, |mut b| {
            b.truncate(keep);
            b
        });
        let folder = folder.display().to_string();
        let kind = if file.contains("images") {
            "image"
        } else {
            "label"
        };
        assert_corrupt(
            cache.path(),
            "mnist",
            &format!("{file} of {keep} bytes"),
            &[&folder, kind],
        );
    }
}

/// An images and a labels file that disagree on the number of samples (burn-dataset pairs
/// them up to the shorter one).
#[test]
fn mnist_image_and_label_counts_that_differ_are_corrupt() {
    let (cache, folder) = mnist_cache("train-labels-idx1-ubyte", |_| mnist_labels(MNIST_TRAIN - 5));
    let folder = folder.display().to_string();
    assert_corrupt(
        cache.path(),
        "mnist",
        "35 labels for 40 images",
        &[&folder, "35", "40"],
    );
}

/// An images file whose header declares images of another size than 28×28.
#[test]
fn mnist_images_of_another_size_are_corrupt() {
    let (cache, folder) = mnist_cache("t10k-images-idx3-ubyte", |_| {
        idx(
            0x0803,
            &[MNIST_TEST as u32, 32, 32],
            &[9; MNIST_TEST * 1024],
        )
    });
    let folder = folder.display().to_string();
    assert_corrupt(
        cache.path(),
        "mnist",
        "32×32 images",
        &[&folder, "t10k-images-idx3-ubyte", "[32, 32]", "[28, 28]"],
    );
}

/// An images file where the labels file belongs (files swapped or mislabelled): its header is
/// not a labels file's, and its bytes are not labels.
#[test]
fn mnist_file_with_the_wrong_magic_number_is_corrupt() {
    let (cache, folder) = mnist_cache("train-labels-idx1-ubyte", |_| mnist_images(MNIST_TRAIN, 3));
    let folder = folder.display().to_string();
    assert_corrupt(
        cache.path(),
        "mnist",
        "images file as labels",
        &[&folder, "train-labels-idx1-ubyte", "magic"],
    );
}

// ---------------------------------------------------------------------------------------------
// CIFAR-10

/// A PNG of `width × height` pixels of `color`, with varied values.
fn png_bytes(width: u32, height: u32, color: png::ColorType, salt: usize) -> Vec<u8> {
    let channels = match color {
        png::ColorType::Grayscale => 1,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("{other:?}"),
    };
    let n = (width * height) as usize * channels;
    let data: Vec<u8> = (0..n).map(|k| ((k * 29 + salt * 13) % 253) as u8).collect();
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width, height);
    encoder.set_color(color);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(&data).unwrap();
    writer.finish().unwrap();
    bytes
}

/// A temporary cache with every CIFAR-10 class folder, images of 32×32 RGB in airplane and
/// automobile, `train/automobile/0001.png` replaced by `bad` when given. Returns the cache and
/// the path of that file.
fn cifar_cache(bad: Option<Vec<u8>>) -> (tempfile::TempDir, PathBuf) {
    let cache = tempfile::tempdir().unwrap();
    let root = cache.path().join("burn-dataset").join("cifar10");
    for (split, count) in [("train", CIFAR_TRAIN), ("test", CIFAR_TEST)] {
        for (c, class) in ngd_data::CIFAR10_CLASSES.iter().enumerate() {
            let dir = root.join(split).join(class);
            std::fs::create_dir_all(&dir).unwrap();
            if c < 2 {
                for i in 0..count {
                    let png = png_bytes(32, 32, png::ColorType::Rgb, c * 10 + i);
                    std::fs::write(dir.join(format!("{i:04}.png")), png).unwrap();
                }
            }
        }
    }
    let target = root.join("train/automobile/0001.png");
    if let Some(bytes) = bad {
        std::fs::write(&target, bytes).unwrap();
    }
    (cache, target)
}

/// The synthetic images themselves load.
#[test]
fn valid_synthetic_cifar_images_load() {
    let (cache, _) = cifar_cache(None);
    for api in ["load", "holdout"] {
        match load_in_child(cache.path(), "cifar10", api) {
            Outcome::Loaded(train, test) => {
                assert_eq!((train, test), (2 * CIFAR_TRAIN, 2 * CIFAR_TEST), "{api}")
            }
            other => panic!("{api}: {other:?}"),
        }
    }
}

/// An image of the wrong size (28×28, 32×31, 64×64 RGB) or format (grey, RGBA at 32×32) is
/// refused, naming the file and what it is.
#[test]
fn wrong_size_or_format_cifar_image_is_corrupt() {
    let cases = [
        (28, 28, png::ColorType::Rgb, "28×28, 3 channel(s) of 8 bits"),
        (32, 31, png::ColorType::Rgb, "32×31, 3 channel(s) of 8 bits"),
        (64, 64, png::ColorType::Rgb, "64×64, 3 channel(s) of 8 bits"),
        (
            32,
            32,
            png::ColorType::Grayscale,
            "32×32, 1 channel(s) of 8 bits",
        ),
        (
            32,
            32,
            png::ColorType::Rgba,
            "32×32, 4 channel(s) of 8 bits",
        ),
    ];
    for (w, h, color, what) in cases {
        let (cache, target) = cifar_cache(Some(png_bytes(w, h, color, 7)));
        let file = target.display().to_string();
        assert_corrupt(
            cache.path(),
            "cifar10",
            &format!("{w}×{h} {color:?}"),
            &[&file, "32×32 8-bit RGB", what],
        );
    }
}

/// A PNG cut in the middle of its data is refused, naming the file.
#[test]
fn truncated_cifar_image_is_corrupt() {
    let mut png = png_bytes(32, 32, png::ColorType::Rgb, 5);
    png.truncate(png.len() / 2);
    let (cache, target) = cifar_cache(Some(png));
    let file = target.display().to_string();
    assert_corrupt(cache.path(), "cifar10", "truncated PNG", &[&file]);
}
