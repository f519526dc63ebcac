//! Where burn-dataset keeps its files, what is missing there, and attempts to download.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::cifar::CIFAR10_CLASSES;
use crate::{DataError, DatasetName};

/// Environment variable that, set to anything but `""` or `"0"`, stops [`crate::load`] from
/// letting burn-dataset try a download when files are missing (it then returns
/// [`DataError::Missing`] at once). Useful where a download attempt would hang.
pub const OFFLINE_ENV: &str = "NGD_DATA_OFFLINE";

/// The MNIST files burn-dataset reads: (split folder, uncompressed file name).
pub(crate) const MNIST_FILES: [(&str, &str); 4] = [
    ("train", "train-images-idx3-ubyte"),
    ("train", "train-labels-idx1-ubyte"),
    ("test", "t10k-images-idx3-ubyte"),
    ("test", "t10k-labels-idx1-ubyte"),
];

/// burn-dataset's cache root, `dirs::cache_dir()/burn-dataset`: on Linux
/// `$XDG_CACHE_HOME/burn-dataset`, by default `~/.cache/burn-dataset`.
/// Falls back to `./.cache/burn-dataset` where no cache folder is known (burn-dataset
/// itself would fail there).
pub fn cache_dir() -> PathBuf {
    dirs::cache_dir()
        .unwrap_or_else(|| PathBuf::from(".cache"))
        .join("burn-dataset")
}

/// The files (MNIST) or class folders (CIFAR-10) that burn-dataset needs under the cache
/// root `root` (normally [`cache_dir`]) and that are not there; empty when all are present.
pub fn missing_files(dataset: DatasetName, root: &Path) -> Vec<PathBuf> {
    expected_files(dataset, root)
        .into_iter()
        .filter(|p| match dataset {
            DatasetName::Mnist => !p.is_file(),
            DatasetName::Cifar10 => !p.is_dir(),
        })
        .collect()
}

/// Everything burn-dataset needs for `dataset` under the cache root `root`.
fn expected_files(dataset: DatasetName, root: &Path) -> Vec<PathBuf> {
    match dataset {
        DatasetName::Mnist => MNIST_FILES
            .iter()
            .map(|(split, name)| root.join("mnist").join(split).join(name))
            .collect(),
        DatasetName::Cifar10 => ["train", "test"]
            .iter()
            .flat_map(|split| {
                CIFAR10_CLASSES
                    .iter()
                    .map(move |class| root.join("cifar10").join(split).join(class))
            })
            .collect(),
    }
}

/// Whether [`OFFLINE_ENV`] forbids download attempts.
pub(crate) fn offline() -> bool {
    std::env::var(OFFLINE_ENV).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// The [`DataError::Missing`] error for `dataset` under `root`: which files were expected
/// where, why they could not be fetched (`why`), and how to install them.
pub(crate) fn missing_error(dataset: DatasetName, root: &Path, why: &str) -> DataError {
    let missing = missing_files(dataset, root);
    let (what, source) = match dataset {
        DatasetName::Mnist => (
            "the uncompressed IDX files",
            "/path/to/folder/with/the/.gz/files (e.g. ../shared/datasets/mnist)",
        ),
        DatasetName::Cifar10 => (
            "the folders of PNG images",
            "/path/to/folder/with/cifar10.tar.gz (e.g. ../shared/datasets/cifar10)",
        ),
    };
    let list = missing_list(dataset, root, &missing);
    let stop = if why.ends_with('…') { "" } else { "." };
    DataError::Missing(format!(
        "{dataset} data not found. burn-dataset expects {what}\n{list}\
         under {root}.\n\
         Not downloaded: {why}{stop}\n\
         Install offline: bash datasets/install.sh {dataset} {source}\n\
         or online: run again with network access; burn-dataset downloads them.",
        root = root.display()
    ))
}

/// The missing paths, one per line; a CIFAR-10 folder that is absent altogether is one line.
fn missing_list(dataset: DatasetName, root: &Path, missing: &[PathBuf]) -> String {
    let folder = root.join("cifar10");
    if dataset == DatasetName::Cifar10 && !folder.exists() {
        return format!("  {}/{{train,test}}/<class>/NNNN.png\n", folder.display());
    }
    missing
        .iter()
        .map(|p| format!("  {}\n", p.display()))
        .collect()
}

/// Serialises the temporary replacement of the (process-global) panic hook.
static HOOK_LOCK: Mutex<()> = Mutex::new(());

/// Runs `f`, turning a panic into `Err(message)` without printing a panic message or
/// backtrace (burn-dataset panics when a download or a file read fails).
pub(crate) fn quietly<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    let _guard = HOOK_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let previous = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    panic::set_hook(previous);
    result.map_err(|payload| panic_message(payload.as_ref()))
}

/// The text of a panic payload: its first line, cut to 200 characters (with "…").
fn panic_message(payload: &(dyn Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string());
    let line = text.lines().next().unwrap_or("");
    match line.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_files_lists_what_is_absent() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let m = missing_files(DatasetName::Mnist, root);
        assert_eq!(m.len(), 4);
        assert_eq!(m[0], root.join("mnist/train/train-images-idx3-ubyte"));
        assert_eq!(m[3], root.join("mnist/test/t10k-labels-idx1-ubyte"));
        std::fs::create_dir_all(root.join("mnist/train")).unwrap();
        std::fs::write(root.join("mnist/train/train-images-idx3-ubyte"), b"x").unwrap();
        assert_eq!(missing_files(DatasetName::Mnist, root).len(), 3);

        assert_eq!(missing_files(DatasetName::Cifar10, root).len(), 20);
        std::fs::create_dir_all(root.join("cifar10/test/truck")).unwrap();
        let m = missing_files(DatasetName::Cifar10, root);
        assert_eq!(m.len(), 19);
        assert!(!m.contains(&root.join("cifar10/test/truck")));
    }

    #[test]
    fn missing_error_says_where_and_how() {
        let dir = tempfile::tempdir().unwrap();
        let msg = missing_error(DatasetName::Mnist, dir.path(), "the download failed").to_string();
        for needle in [
            "mnist/train/train-images-idx3-ubyte",
            "mnist/test/t10k-labels-idx1-ubyte",
            "the download failed",
            "bash datasets/install.sh mnist",
            "../shared/datasets/mnist",
            "network access",
        ] {
            assert!(msg.contains(needle), "{needle:?} not in:\n{msg}");
        }
        let msg = missing_error(DatasetName::Cifar10, dir.path(), "x").to_string();
        assert!(
            msg.contains("cifar10/{train,test}/<class>/NNNN.png"),
            "{msg}"
        );
        assert!(msg.contains("install.sh cifar10"), "{msg}");
        std::fs::create_dir_all(dir.path().join("cifar10/train/cat")).unwrap();
        let msg = missing_error(DatasetName::Cifar10, dir.path(), "x").to_string();
        assert!(
            msg.contains("cifar10/train/airplane") && !msg.contains("train/cat"),
            "{msg}"
        );
        assert_eq!(msg.matches("\n  ").count(), 19, "{msg}");
    }

    #[test]
    fn quietly_catches_panics() {
        assert_eq!(quietly(|| 3), Ok(3));
        let r: Result<(), String> = quietly(|| panic!("boom {}", 1));
        assert_eq!(r, Err("boom 1".to_string()));
        let r: Result<(), String> = quietly(|| panic!("{}", "é".repeat(300)));
        assert_eq!(r.unwrap_err(), format!("{}…", "é".repeat(200)));
    }
}
