//! Helpers shared by the `ngd` binary's integration tests.
#![allow(dead_code)] // each test file uses a subset

use std::process::Command;

/// Runs the `ngd` binary: (success, stdout, stderr).
pub fn ngd(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ngd"))
        .args(args)
        .output()
        .expect("run ngd");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Parses a JSON file.
pub fn read_json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}
