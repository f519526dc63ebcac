//! `ngd predict` end to end on a small MNIST case, checked against an independent kernel
//! regression written here; and the test-set theory columns of `ngd train`.

use faer::Mat;
use ngd_data::{DataConfig, DatasetName};
use ngd_kernels::{AnalyticConfig, relu_layer_kernels, relu_layer_kernels_sym};
mod common;
use common::*;

/// MNIST 0 vs 7, N = 200, N' = 100, width 256, 2 seeds, analytic kernels: every key present,
/// accuracies in [0, 1], two seeds per method, and the exact method's kernel-regression
/// accuracy/loss equal Θ(x',x)Θ⁻¹y computed here with an LU solve (loss to 1e-8 relative).
#[test]
fn predict_small_mnist_matches_independent_kernel_regression() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("p.json");
    let (ok, stdout, stderr) = ngd(&[
        "predict",
        "--dataset",
        "mnist",
        "--classes",
        "0,7",
        "--n-train",
        "200",
        "--n-test",
        "100",
        "--width",
        "256",
        "--seeds",
        "2",
        "--methods",
        "exact,block-diagonal,block-tri-diagonal,kfac,kfac-printed",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("exact"), "{stdout}");
    let json = read_json(&out);
    assert_eq!(json["config"]["n_train"], 200);
    assert_eq!(json["config"]["kernel"], "analytic");
    let methods = json["methods"].as_object().unwrap();
    // N = 200 < M_0 = 784: K-FAC's factors are invertible; training's form has α = N(L−1)+1,
    // eq. 21 as printed N·L.
    assert_eq!(methods["kfac"]["alpha"].as_f64(), Some(401.0));
    assert_eq!(methods["kfac-printed"]["alpha"].as_f64(), Some(600.0));
    for name in [
        "exact",
        "block-diagonal",
        "block-tri-diagonal",
        "kfac",
        "kfac-printed",
    ] {
        let m = &methods[name];
        let kr = &m["kernel_regression"];
        let acc = kr["test_accuracy"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&acc), "{name}: {acc}");
        assert!(kr["test_loss"].as_f64().unwrap() >= 0.0);
        let c = &m["converged"];
        for key in ["test_accuracy_mean", "test_accuracy_std", "test_loss_mean"] {
            let v = c[key].as_f64().unwrap_or_else(|| panic!("{name}: {key}"));
            assert!(v.is_finite() && v >= 0.0, "{name}: {key} = {v}");
        }
        assert!(c["test_accuracy_mean"].as_f64().unwrap() <= 1.0);
        let seeds = c["per_seed"].as_array().unwrap();
        assert_eq!(seeds.len(), 2, "{name}");
        for s in seeds {
            let a = s["test_accuracy"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&a));
        }
        // two different seeds give different f_∞
        assert_ne!(seeds[0]["test_loss"], seeds[1]["test_loss"], "{name}");
    }

    // Independent: exact NGD's kernel-regression mean Θ(x',x)Θ(x,x)⁻¹y (Section 4.4).
    let data = ngd_data::load(&DataConfig {
        dataset: DatasetName::Mnist,
        classes: vec![0, 7],
        n_train: 200,
        n_test: 100,
    })
    .unwrap();
    let x = Mat::from_fn(200, 784, |i, j| data.train.x[i * 784 + j]);
    let xt = Mat::from_fn(100, 784, |i, j| data.test.x[i * 784 + j]);
    let cfg = AnalyticConfig::paper(3);
    let theta = relu_layer_kernels_sym(&cfg, x.as_ref()).unwrap().ntk();
    let theta_test = relu_layer_kernels(&cfg, xt.as_ref(), x.as_ref())
        .unwrap()
        .ntk();
    let y = Mat::from_fn(200, 1, |i, _| data.train.y[i]);
    let w = ngd_linalg::solve_general(theta.as_ref(), y.as_ref(), "Θ").unwrap();
    let f = theta_test * w;
    let rows: Vec<f64> = (0..100).map(|i| f[(i, 0)]).collect();
    let acc = ngd_data::accuracy(&rows, &data.test);
    let loss = ngd_data::mse_loss(&rows, &data.test);
    let kr = &methods["exact"]["kernel_regression"];
    assert_eq!(kr["test_accuracy"].as_f64().unwrap(), acc);
    let got = kr["test_loss"].as_f64().unwrap();
    assert!((got - loss).abs() <= 1e-8 * loss, "{got} vs {loss}");
}

