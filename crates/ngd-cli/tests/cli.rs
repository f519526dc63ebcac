//! The `ngd` binary end to end: a short run writes its JSON, bad input gives one clear error.

mod common;
use common::*;

const SMALL: &[&str] = &[
    "train",
    "--n-train",
    "20",
    "--n-test",
    "10",
    "--width",
    "64",
];

fn expect_error(extra: &[&str], needle: &str) {
    let args: Vec<&str> = SMALL.iter().chain(extra).copied().collect();
    let (ok, _, err) = ngd(&args);
    assert!(!ok, "{args:?} should fail");
    assert!(
        err.contains(needle),
        "{args:?}: stderr lacks '{needle}':\n{err}"
    );
    assert!(!err.contains("panicked"), "{args:?} panicked:\n{err}");
    assert!(
        err.lines().count() <= 3,
        "{args:?}: error is not short:\n{err}"
    );
}

#[test]
fn unknown_class_is_a_clear_error() {
    expect_error(&["--classes", "0,12"], "12");
}

#[test]
fn too_many_training_samples_is_a_clear_error() {
    expect_error(&["--n-train", "100000"], "100000");
}

#[test]
fn depth_below_two_is_a_clear_error() {
    expect_error(&["--depth", "1"], "depth");
}

#[test]
fn zero_width_is_a_clear_error() {
    expect_error(&["--width", "0"], "width");
}

#[test]
fn unknown_method_is_a_clear_error() {
    expect_error(&["--method", "newton"], "newton");
}

#[test]
fn negative_damping_is_a_clear_error() {
    expect_error(&["--damping=-1"], "damping");
}

#[test]
fn train_prints_every_step_and_writes_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run.json");
    let args: Vec<&str> = SMALL
        .iter()
        .copied()
        .chain([
            "--method",
            "exact",
            "--steps",
            "2",
            "--seed",
            "4",
            "--out",
            out.to_str().unwrap(),
        ])
        .collect();
    let (ok, stdout, stderr) = ngd(&args);
    assert!(ok, "{stderr}");
    // header + steps 0, 1, 2
    assert_eq!(stdout.lines().count(), 4, "{stdout}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let steps = json["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 3);
    for key in [
        "step",
        "train_loss",
        "train_accuracy",
        "test_loss",
        "test_accuracy",
        "theory_train_loss",
        "seconds",
    ] {
        assert!(steps[1].get(key).is_some(), "missing {key}");
    }
    assert_eq!(json["config"]["seed"], 4);
    assert_eq!(json["config"]["backend"], "flex");
    assert_eq!(json["config"]["method"], "exact");
    assert_eq!(json["lr"], 1.0);
    let source = json["config"]["data_source"]
        .as_str()
        .unwrap()
        .to_lowercase();
    assert!(source.contains("mnist"), "{source}");
    // same seed and backend → identical numbers
    let out2 = dir.path().join("run2.json");
    let args2: Vec<&str> = args
        .iter()
        .map(|a| {
            if *a == out.to_str().unwrap() {
                out2.to_str().unwrap()
            } else {
                a
            }
        })
        .collect();
    assert!(ngd(&args2).0);
    let json2: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out2).unwrap()).unwrap();
    for (a, b) in steps.iter().zip(json2["steps"].as_array().unwrap()) {
        assert_eq!(a["train_loss"], b["train_loss"]);
        assert_eq!(a["test_loss"], b["test_loss"]);
    }
}

/// An `--out` that cannot be written (its "folder" is a file) is refused before any training:
/// no step line is printed.
#[test]
fn unwritable_out_is_refused_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "not a folder").unwrap();
    let out = blocker.join("run.json");
    let args: Vec<&str> = SMALL
        .iter()
        .copied()
        .chain(["--steps", "50", "--out", out.to_str().unwrap()])
        .collect();
    let (ok, stdout, stderr) = ngd(&args);
    assert!(!ok);
    assert!(stderr.contains("run.json"), "{stderr}");
    assert!(stdout.is_empty(), "training started:\n{stdout}");
}

#[test]
fn diverging_training_is_a_clear_error() {
    expect_error(
        &["--method", "gd", "--lr", "1e30", "--steps", "3"],
        "diverged",
    );
}

