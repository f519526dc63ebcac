//! The version recorded next to a libtorch `lib/` folder (shared with the build script).

use std::path::Path;

/// `__version__` of `../version.py` of a Python torch package (`__version__ = '2.9.0+cu128'`)
/// or the content of `../build-version` of a libtorch archive.
pub fn libtorch_version_beside(lib_dir: &Path) -> Option<String> {
    let root = lib_dir.parent()?;
    if let Ok(text) = std::fs::read_to_string(root.join("version.py")) {
        let line = text.lines().find(|l| l.starts_with("__version__"))?;
        return Some(line.split(['\'', '"']).nth(1)?.to_string());
    }
    let text = std::fs::read_to_string(root.join("build-version")).ok()?;
    Some(text.trim().to_string())
}
