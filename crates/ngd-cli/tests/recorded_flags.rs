//! `ngd train --batch-size …` records every K-FAC option it was given in the run's `config`,
//! and `ngd eval` on a file that is not a checkpoint is a short, clear error.

mod common;
use common::{ngd, read_json};
use serde_json::{Value, json};
use std::path::Path;

/// A small 10-class K-FAC run (500 images, 100 held out, width 32, one epoch of 8 steps);
/// `extra` adds options. Returns the record written by `--out`.
fn train(out: &Path, extra: &[&str]) -> Value {
    let mut args = vec![
        "train",
        "--dataset",
        "mnist",
        "--classes",
        "all",
        "--n-train",
        "500",
        "--validation",
        "100",
        "--n-test",
        "100",
        "--width",
        "32",
        "--epochs",
        "1",
        "--method",
        "kfac",
        "--batch-size",
        "50",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let (ok, _, err) = ngd(&args);
    assert!(ok, "{extra:?}: {err}");
    read_json(out)
}

/// The option at the dotted key path of a record's config (null when absent).
fn at<'a>(record: &'a Value, path: &str) -> &'a Value {
    record["config"]
        .pointer(&format!("/{}", path.replace('.', "/")))
        .unwrap_or(&Value::Null)
}

/// Every K-FAC option set to a non-default value is in the record's `config` as given, and
/// differs there from a run without the options (so no value is recorded by coincidence).
#[test]
fn every_kfac_flag_is_recorded_in_the_run_config() {
    let dir = tempfile::tempdir().unwrap();
    // (flag, value on the command line, value expected in `config`, its key there)
    let flags: [(&str, Option<&str>, Value, &str); 12] = [
        (
            "--fisher",
            Some("empirical"),
            json!("empirical"),
            "optimizer.kfac.fisher",
        ),
        (
            "--curvature-batch",
            Some("20"),
            json!(20),
            "optimizer.kfac.stats_batch",
        ),
        (
            "--kfac-decay",
            Some("0.9"),
            json!(0.9),
            "optimizer.kfac.decay",
        ),
        (
            "--kfac-stats-interval",
            Some("2"),
            json!(2),
            "optimizer.kfac.stats_interval",
        ),
        (
            "--kfac-inverse-interval",
            Some("3"),
            json!(3),
            "optimizer.kfac.inverse_interval",
        ),
        (
            "--damping",
            Some("0.05"),
            json!(0.05),
            "optimizer.damping.value",
        ),
        ("--lr", Some("0.05"), json!(0.05), "optimizer.lr"),
        ("--momentum", Some("0.5"), json!(0.5), "optimizer.momentum"),
        (
            "--max-step-norm",
            Some("10"),
            json!(10.0),
            "optimizer.clipping.max_step_norm",
        ),
        (
            "--kl-clip",
            Some("0.01"),
            json!(0.01),
            "optimizer.clipping.kl",
        ),
        (
            "--adaptive-damping",
            None,
            json!(true),
            "optimizer.damping.adaptive",
        ),
        // K-FAC's default is f32.
        (
            "--inverse-precision",
            Some("f64"),
            json!("f64"),
            "optimizer.kfac.inverse_precision",
        ),
    ];
    let mut extra = Vec::new();
    for (flag, value, _, _) in &flags {
        extra.push(*flag);
        extra.extend(value);
    }
    let given = train(&dir.path().join("run.json"), &extra);
    let plain = train(&dir.path().join("defaults.json"), &[]);
    for record in [&given, &plain] {
        assert_eq!(record["status"]["kind"], "complete", "{}", record["status"]);
        assert_eq!(at(record, "optimizer.name"), "kfac");
        assert_eq!(at(record, "schedule.batch_size"), 50);
        assert_eq!(record["steps"], 8);
    }
    for (flag, _, want, key) in &flags {
        let (got, default) = (at(&given, key), at(&plain, key));
        eprintln!("{flag}: recorded {got}, default {default}");
        assert_eq!(got, want, "{flag}: config.{key}");
        assert_ne!(got, default, "{flag}: the default is the same value");
    }
    // The data options too.
    for (key, want) in [
        ("data.n_train", json!(500)),
        ("data.validation", json!(100)),
        ("data.n_test", json!(100)),
        ("model.width", json!(32)),
        ("schedule.epochs", json!(1)),
    ] {
        assert_eq!(at(&given, key), &want, "config.{key}");
    }
    // The evaluations record NGD's damping, starting at the configured 0.05.
    let rho: Vec<f64> = given["evaluations"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["damping"].as_f64())
        .collect();
    assert!(rho.len() >= 2 && rho[0] == 0.05, "{rho:?}");
}

/// `ngd eval --model` on files that are not checkpoints (text, empty, random bytes, a run's
/// JSON record, a checkpoint cut in half): a failure whose message names the file and says
/// what is wrong in a few lines, without a panic or a backtrace.
#[test]
fn eval_on_a_file_that_is_not_a_checkpoint_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("model.mpk");
    let out = dir.path().join("run.json");
    train(
        &out,
        &[
            "--n-train",
            "200",
            "--validation",
            "50",
            "--width",
            "16",
            "--save",
            checkpoint.to_str().unwrap(),
        ],
    );
    // The real checkpoint evaluates (the cases below fail because of the file alone).
    let (ok, stdout, err) = ngd(&["eval", "--model", checkpoint.to_str().unwrap()]);
    assert!(ok && stdout.contains("test_accuracy="), "{err}");

    let bytes = std::fs::read(&checkpoint).unwrap();
    let random: Vec<u8> = (0..4096u32)
        .map(|k| (k.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    let cases: [(&str, Vec<u8>); 5] = [
        ("notes.txt", b"this is not a checkpoint\n".to_vec()),
        ("empty.mpk", Vec::new()),
        ("random.mpk", random),
        ("record.json", std::fs::read(&out).unwrap()),
        ("half.mpk", bytes[..bytes.len() / 2].to_vec()),
    ];
    for (name, contents) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        let (ok, stdout, err) = ngd(&["eval", "--model", path.to_str().unwrap()]);
        eprintln!("{name}: {}", err.trim());
        assert!(!ok, "{name}: accepted: {stdout}");
        assert!(
            !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
            "{name}: a panic:\n{err}"
        );
        assert!(
            err.contains(path.to_str().unwrap()) && err.contains("checkpoint"),
            "{name}: the message does not name the checkpoint file:\n{err}"
        );
        assert!(
            err.lines().count() <= 4 && err.len() < 600,
            "{name}: not a short message:\n{err}"
        );
        assert!(!stdout.contains("test_accuracy"), "{name}: {stdout}");
    }
    // A missing file is the same kind of error.
    let missing = dir.path().join("missing.mpk");
    let (ok, _, err) = ngd(&["eval", "--model", missing.to_str().unwrap()]);
    assert!(!ok && err.contains(missing.to_str().unwrap()), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
