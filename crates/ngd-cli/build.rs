//! With the `tch` feature, embeds an rpath to libtorch's `lib/` folder so that `ngd` (and
//! its tests) run without LD_LIBRARY_PATH, and records libtorch's version as
//! `NGD_LIBTORCH_VERSION` so that `ngd` can refuse a different libtorch at run time. The folder
//! is found as torch-sys finds it: `$LIBTORCH/lib`, or the `lib/` of the Python torch package
//! when LIBTORCH_USE_PYTORCH is set (`python` inside a virtualenv, else `python3`).

use std::path::PathBuf;
use std::process::Command;

#[path = "src/libtorch_version.rs"]
mod libtorch_version;

fn main() {
    println!("cargo:rerun-if-changed=src/libtorch_version.rs");
    for var in ["LIBTORCH", "LIBTORCH_USE_PYTORCH", "VIRTUAL_ENV"] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    if std::env::var_os("CARGO_FEATURE_TCH").is_none() {
        return;
    }
    let Some(dir) = libtorch_lib_dir() else {
        println!(
            "cargo:warning=feature tch: libtorch's lib/ folder not found (set LIBTORCH or \
             LIBTORCH_USE_PYTORCH=1); run ngd with it on LD_LIBRARY_PATH"
        );
        println!("cargo:rustc-env=NGD_LIBTORCH_VERSION=unknown");
        return;
    };
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
    let version = libtorch_version::libtorch_version_beside(&dir);
    println!(
        "cargo:rustc-env=NGD_LIBTORCH_VERSION={}",
        version.as_deref().unwrap_or("unknown")
    );
}

fn libtorch_lib_dir() -> Option<PathBuf> {
    if let Some(root) = std::env::var_os("LIBTORCH") {
        return Some(PathBuf::from(root).join("lib"));
    }
    std::env::var_os("LIBTORCH_USE_PYTORCH")?;
    let python = if std::env::var_os("VIRTUAL_ENV").is_some() {
        "python"
    } else {
        "python3"
    };
    let out = Command::new(python)
        .args([
            "-c",
            "import os, torch; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))",
        ])
        .output()
        .ok()?;
    let dir = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    dir.is_dir().then_some(dir)
}
