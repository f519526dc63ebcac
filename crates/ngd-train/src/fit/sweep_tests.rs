//! Tests of [`super`]: grids, key paths, batch scaling, selection.

use super::*;
use serde_json::json;

fn sweep() -> SweepConfig {
    serde_json::from_str(
        r#"{
            "name": "t", "title": "t", "tune_epochs": 1, "seeds": [0, 1], "reference": "kfac",
            "base": {"width": 64, "batch_size": 32},
            "optimizers": [
                {"label": "kfac", "settings": {"optimizer": "kfac", "fisher": "sampled"},
                 "grid": {"lr": [0.1, 0.3], "damping": [0.01, 0.1, 1.0]}}
            ]
        }"#,
    )
    .unwrap()
}

#[test]
fn grid_points_are_every_combination_and_configs_overlay_in_order() {
    let s = sweep();
    let points = SweepConfig::grid_points(&s.optimizers[0]);
    assert_eq!(points.len(), 6);
    let cfg = s.run_config(&s.optimizers[0], &points[5]).unwrap();
    assert_eq!((cfg.model.width, cfg.schedule.batch_size), (64, 32));
    let kfac = cfg.optimizer.kfac.clone().unwrap();
    assert_eq!(kfac.fisher, ngd_optim::Fisher::Sampled);
    assert_eq!(kfac, ngd_optim::KfacConfig::new().with_fisher(kfac.fisher));
    assert_eq!((cfg.optimizer.lr, cfg.optimizer.damping.value), (0.3, 1.0));
    assert_eq!(
        cfg.model.depth,
        FitConfig::new(cfg.optimizer.name).model.depth
    );
}

/// η·(B/B₀)^p per grid point: the square-root rule doubles η from B₀ = 256 to 1024 and the
/// linear rule quadruples it; without the scaling η is the grid's.
#[test]
fn learning_rates_scale_with_the_batch_as_configured() {
    let s = sweep();
    let mut c = s.optimizers[0].clone();
    c.grid = BTreeMap::from([
        ("batch_size".into(), vec![256.into(), 1024.into()]),
        ("lr".into(), vec![0.001.into()]),
    ]);
    let lrs = |c: &Contender| -> Vec<f64> {
        SweepConfig::grid_points(c)
            .iter()
            .map(|p| s.run_config(c, p).unwrap().optimizer.lr)
            .collect()
    };
    assert_eq!(lrs(&c), vec![0.001, 0.001]);
    for (power, at_1024) in [(0.5, 0.002), (1.0, 0.004)] {
        c.lr_batch_scaling = Some(LrBatchScaling {
            base_batch: 256,
            power,
        });
        let got = lrs(&c);
        assert_eq!(got[0], 0.001);
        assert!((got[1] - at_1024).abs() < 1e-15, "{power}: {got:?}");
    }
    c.lr_batch_scaling = Some(LrBatchScaling {
        base_batch: 0,
        power: 1.0,
    });
    let err = s.run_config(&c, &Map::new()).unwrap_err().to_string();
    assert!(err.contains("base_batch"), "{err}");
}

/// Old configs read as selecting by accuracy and write without the key; time-to-target
/// ranks a run that reaches the target sooner first, then any that reaches it, then the
/// others by accuracy; the time is that of the first evaluation at or above the target.
#[test]
fn selection_by_time_to_target_ranks_as_stated() {
    let s = sweep();
    assert_eq!(s.select, Selection::ValAccuracy);
    assert!(serde_json::to_value(&s).unwrap().get("select").is_none());
    let timed: SweepConfig = serde_json::from_value({
        let mut v = serde_json::to_value(&s).unwrap();
        v["select"] = serde_json::json!({"time_to_val_accuracy": 0.9});
        v
    })
    .unwrap();
    let t = timed.select;
    assert_eq!(t, Selection::TimeToValAccuracy(0.9));
    let fast = t.rank(0.91, Some(10.0));
    let slow_but_accurate = t.rank(0.99, Some(20.0));
    let never = t.rank(0.89, None);
    let never_worse = t.rank(0.5, None);
    assert!(fast > slow_but_accurate && slow_but_accurate > never && never > never_worse);
    let by_accuracy = Selection::ValAccuracy;
    assert!(by_accuracy.rank(0.99, None) > by_accuracy.rank(0.91, None));

    let eval = |seconds: f64, val: Option<f64>| super::super::Evaluation {
        epoch: 0.0,
        step: seconds as u64,
        seconds,
        train_loss: None,
        val_loss: None,
        val_accuracy: val,
        test_loss: 0.0,
        test_accuracy: 0.0,
        damping: None,
    };
    let evals = [
        eval(0.0, Some(0.1)),
        eval(5.0, None),
        eval(7.0, Some(0.9)),
        eval(9.0, Some(0.95)),
    ];
    assert_eq!(t.seconds_to_target(&evals), Some(7.0));
    assert_eq!(t.steps_to_target(&evals), Some(7));
    assert_eq!(
        Selection::TimeToValAccuracy(0.96).seconds_to_target(&evals),
        None
    );
    assert_eq!(by_accuracy.seconds_to_target(&evals), None);
}

