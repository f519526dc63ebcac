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
        self.first_at_target(evaluations).map(|e| e.seconds)
    }

    /// The steps taken at that evaluation (the critical-batch-size picture: steps to a target
    /// against the batch size).
    pub fn steps_to_target(self, evaluations: &[super::Evaluation]) -> Option<u64> {
        self.first_at_target(evaluations).map(|e| e.step)
    }

    fn first_at_target(self, evaluations: &[super::Evaluation]) -> Option<&super::Evaluation> {
        let Self::TimeToValAccuracy(target) = self else {
            return None;
        };
        evaluations
            .iter()
            .find(|e| e.val_accuracy.is_some_and(|v| v >= target))
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
    /// Steps to that target (`None` as for the seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps_to_target: Option<u64>,
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
    /// The run configuration of `contender` at grid point `point`: the layers of options
    /// (base, settings, point; keys are paths like `optimizer.kfac.decay` or the old flat keys,
    /// [`super::keys::overlay`]) set on [`FitConfig::new`] of the contender's optimizer, checked
    /// by deserialising.
    pub fn run_config(
        &self,
        contender: &Contender,
        point: &Map<String, Value>,
    ) -> Result<FitConfig> {
        let label = &contender.label;
        let layers = [&self.base, &contender.settings, point];
        let name = layers
            .iter()
            .flat_map(|layer| layer.iter())
            .filter_map(|(k, v)| match super::key_path(k, v) {
                "optimizer.name" => v.as_str(),
                "optimizer" => v.get("name").and_then(Value::as_str),
                _ => None,
            })
            .next_back()
            .ok_or_else(|| invalid(format!("{label}: settings need \"optimizer\"")))?;
        let optimizer: OptimizerKind =
            name.parse().map_err(|e| invalid(format!("{label}: {e}")))?;
        let base = serde_json::to_value(FitConfig::new(optimizer)).expect("config to JSON");
        let value = super::overlay(base, layers).map_err(|e| invalid(format!("{label}: {e}")))?;
        let mut cfg: FitConfig =
            serde_json::from_value(value).map_err(|e| invalid(format!("{label}: {e}")))?;
        if let Some(s) = contender.lr_batch_scaling {
            if s.base_batch == 0 || !s.power.is_finite() {
                return Err(invalid(format!(
                    "{label}: lr_batch_scaling needs base_batch ≥ 1 and a finite power"
                )));
            }
            cfg.optimizer.lr *=
                (cfg.schedule.batch_size as f64 / s.base_batch as f64).powf(s.power);
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
            cfg.schedule.epochs = sweep.tune_epochs;
            cfg.seed = first_seed;
            let record = runner.run("tune", &contender.label, &cfg, on_event)?;
            let val = match record.status {
                Status::Complete => record.evaluations.last().and_then(|e| e.val_accuracy),
                Status::Failed { .. } => None,
            };
            let seconds_to_target = val.and(sweep.select.seconds_to_target(&record.evaluations));
            let steps_to_target = val.and(sweep.select.steps_to_target(&record.evaluations));
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
                steps_to_target,
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
#[path = "sweep_tests.rs"]
mod tests;
