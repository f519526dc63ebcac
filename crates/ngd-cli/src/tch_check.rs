//! What LibTorch can see, and whether it is the libtorch this binary was built against,
//! asked before a LibTorch device is created. The version check is plain Rust (tested in every
//! build); only the questions to LibTorch need the `tch` feature.
#![cfg_attr(not(feature = "tch"), allow(dead_code))]

use crate::libtorch_version::libtorch_version_beside;
use anyhow::{Result, bail};
use std::path::{Path, PathBuf};

/// Environment variable that turns the libtorch version mismatch error into a go-ahead.
pub const ALLOW_MISMATCH_VAR: &str = "NGD_ALLOW_LIBTORCH_MISMATCH";

/// Number of CUDA devices LibTorch sees (0 without a GPU or a CUDA-enabled libtorch).
#[cfg(feature = "tch")]
pub fn cuda_device_count() -> Option<usize> {
    usize::try_from(tch::Cuda::device_count()).ok()
}

/// The libtorch version the build script found (`torch.__version__` or `build-version`).
#[cfg(feature = "tch")]
const BUILT_AGAINST: &str = env!("NGD_LIBTORCH_VERSION");

#[cfg(feature = "tch")]
fn built_against() -> Option<&'static str> {
    (BUILT_AGAINST != "unknown").then_some(BUILT_AGAINST)
}

/// Errors when the libtorch loaded into this process differs in major.minor version from the
/// one this binary was built against (LibTorch's C++ ABI is not stable across minor versions).
#[cfg(feature = "tch")]
pub fn ensure_loaded_libtorch_matches() -> Result<()> {
    let (Some(built), Some((dir, loaded))) = (built_against(), loaded_libtorch()) else {
        return Ok(());
    };
    if std::env::var_os(ALLOW_MISMATCH_VAR).is_some() {
        return Ok(());
    }
    check_versions(built, &loaded, &dir)
}

/// `Ok` when `built` and `loaded` share major.minor, else the error a user sees.
pub fn check_versions(built: &str, loaded: &str, dir: &Path) -> Result<()> {
    if major_minor(built) == major_minor(loaded) {
        return Ok(());
    }
    bail!(
        "libtorch {loaded} is loaded (from {}) but this binary was built against libtorch \
         {built}, and LibTorch's C++ ABI changes between minor versions (tensors come out \
         broken): put libtorch {built}'s lib/ folder first on LD_LIBRARY_PATH, or rebuild \
         against this one with LIBTORCH_USE_PYTORCH=1 LIBTORCH_BYPASS_VERSION_CHECK=1 \
         (set {ALLOW_MISMATCH_VAR}=1 to try anyway)",
        dir.display()
    )
}

/// "2.11.0+cu130" → (2, 11).
fn major_minor(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.trim().split(['.', '+']);
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// Folder and version of the libtorch_cpu.so mapped into this process, if any.
fn loaded_libtorch() -> Option<(PathBuf, String)> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    let lib = maps
        .lines()
        .filter_map(|line| line.split_whitespace().nth(5))
        .find(|path| path.ends_with("/libtorch_cpu.so"))?;
    let dir = Path::new(lib).parent()?.to_path_buf();
    let version = libtorch_version_beside(&dir)?;
    Some((dir, version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_minor_version_passes_and_another_fails() {
        let dir = Path::new("/opt/torch/lib");
        assert!(check_versions("2.9.0", "2.9.1+cu128", dir).is_ok());
        let err = check_versions("2.9.0", "2.11.0+cu130", dir)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("libtorch 2.11.0+cu130 is loaded (from /opt/torch/lib)"),
            "{err}"
        );
        assert!(err.contains("built against libtorch 2.9.0"), "{err}");
        assert!(err.contains(ALLOW_MISMATCH_VAR), "{err}");
    }

    #[test]
    fn reads_the_version_of_a_python_package_and_of_an_archive() {
        let tmp = tempfile::tempdir().unwrap();
        let lib = tmp.path().join("lib");
        std::fs::create_dir(&lib).unwrap();
        assert_eq!(libtorch_version_beside(&lib), None);
        std::fs::write(tmp.path().join("build-version"), "2.9.0+cpu\n").unwrap();
        assert_eq!(libtorch_version_beside(&lib).as_deref(), Some("2.9.0+cpu"));
        let py = "from typing import Optional\n__version__ = '2.11.0+cu130'\ncuda = '13.0'\n";
        std::fs::write(tmp.path().join("version.py"), py).unwrap();
        assert_eq!(
            libtorch_version_beside(&lib).as_deref(),
            Some("2.11.0+cu130")
        );
    }
}
