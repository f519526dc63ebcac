//! `ngd isotropy` end to end (JSON keys, exact NGD isotropic, per-entry errors) and
//! `ngd figure` with `allow_divergence`.

mod common;
use common::*;

/// Gaussian inputs, N = 12, widths 8 (< N: BD's last-layer Gram is singular) and 32, 2 seeds:
/// every entry present; exact NGD κ = 1, α = 1; BD α = L; NTK κ > 1; the singular and unknown
/// cases are `error` entries, not a failure; the plot is written.
#[test]
fn isotropy_reports_condition_numbers_and_per_entry_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("iso.json");
    let (ok, _, err) = ngd(&[
        "isotropy",
        "--methods",
        "ntk,exact,block-diagonal,no-such-method",
        "--widths",
        "8,32",
        "--depth",
        "3",
        "--inputs",
        "gaussian",
        "--input-dim",
        "20",
        "--n",
        "12",
        "--seeds",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(
        err.contains("M=   32 seed=1"),
        "progress per (width, seed): {err}"
    );
    assert!(dir.path().join("iso.svg").exists());
    let doc = read_json(&out);
    let results = doc["results"].as_array().unwrap();
    assert_eq!(results.len(), 8);
    let entry = |m: &str, w: u64| {
        results
            .iter()
            .find(|r| r["method"] == m && r["width"] == w)
            .unwrap()
            .clone()
    };
    let exact = entry("exact", 32);
    assert_eq!(exact["seeds"], 2);
    assert!((exact["condition_number_mean"].as_f64().unwrap() - 1.0).abs() < 1e-8);
    assert!((exact["alpha_mean"].as_f64().unwrap() - 1.0).abs() < 1e-8);
    let bd = entry("block-diagonal", 32);
    assert!((bd["alpha_mean"].as_f64().unwrap() - 3.0).abs() < 1e-8);
    assert!(entry("ntk", 32)["condition_number_mean"].as_f64().unwrap() > 1.5);
    for key in [
        "condition_number_std",
        "alpha_std",
        "eigenvalue_min_mean",
        "eigenvalue_max_mean",
    ] {
        assert!(exact[key].is_number(), "{key}");
    }
    let singular = entry("block-diagonal", 8);
    assert_eq!(singular["seeds"], 0);
    assert!(singular["error"].as_str().unwrap().contains("damping"));
    let unknown = entry("no-such-method", 32);
    assert!(unknown["error"].as_str().unwrap().contains("not available"));
}

/// A run that overflows is kept up to its divergence with `allow_divergence`, and the next run
/// still happens.
/// When every (method, width) entry fails, the command still writes its JSON but exits
/// non-zero with the first error.
#[test]
fn isotropy_fails_when_every_entry_fails() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("iso.json");
    let (ok, _, err) = ngd(&[
        "isotropy",
        "--methods",
        "no-such-method",
        "--widths",
        "8",
        "--inputs",
        "gaussian",
        "--input-dim",
        "20",
        "--n",
        "12",
        "--seeds",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!ok, "{err}");
    assert!(
        err.contains("every") && err.contains("no-such-method"),
        "{err}"
    );
    assert!(out.exists());
}

#[test]
fn figure_keeps_diverging_runs_when_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    std::fs::write(
        &config,
        r#"{"name": "t", "title": "t",
            "base": {"n_train": 20, "n_test": 10, "depth": 3, "width": 64, "method": "gd",
                     "lr": 1e12, "steps": 40, "allow_divergence": true},
            "runs": [{"label": "diverges"}, {"label": "fine", "lr": 1.0, "steps": 2}]}"#,
    )
    .unwrap();
    let (ok, _, err) = ngd(&["figure", config.to_str().unwrap()]);
    assert!(ok, "{err}");
    let doc = read_json(&dir.path().join("results.json"));
    let runs = doc["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    let step = runs[0]["diverged"]["step"].as_u64().unwrap() as usize;
    assert_eq!(runs[0]["record"]["steps"].as_array().unwrap().len(), step);
    assert!(runs[1].get("diverged").is_none());
    assert_eq!(runs[1]["record"]["steps"].as_array().unwrap().len(), 3);
}
