//! Tests of the figure configs (`figure.rs`).

use super::*;

/// A run's unset options come from the base, then from the defaults.
#[test]
fn run_options_fall_back_to_base_then_defaults() {
    let base = RunSpec {
        width: Some(256),
        steps: Some(2),
        ..RunSpec::default()
    };
    let run = RunSpec {
        width: Some(512),
        ..RunSpec::default()
    };
    let spec = run.over(&base);
    assert_eq!(spec.steps, Some(2));
    let f32_run = RunSpec {
        precision: Some(ngd_optim::Precision::F32),
        ..RunSpec::default()
    };
    let authors = RunSpec {
        damping_convention: Some(ngd_optim::DampingConvention::Authors),
        ..RunSpec::default()
    };
    let merged = f32_run.over(&authors);
    assert_eq!(merged.precision, Some(ngd_optim::Precision::F32));
    assert_eq!(
        merged.damping_convention,
        Some(ngd_optim::DampingConvention::Authors)
    );
    let net = spec.network();
    assert_eq!(net.shape.width, 512);
    assert_eq!(net.shape.depth, defaults::DEPTH);
    assert_eq!(net.n_train, defaults::N_TRAIN);
}

/// `forster` is optional in a config and left out of the echo when unset.
#[test]
fn configs_without_forster_read_and_write_unchanged() {
    let text = r#"{"name":"x","title":"t","base":{"width":256},"runs":[{"label":"a"}]}"#;
    let exp: Experiment = serde_json::from_str(text).unwrap();
    let back = serde_json::to_value(&exp).unwrap();
    assert!(back["base"].get("forster").is_none());
    for key in ["precision", "damping_convention", "diagnostics"] {
        assert!(back["base"].get(key).is_none(), "{key}");
    }
    assert!(back["base"].get("allow_divergence").unwrap().is_null());
}