#[test]
fn unknown_fields_and_missing_optimizer_are_errors() {
    let mut s = sweep();
    s.base.insert("widht".into(), 3.into());
    let err = s.run_config(&s.optimizers[0], &Map::new()).unwrap_err();
    assert!(err.to_string().contains("widht"), "{err}");
    let mut s = sweep();
    s.optimizers[0].settings.remove("optimizer");
    let err = s.run_config(&s.optimizers[0], &Map::new()).unwrap_err();
    assert!(err.to_string().contains("optimizer"), "{err}");
}

/// Grids and settings address nested options by key path, by section objects or by the old
/// flat keys, with the same config as the result; a misspelt path is an error naming it.
#[test]
fn key_paths_objects_and_flat_keys_set_the_same_options() {
    let flat = sweep();
    let mut nested = flat.clone();
    nested.base = json!({"model.width": 64, "schedule": {"batch_size": 32}})
        .as_object()
        .unwrap()
        .clone();
    nested.optimizers[0].settings =
        json!({"optimizer": {"name": "kfac", "kfac": {"fisher": "sampled"}}})
            .as_object()
            .unwrap()
            .clone();
    nested.optimizers[0].grid = BTreeMap::from([
        ("optimizer.lr".into(), vec![0.1.into(), 0.3.into()]),
        (
            "optimizer.damping.value".into(),
            vec![0.01.into(), 0.1.into(), 1.0.into()],
        ),
    ]);
    let configs = |s: &SweepConfig| -> Vec<FitConfig> {
        SweepConfig::grid_points(&s.optimizers[0])
            .iter()
            .map(|p| s.run_config(&s.optimizers[0], p).unwrap())
            .collect()
    };
    assert_eq!(configs(&flat), configs(&nested));
    assert_eq!(configs(&nested)[5].optimizer.damping.value, 1.0);

    let mut typo = nested.clone();
    typo.base.insert("optimizer.kfac.decy".into(), 0.5.into());
    let err = typo
        .run_config(&typo.optimizers[0], &Map::new())
        .unwrap_err();
    assert!(err.to_string().contains("optimizer.kfac.decy"), "{err}");
    let mut typo = nested;
    typo.optimizers[0].settings["optimizer"]["kfac"]["decy"] = 0.5.into();
    let err = typo
        .run_config(&typo.optimizers[0], &Map::new())
        .unwrap_err();
    assert!(err.to_string().contains("optimizer.kfac.decy"), "{err}");
}

/// The old flat K-FAC keys at their defaults leave K-FAC unset (the dual form of each batch,
/// as they meant), while the same values by key path ask for the per-layer blocks.
#[test]
fn flat_kfac_keys_at_their_defaults_keep_the_dual_form() {
    let mut s = sweep();
    s.optimizers[0].settings = json!({"optimizer": "kfac", "fisher": "exact", "kfac_decay": 0.0})
        .as_object()
        .unwrap()
        .clone();
    let cfg = s.run_config(&s.optimizers[0], &Map::new()).unwrap();
    assert_eq!(cfg.optimizer.kfac, None);
    s.optimizers[0].settings = json!({"optimizer": "kfac", "optimizer.kfac.decay": 0.0})
        .as_object()
        .unwrap()
        .clone();
    let cfg = s.run_config(&s.optimizers[0], &Map::new()).unwrap();
    assert_eq!(cfg.optimizer.kfac, Some(ngd_optim::KfacConfig::new()));
}
