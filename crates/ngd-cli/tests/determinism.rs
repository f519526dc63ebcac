//! Same seed, same backend → the same numbers, whatever the number of threads: `ngd train`,
//! `ngd predict` and `ngd isotropy` with RAYON_NUM_THREADS = 1 and 2 write bit-identical JSON
//! once wall times are removed.

mod common;
use common::read_json;
use serde_json::Value;
use std::process::Command;

/// Runs `ngd` with `threads` rayon threads, writing its JSON to `out`.
fn run(args: &[&str], threads: usize, out: &std::path::Path) -> Value {
    let status = Command::new(env!("CARGO_BIN_EXE_ngd"))
        .args(args)
        .arg("--out")
        .arg(out)
        .env("RAYON_NUM_THREADS", threads.to_string())
        .output()
        .expect("run ngd");
    assert!(
        status.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    without_times(read_json(out))
}

/// The document without wall-time fields (any key containing "seconds" or "timing").
fn without_times(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(k, _)| !k.contains("seconds") && !k.contains("timing"))
                .map(|(k, v)| (k, without_times(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_times).collect()),
        other => other,
    }
}

fn assert_thread_count_invariant(name: &str, args: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let one = run(args, 1, &dir.path().join(format!("{name}-1.json")));
    let two = run(args, 2, &dir.path().join(format!("{name}-2.json")));
    assert!(one == two, "{name}: records differ between 1 and 2 threads");
}

#[test]
fn train_is_bit_identical_with_one_and_two_threads() {
    for method in ["exact", "unit-wise", "kfac"] {
        assert_thread_count_invariant(
            method,
            &[
                "train",
                "--n-train",
                "60",
                "--n-test",
                "30",
                "--width",
                "256",
                "--method",
                method,
                "--damping",
                "1e-3",
                "--steps",
                "2",
            ],
        );
    }
}

#[test]
fn predict_is_bit_identical_with_one_and_two_threads() {
    assert_thread_count_invariant(
        "predict",
        &[
            "predict",
            "--n-train",
            "80",
            "--n-test",
            "40",
            "--width",
            "128",
            "--seeds",
            "2",
        ],
    );
}

#[test]
fn isotropy_is_bit_identical_with_one_and_two_threads() {
    assert_thread_count_invariant(
        "isotropy",
        &[
            "isotropy",
            "--widths",
            "32,64",
            "--seeds",
            "2",
            "--n",
            "16",
            "--input-dim",
            "20",
            "--methods",
            "ntk,exact,block-diagonal,kfac,unit-wise",
        ],
    );
}