/// A run that fails part-way still writes the steps it took, with the failure named.
#[test]
fn a_failed_run_writes_its_steps_up_to_the_failure() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run.json");
    let args: Vec<&str> = SMALL
        .iter()
        .copied()
        .chain(["--method", "gd", "--lr", "1e30", "--steps", "5"])
        .chain(["--out", out.to_str().unwrap()])
        .collect();
    let (ok, _, stderr) = ngd(&args);
    assert!(!ok && stderr.contains("diverged"), "{stderr}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let failed = json["failure"]["step"].as_u64().unwrap() as usize;
    assert!((1..=5).contains(&failed), "{json}");
    assert_eq!(json["steps"].as_array().unwrap().len(), failed);
    assert!(
        json["failure"]["error"]
            .as_str()
            .unwrap()
            .contains("diverged")
    );
}

/// A Σ whose size is not the depth is refused before training starts.
#[test]
fn sigma_of_the_wrong_size_is_refused_before_training() {
    let args: Vec<&str> = SMALL
        .iter()
        .copied()
        .chain(["--method", "layer-wise", "--sigma", "1,0.5;0.5,1"])
        .collect();
    let (ok, stdout, stderr) = ngd(&args);
    assert!(!ok);
    assert!(
        stderr.contains("2×2") && stderr.contains("depth L = 3"),
        "{stderr}"
    );
    assert!(stdout.is_empty(), "training started:\n{stdout}");
}

#[test]
fn unknown_backend_is_a_clear_error() {
    expect_error(&["--backend", "cuda"], "unknown backend");
}

