//! A comparison of optimizers as an experiment ([`SweepConfig`]): each optimizer's small grid
//! (learning rate; damping for NGD) tuned on the validation split with one seed, then every
//! seed at the chosen setting, run round-robin (seed by seed, optimizer by optimizer) so that
//! a slow patch of a shared machine touches every optimizer alike. A sweep resumes: runs whose
//! configuration matches a finished record passed in are kept, not run again, so that a long
//! comparison can be run in pieces.

use super::{FitConfig, FitEvent, FitOptions, FitRecord, OptimizerKind, Status, fit};
use crate::{Result, TrainError};
use burn::tensor::Device;
use ngd_data::Holdout;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// One optimizer of a comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contender {
    /// Name in tables and legends.
    pub label: String,
    /// [`FitConfig`] fields for this optimizer (must hold `optimizer`).
    pub settings: Map<String, Value>,
    /// Values to try per field (every combination, tuned on the validation accuracy).
    #[serde(default)]
    pub grid: BTreeMap<String, Vec<Value>>,
    /// The learning rate scaled with the batch size: η·(B / base_batch)^power (power 1: the
    /// linear rule of SGD practice, ½: the square-root rule of Adam's); `None`: η as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr_batch_scaling: Option<LrBatchScaling>,
}

/// η·(B / `base_batch`)^`power` ([`Contender::lr_batch_scaling`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LrBatchScaling {
    /// The batch size at which the configured learning rate holds.
    pub base_batch: usize,
    /// The exponent: 1 linear, 0.5 square root.
    pub power: f64,
}

/// A comparison of optimizers on one dataset and network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepConfig {
    /// Short name.
    pub name: String,
    /// Chart title (the setting).
    pub title: String,
    /// [`FitConfig`] fields shared by every run (dataset, network, batch, epochs, …).
    pub base: Map<String, Value>,
    /// Epochs of each tuning run (seed = the first of `seeds`).
    pub tune_epochs: usize,
    /// Seeds of the final runs.
    pub seeds: Vec<u64>,
    /// The baseline contender: ratios are taken against it.
    pub reference: String,
    /// Test accuracy whose time to reach is reported; `None`: the median best test accuracy
    /// of the reference's runs minus `target_margin`.
    #[serde(default)]
    pub target_accuracy: Option<f64>,
    /// Subtracted from the reference's median best accuracy (0.01 = one point).
    #[serde(default)]
    pub target_margin: f64,
    /// How each contender's grid point is chosen from its tuning runs.
    #[serde(default, skip_serializing_if = "Selection::is_default")]
    pub select: Selection,
    /// The optimizers.
    pub optimizers: Vec<Contender>,
}

/// How a contender's grid point is chosen from its tuning runs.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Selection {
    /// The highest validation accuracy at the end of the tuning run.
    #[default]
    ValAccuracy,
    /// The least training time to reach this validation accuracy; a run that never reaches it
    /// ranks below every run that does, and among those the highest final accuracy wins. The
    /// fair choice across batch sizes, where the accuracy after a fixed number of epochs
    /// favours the small ones.
    TimeToValAccuracy(f64),
}

impl Selection {
    /// Whether this is the default, [`Selection::ValAccuracy`].
    pub fn is_default(&self) -> bool {
        *self == Self::ValAccuracy
    }

    /// The key a completed tuning run ranks by (larger is better): (reached the target, −time)
    /// or (false, final accuracy); every run "reaches" under [`Selection::ValAccuracy`].
    pub fn rank(self, val_accuracy: f64, seconds_to_target: Option<f64>) -> (bool, f64) {
        match (self, seconds_to_target) {
            (Self::ValAccuracy, _) => (true, val_accuracy),
            (Self::TimeToValAccuracy(_), Some(s)) => (true, -s),
            (Self::TimeToValAccuracy(_), None) => (false, val_accuracy),
        }
    }

