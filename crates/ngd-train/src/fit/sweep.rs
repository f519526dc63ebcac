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
    /// The optimizers.
    pub optimizers: Vec<Contender>,
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
        let cfg: FitConfig = serde_json::from_value(value)
            .map_err(|e| invalid(format!("{}: {e}", contender.label)))?;
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
        let mut best: Option<(f64, Map<String, Value>)> = None;
        for point in SweepConfig::grid_points(contender) {
            let mut cfg = sweep.run_config(contender, &point)?;
            cfg.epochs = sweep.tune_epochs;
            cfg.seed = first_seed;
            let record = runner.run("tune", &contender.label, &cfg, on_event)?;
            let val = match record.status {
                Status::Complete => record.evaluations.last().and_then(|e| e.val_accuracy),
                Status::Failed { .. } => None,
            };
            if val.is_some_and(|v| best.as_ref().is_none_or(|(b, _)| v > *b)) {
                best = Some((val.unwrap_or_default(), point.clone()));
            }
            tuning.push(TuneResult {
                label: contender.label.clone(),
                point,
                val_accuracy: val,
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
