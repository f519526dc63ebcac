//! With the `tch` feature, embeds an rpath to libtorch's `lib/` folder so that `ngd` (and
//! its tests) run without LD_LIBRARY_PATH. The folder is found as torch-sys finds it:
//! `$LIBTORCH/lib`, or the `lib/` of the Python torch package when LIBTORCH_USE_PYTORCH is set.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-env-changed=LIBTORCH_USE_PYTORCH");
    println!("cargo:rerun-if-env-changed=PYTHON_SYS_EXECUTABLE");
    if std::env::var_os("CARGO_FEATURE_TCH").is_none() {
        return;
    }
    match libtorch_lib_dir() {
        Some(dir) => println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display()),
        None => println!(
            "cargo:warning=feature tch: libtorch's lib/ folder not found (set LIBTORCH or \
             LIBTORCH_USE_PYTORCH=1); run ngd with it on LD_LIBRARY_PATH"
        ),
    }
}

fn libtorch_lib_dir() -> Option<PathBuf> {
    if let Some(root) = std::env::var_os("LIBTORCH") {
        return Some(PathBuf::from(root).join("lib"));
    }
    std::env::var_os("LIBTORCH_USE_PYTORCH")?;
    let python = std::env::var("PYTHON_SYS_EXECUTABLE").unwrap_or_else(|_| "python3".into());
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