#[test]
fn predict_refuses_kfac_for_ten_classes_and_tanh_with_analytic_kernels() {
    let (ok, _, err) = ngd(&[
        "predict",
        "--classes",
        "0,1,2",
        "--n-train",
        "20",
        "--n-test",
        "10",
        "--width",
        "32",
        "--seeds",
        "1",
    ]);
    assert!(!ok);
    assert!(err.contains("kfac") && err.contains("one output"), "{err}");
    let (ok, _, err) = ngd(&[
        "predict",
        "--n-train",
        "20",
        "--n-test",
        "10",
        "--width",
        "32",
        "--seeds",
        "1",
        "--activation",
        "tanh",
    ]);
    assert!(!ok);
    assert!(err.contains("ReLU"), "{err}");
}

/// Empirical kernels keep every sample's factors at once: a run that would need more than
/// the memory limit (here 1100 samples × 4·10⁶ f64 ≈ 33 GiB of factors) is refused before any
/// allocation.
#[test]
fn predict_refuses_empirical_kernels_that_do_not_fit_in_memory() {
    let (ok, _, err) = ngd(&[
        "predict",
        "--kernel",
        "empirical",
        "--methods",
        "exact",
        "--n-train",
        "1000",
        "--n-test",
        "100",
        "--width",
        "1000000",
    ]);
    assert!(!ok);
    let line = err
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_default();
    assert!(
        line.starts_with("error: the predictions would hold") && line.contains("Jacobian factors"),
        "{err}"
    );
    assert!(err.contains("hint:") && err.contains("--width"), "{err}");
}

/// Analytic kernels are N×N per layer and family: 30000 training samples need 3 × 6.7 GiB of
/// Θ_l alone, refused with the same one-line error (no factors mentioned).
#[test]
fn predict_refuses_kernels_that_do_not_fit_in_memory() {
    let (ok, _, err) = ngd(&[
        "predict",
        "--classes",
        "0,1,2,3,4,5,6,7,8,9",
        "--methods",
        "exact",
        "--n-train",
        "30000",
        "--n-test",
        "100",
    ]);
    assert!(!ok);
    let line = err
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_default();
    assert!(
        line.starts_with("error: the predictions would hold 20.2 GiB") && !line.contains("factors"),
        "{err}"
    );
    assert!(err.contains("hint: use fewer samples"), "{err}");
}

/// `ngd predict --kernel empirical` runs every predictor, also for three classes.
#[test]
fn predict_runs_with_empirical_kernels() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("e.json");
    let (ok, _, stderr) = ngd(&[
        "predict",
        "--classes",
        "0,1,2",
        "--n-train",
        "60",
        "--n-test",
        "30",
        "--width",
        "128",
        "--seeds",
        "2",
        "--kernel",
        "empirical",
        "--methods",
        "exact,block-diagonal,block-tri-diagonal",
        "--chunk",
        "25",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    let json = read_json(&out);
    assert_eq!(json["config"]["kernel"], "empirical");
    for name in ["exact", "block-diagonal", "block-tri-diagonal"] {
        let a = json["methods"][name]["converged"]["test_accuracy_mean"]
            .as_f64()
            .unwrap();
        assert!((0.0..=1.0).contains(&a), "{name}: {a}");
    }
}

/// `ngd train` records the test-set theory columns: at step 0 the prediction is the network's
/// own f_0, so it equals the measured test loss (1e-9 relative); after one exact-NGD step at
/// width 4096 the predicted test loss is within 6% of the measured one (measured: 3% at
/// M = 4096, 13% at M = 1024 — the linearisation error shrinks with width).
#[test]
fn train_records_test_theory_columns() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("t.json");
    let (ok, stdout, stderr) = ngd(&[
        "train",
        "--n-train",
        "30",
        "--n-test",
        "20",
        "--width",
        "4096",
        "--method",
        "exact",
        "--steps",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("theory_test"), "{stdout}");
    let json = read_json(&out);
    let steps = json["steps"].as_array().unwrap();
    let s0 = &steps[0];
    let (m0, t0) = (
        s0["test_loss"].as_f64().unwrap(),
        s0["theory_test_loss"].as_f64().unwrap(),
    );
    assert!((m0 - t0).abs() <= 1e-9 * m0, "{m0} vs {t0}");
    assert_eq!(s0["test_accuracy"], s0["theory_test_accuracy"]);
    let s1 = &steps[1];
    let (m1, t1) = (
        s1["test_loss"].as_f64().unwrap(),
        s1["theory_test_loss"].as_f64().unwrap(),
    );
    eprintln!("step 1 test loss: measured {m1:.5e}, theory {t1:.5e}");
    assert!((m1 - t1).abs() <= 0.06 * m1, "{m1} vs {t1}");
    assert!(s1["theory_test_accuracy"].as_f64().is_some());
}