    /// The training seconds at the first evaluation whose validation accuracy reaches the
    /// target (`None` under [`Selection::ValAccuracy`] or when none does).
    pub fn seconds_to_target(self, evaluations: &[super::Evaluation]) -> Option<f64> {
        let Self::TimeToValAccuracy(target) = self else {
            return None;
        };
        evaluations
            .iter()
            .find(|e| e.val_accuracy.is_some_and(|v| v >= target))
            .map(|e| e.seconds)
    }
}

/// A tuning run's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TuneResult {
    /// Contender.
    pub label: String,
    /// The grid point (field → value).
    pub point: Map<String, Value>,
    /// Final validation accuracy (`None`: the run failed).
    pub val_accuracy: Option<f64>,
    /// Training seconds to the target of [`Selection::TimeToValAccuracy`] (`None`: not reached,
    /// or another selection).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds_to_target: Option<f64>,
}

/// What the sweep reports while it runs.
pub enum SweepEvent<'a> {
    /// A run starts: its phase ("tune" or "seed S"), label and configuration.
    Start(&'a str, &'a str, &'a FitConfig),
    /// An event of the running fit.
    Fit(FitEvent<'a>),
    /// A run ended.
    Done(&'a str, &'a FitRecord),
    /// A finished run of the same configuration was kept instead of running it again.
    Kept(&'a str, &'a FitRecord),
}

impl SweepConfig {
    /// The run configuration of `contender` at grid point `point` (JSON overlays on
    /// [`FitConfig::new`], checked by deserialising).
    pub fn run_config(
        &self,
        contender: &Contender,
        point: &Map<String, Value>,
    ) -> Result<FitConfig> {
        let optimizer: OptimizerKind = contender
            .settings
            .get("optimizer")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid(format!("{}: settings need \"optimizer\"", contender.label)))?
            .parse()
            .map_err(|e| invalid(format!("{}: {e}", contender.label)))?;
        let mut value = serde_json::to_value(FitConfig::new(optimizer)).expect("config to JSON");
        let object = value.as_object_mut().expect("config is an object");
        for layer in [&self.base, &contender.settings, point] {
            for (k, v) in layer {
                object.insert(k.clone(), v.clone());
            }
        }
        let mut cfg: FitConfig = serde_json::from_value(value)
            .map_err(|e| invalid(format!("{}: {e}", contender.label)))?;
        if let Some(s) = contender.lr_batch_scaling {
            if s.base_batch == 0 || !s.power.is_finite() {
                return Err(invalid(format!(
                    "{}: lr_batch_scaling needs base_batch ≥ 1 and a finite power",
                    contender.label
                )));
            }
            cfg.lr *= (cfg.batch_size as f64 / s.base_batch as f64).powf(s.power);
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// Every grid point of `contender` (one empty point without a grid).
    pub fn grid_points(contender: &Contender) -> Vec<Map<String, Value>> {
        let mut points = vec![Map::new()];
        for (field, values) in &contender.grid {
            points = points
                .into_iter()
                .flat_map(|p| {
                    values.iter().map(move |v| {
                        let mut q = p.clone();
                        q.insert(field.clone(), v.clone());
                        q
                    })
                })
                .collect();
        }
        points
    }
}

fn invalid(message: String) -> TrainError {
    TrainError::Invalid(message)
}

/// The outcome of a sweep: tuning results, the chosen point per contender, the final runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepRecord {
    /// The configuration.
    pub config: SweepConfig,
    /// Every tuning run.
    pub tuning: Vec<TuneResult>,
    /// The chosen grid point per contender.
    pub chosen: BTreeMap<String, Map<String, Value>>,
    /// Final runs per contender, one per seed.
    pub runs: BTreeMap<String, Vec<FitRecord>>,
}

/// Tunes every contender on `data`, then runs every seed at the chosen points; a run whose
/// configuration equals that of a record in `finished` (an earlier, interrupted sweep) is kept.
pub fn run_sweep(
    sweep: &SweepConfig,
    data: &Holdout,
    device: &Device,
    finished: &[FitRecord],
    on_event: &mut dyn FnMut(SweepEvent),
) -> Result<SweepRecord> {
    let first_seed = *sweep
        .seeds
        .first()
        .ok_or_else(|| invalid("no seeds".into()))?;
    if !sweep.optimizers.iter().any(|c| c.label == sweep.reference) {
        return Err(invalid(format!(
            "the reference '{}' is not one of the optimizers",
            sweep.reference
        )));
    }
    let runner = Runner {
        data,
        device,
        finished,
    };
    let mut tuning = Vec::new();
    let mut chosen = BTreeMap::new();
    for contender in &sweep.optimizers {
        let mut best: Option<((bool, f64), Map<String, Value>)> = None;
        for point in SweepConfig::grid_points(contender) {
            let mut cfg = sweep.run_config(contender, &point)?;
            cfg.epochs = sweep.tune_epochs;
            cfg.seed = first_seed;
            let record = runner.run("tune", &contender.label, &cfg, on_event)?;
            let val = match record.status {
                Status::Complete => record.evaluations.last().and_then(|e| e.val_accuracy),
                Status::Failed { .. } => None,
            };
            let seconds_to_target = val.and(sweep.select.seconds_to_target(&record.evaluations));
            if let Some(v) = val {
                let rank = sweep.select.rank(v, seconds_to_target);
                if best.as_ref().is_none_or(|(b, _)| rank > *b) {
                    best = Some((rank, point.clone()));
                }
            }
            tuning.push(TuneResult {
                label: contender.label.clone(),
                point,
                val_accuracy: val,
                seconds_to_target,
            });
        }
        let (_, point) =
            best.ok_or_else(|| invalid(format!("{}: every tuning run failed", contender.label)))?;
        chosen.insert(contender.label.clone(), point);
    }
    let mut runs: BTreeMap<String, Vec<FitRecord>> = BTreeMap::new();
    for &seed in &sweep.seeds {
        for contender in &sweep.optimizers {
            let mut cfg = sweep.run_config(contender, &chosen[&contender.label])?;
            cfg.seed = seed;
            let phase = format!("seed {seed}");
            let record = runner.run(&phase, &contender.label, &cfg, on_event)?;
            runs.entry(contender.label.clone())
                .or_default()
                .push(record);
        }
    }
    Ok(SweepRecord {
        config: sweep.clone(),
        tuning,
        chosen,
        runs,
    })
}

/// What every run of a sweep shares: the data, the device and the finished runs to keep.
struct Runner<'a> {
    data: &'a Holdout,
    device: &'a Device,
    finished: &'a [FitRecord],
}

impl Runner<'_> {
    /// One run, with the process's peak-memory mark reset first (or the finished record of the
    /// same configuration).
    fn run(
        &self,
        phase: &str,
        label: &str,
        cfg: &FitConfig,
        on_event: &mut dyn FnMut(SweepEvent),
    ) -> Result<FitRecord> {
        if let Some(record) = self.finished.iter().find(|r| r.config == *cfg) {
            on_event(SweepEvent::Kept(phase, record));
            return Ok(record.clone());
        }
        on_event(SweepEvent::Start(phase, label, cfg));
        crate::reset_peak_memory();
        let record = fit(
            cfg,
            self.data,
            self.device,
            &FitOptions::default(),
            &mut |e| on_event(SweepEvent::Fit(e)),
        )?;
        on_event(SweepEvent::Done(phase, &record));
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!((cfg.width, cfg.batch_size), (64, 32));
        assert_eq!(cfg.fisher, ngd_optim::Fisher::Sampled);
        assert_eq!((cfg.lr, cfg.damping), (0.3, 1.0));
        assert_eq!(cfg.depth, FitConfig::new(cfg.optimizer).depth);
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
                .map(|p| s.run_config(c, p).unwrap().lr)
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
            step: 0,
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
}