#[test]
fn version_names_the_backends_built_in() {
    let (ok, stdout, stderr) = ngd(&["--version"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("backends: flex, ndarray"), "{stdout}");
    // With LibTorch: the version the build script found beside torch's lib/ folder.
    assert_eq!(
        cfg!(feature = "tch"),
        stdout.contains("tch-cpu, tch-cuda; libtorch 2."),
        "{stdout}"
    );
}

/// K-FAC and unit-wise NGD (MSE and cross-entropy) train 10-class MNIST (C = 10 outputs):
/// the train loss falls by ≥ 20 % in 3 steps (unit-wise cross-entropy, measured 21 %: by ≥ 10 %)
/// and the test accuracy rises well above chance (0.1). Measured: K-FAC MSE 0.51 → 0.32 (test
/// 0.53), cross-entropy 2.30 → 0.82 (0.61), unit-wise MSE 0.51 → 0.29 (0.53), cross-entropy
/// 2.30 → 1.81 (0.45).
#[test]
fn kfac_and_unit_wise_train_ten_class_mnist() {
    let dir = tempfile::tempdir().unwrap();
    for (method, loss, lr, factor) in [
        ("kfac", "mse", "1", 0.8),
        ("kfac", "cross-entropy", "3", 0.8),
        ("unit-wise", "mse", "1", 0.8),
        ("unit-wise", "cross-entropy", "1", 0.9),
    ] {
        let out = dir.path().join(format!("{method}-{loss}.json"));
        let args = [
            "train",
            "--classes",
            "0,1,2,3,4,5,6,7,8,9",
            "--n-train",
            "200",
            "--n-test",
            "200",
            "--width",
            "256",
            "--method",
            method,
            "--loss",
            loss,
            "--lr",
            lr,
            "--damping",
            "1e-3",
            "--steps",
            "3",
            "--out",
            out.to_str().unwrap(),
        ];
        let (ok, _, stderr) = ngd(&args);
        assert!(ok, "{method} {loss}: {stderr}");
        let json = read_json(&out);
        let steps = json["steps"].as_array().unwrap();
        let loss0 = steps[0]["train_loss"].as_f64().unwrap();
        let loss3 = steps[3]["train_loss"].as_f64().unwrap();
        let acc = steps[3]["test_accuracy"].as_f64().unwrap();
        assert!(loss3 < factor * loss0, "{method} {loss}: {loss0} → {loss3}");
        assert!(acc > 0.4, "{method} {loss}: test accuracy {acc}");
    }
}

/// Mini-batch training end to end: `ngd train --batch-size … --save --out` writes a complete
/// record and a checkpoint, and `ngd eval` on the checkpoint reproduces the recorded test
/// accuracy and loss.
#[test]
fn minibatch_train_save_then_eval_reproduces_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let (model, out, eval) = (
        dir.path().join("model.mpk"),
        dir.path().join("run.json"),
        dir.path().join("eval.json"),
    );
    let (ok, stdout, err) = ngd(&[
        "train",
        "--dataset",
        "mnist",
        "--classes",
        "all",
        "--n-train",
        "1200",
        "--n-test",
        "300",
        "--validation",
        "200",
        "--width",
        "64",
        "--parameterization",
        "standard",
        "--method",
        "kfac",
        "--fisher",
        "sampled",
        "--kfac-decay",
        "0.9",
        "--lr",
        "0.1",
        "--damping",
        "0.1",
        "--batch-size",
        "100",
        "--epochs",
        "2",
        "--save",
        model.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(stdout.contains("test_acc"), "{stdout}");
    let record = read_json(&out);
    let evals = record["evaluations"].as_array().unwrap();
    assert_eq!(evals.len(), 3);
    assert_eq!(record["status"]["kind"], "complete");
    assert_eq!(record["config"]["optimizer"]["name"], "kfac");
    let last = evals.last().unwrap();
    assert!(last["test_accuracy"].as_f64().unwrap() > 0.5, "{last}");
    let (ok, stdout, err) = ngd(&[
        "eval",
        "--model",
        model.to_str().unwrap(),
        "--out",
        eval.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(stdout.contains("test_accuracy="), "{stdout}");
    let e = read_json(&eval);
    assert_eq!(e["test_accuracy"], last["test_accuracy"]);
    assert_eq!(e["test_images"], 300);
    let (a, b) = (
        e["test_loss"].as_f64().unwrap(),
        last["test_loss"].as_f64().unwrap(),
    );
    assert!((a - b).abs() <= 1e-12 * b.abs(), "{a} vs {b}");
}

/// Mini-batch bad values are refused before any data loads (no `train:` line), each naming
/// the option: batch size, epochs or lr of 0, momentum ≥ 1, a negative --max-step-norm,
/// --kl-clip 0, --curvature-batch 0, --kfac-decay 1, --n-train 0.
#[test]
fn minibatch_bad_values_are_refused_before_any_work() {
    let cases: [(&[&str], &str); 9] = [
        (&["--batch-size", "0"], "batch size must be at least 1"),
        (&["--epochs", "0"], "epochs"),
        (&["--lr", "0"], "learning rate must be finite and > 0"),
        (
            &["--method", "sgd", "--momentum", "1"],
            "momentum must be in [0, 1)",
        ),
        (
            &["--max-step-norm", "-1"],
            "max_step_norm must be finite and > 0",
        ),
        (&["--kl-clip", "0"], "kl_clip must be finite and > 0"),
        (
            &["--curvature-batch", "0"],
            "statistics batch must hold at least 1",
        ),
        (&["--kfac-decay", "1"], "kfac decay must be in [0, 1)"),
        (&["--n-train", "0"], "at least 1"),
    ];
    for (bad, message) in cases {
        let mut args = vec![
            "train",
            "--classes",
            "all",
            "--n-train",
            "500",
            "--validation",
            "100",
            "--method",
            "kfac",
            "--batch-size",
            "50",
        ];
        args.extend_from_slice(bad);
        let (ok, stdout, err) = ngd(&args);
        assert!(!ok && err.contains(message), "{bad:?}: {err}");
        assert!(
            !stdout.contains("train:"),
            "{bad:?}: work started:\n{stdout}"
        );
    }
}

/// `--arch cnn` refuses, before any data loads, the MLP's shape options (even at their default
/// values), the methods without convolution blocks, the exact Fisher, and --kfac-conv with the
/// MLP or a first-order optimizer.
#[test]
fn cnn_options_it_cannot_use_are_refused_before_any_work() {
    let cases: [(&[&str], &str); 8] = [
        (&["--depth", "3"], "--depth shapes the MLP"),
        (&["--width", "64"], "--width shapes the MLP"),
        (&["--activation", "tanh"], "--activation shapes the MLP"),
        (
            &["--parameterization", "ntk"],
            "--parameterization shapes the MLP",
        ),
        (&["--method", "exact"], "Linear layers only"),
        (
            &["--method", "kfac", "--fisher", "exact"],
            "Linear layers only",
        ),
        (
            &["--method", "adam", "--kfac-conv", "expand"],
            "does not use it",
        ),
        (
            &["--arch", "mlp", "--kfac-conv", "reduce"],
            "needs --arch cnn",
        ),
    ];
    for (bad, message) in cases {
        let mut args = vec![
            "train",
            "--dataset",
            "cifar10",
            "--classes",
            "all",
            "--n-train",
            "500",
            "--validation",
            "100",
            "--arch",
            "cnn",
            "--method",
            "kfac",
            "--batch-size",
            "50",
        ];
        args.extend_from_slice(bad);
        let (ok, stdout, err) = ngd(&args);
        assert!(!ok && err.contains(message), "{bad:?}: {err}");
        assert!(!err.contains("panicked"), "{bad:?}: {err}");
        assert!(
            !err.contains("train: ") && !stdout.contains("test_acc"),
            "{bad:?}: work started:\n{err}"
        );
    }
}

/// Mini-batch bad input: an unwritable --save is refused before training, a first-order
/// optimizer without --batch-size and a mini-batch option without it are clear errors.
#[test]
fn minibatch_bad_input_is_refused_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"x").unwrap();
    let save = blocker.join("model.mpk");
    let (ok, stdout, err) = ngd(&[
        "train",
        "--classes",
        "all",
        "--n-train",
        "500",
        "--n-test",
        "100",
        "--validation",
        "100",
        "--width",
        "32",
        "--method",
        "adam",
        "--batch-size",
        "50",
        "--save",
        save.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("model.mpk"), "{err}");
    assert!(!stdout.contains("test_acc"), "training started:\n{stdout}");
    expect_error(&["--method", "adam"], "--batch-size");
    // clap's own error for an option that needs --batch-size (with its usage lines).
    let (ok, _, err) = ngd(&["train", "--epochs", "3"]);
    assert!(
        !ok && err.contains("--batch-size") && !err.contains("panicked"),
        "{err}"
    );
    expect_error(
        &[
            "--batch-size",
            "5000",
            "--classes",
            "all",
            "--n-train",
            "500",
            "--validation",
            "100",
            "--method",
            "adam",
        ],
        "larger than the training set",
    );
}

/// Every method that has a cross-entropy Fisher trains MNIST 0 vs 7 (logistic output, N = 100,
/// M = 256, ρ = 1e-3, 3 full-batch steps) through `ngd train --loss cross-entropy`: the NGD
/// methods at η = 1 cut the loss by ≥ 2× (K-FAC, measured ×2.1: by ≥ 40 %) and classify the test
/// set, GD at its default η = 1/λ_max(Θ) by ≥ 20 %. Measured: 0.679 → exact 0.168, BD 0.085,
/// BTD 0.137, layer-wise Σ 0.112, K-FAC 0.318, unit-wise 0.061, GD 0.456; test accuracy ≥ 0.98
/// (GD 1.0).
#[test]
fn every_method_trains_with_cross_entropy() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = "1,0.5,0;0.5,1,0.5;0,0.5,1";
    let runs: [(&str, &[&str], f64); 7] = [
        ("exact", &["--lr", "1"], 0.5),
        ("block-diagonal", &["--lr", "1"], 0.5),
        ("block-tri-diagonal", &["--lr", "1"], 0.5),
        ("layer-wise", &["--lr", "1", "--sigma", sigma], 0.5),
        ("kfac", &["--lr", "1"], 0.6),
        ("unit-wise", &["--lr", "1"], 0.5),
        ("gd", &[], 0.8),
    ];
    for (method, extra, factor) in runs {
        let out = dir.path().join(format!("{method}.json"));
        let mut args = vec![
            "train",
            "--n-train",
            "100",
            "--n-test",
            "100",
            "--width",
            "256",
            "--method",
            method,
            "--loss",
            "cross-entropy",
            "--damping",
            "1e-3",
            "--steps",
            "3",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let (ok, _, stderr) = ngd(&args);
        assert!(ok, "{method}: {stderr}");
        let json = read_json(&out);
        assert_eq!(json["config"]["loss"], "cross-entropy", "{method}");
        let steps = json["steps"].as_array().unwrap();
        let loss0 = steps[0]["train_loss"].as_f64().unwrap();
        let loss3 = steps[3]["train_loss"].as_f64().unwrap();
        let acc = steps[3]["test_accuracy"].as_f64().unwrap();
        assert!(loss3 < factor * loss0, "{method}: {loss0} → {loss3}");
        assert!(acc > 0.9, "{method}: test accuracy {acc}");
    }
}
