//! The table and charts of a comparison ([`SweepRecord`]): time to the target test accuracy,
//! best accuracy, time per step by phase and peak memory per optimizer, mean and spread over
//! seeds, with ratios against the reference optimizer.

use super::sweep::SweepRecord;
use super::{FitRecord, Status};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Mean, minimum and maximum over seeds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// Mean.
    pub mean: f64,
    /// Minimum.
    pub min: f64,
    /// Maximum.
    pub max: f64,
}

impl Spread {
    /// Of a non-empty list.
    pub fn of(values: &[f64]) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        Some(Self {
            mean: values.iter().sum::<f64>() / values.len() as f64,
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        })
    }
}

/// One optimizer's row of the table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryRow {
    /// Contender label.
    pub label: String,
    /// The tuned setting.
    pub chosen: Map<String, Value>,
    /// Runs (seeds).
    pub runs: usize,
    /// Runs that failed.
    pub failed: usize,
    /// Training seconds to the first evaluation at or above the target, per run (`None`:
    /// never reached).
    pub seconds_to_target: Vec<Option<f64>>,
    /// Over the runs that reached the target.
    pub seconds_to_target_spread: Option<Spread>,
    /// Epochs to the target, over the runs that reached it.
    pub epochs_to_target: Option<Spread>,
    /// Mean time to target over the reference's (both over runs that reached it).
    pub time_ratio: Option<f64>,
    /// Best test accuracy of each run.
    pub best_test_accuracy: Option<Spread>,
    /// Test accuracy at the end.
    pub final_test_accuracy: Option<Spread>,
    /// Milliseconds per step: total and by phase (forward/backward, curvature, inversion,
    /// update), mean over runs.
    pub ms_per_step: [f64; 5],
    /// ms per step over the reference's.
    pub step_ratio: f64,
    /// Largest peak memory over the runs, MiB.
    pub peak_memory_mib: Option<f64>,
}

/// The table of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The target test accuracy.
    pub target_accuracy: f64,
    /// How it was set.
    pub target_source: String,
    /// One row per optimizer, in the config's order.
    pub rows: Vec<SummaryRow>,
}

/// Best test accuracy of a run.
fn best(record: &FitRecord) -> f64 {
    record
        .evaluations
        .iter()
        .map(|e| e.test_accuracy)
        .fold(f64::NEG_INFINITY, f64::max)
}

/// The target: given, or the median over seeds of the reference's best test accuracy minus the
/// margin.
fn target(sweep: &SweepRecord) -> (f64, String) {
    let cfg = &sweep.config;
    if let Some(t) = cfg.target_accuracy {
        return (t, "given".into());
    }
    let mut bests: Vec<f64> = sweep
        .runs
        .get(&cfg.reference)
        .map(|r| r.iter().map(best).collect())
        .unwrap_or_default();
    bests.sort_by(f64::total_cmp);
    // The middle value, or the mean of the two middle ones for an even count (it was the upper
    // one, i.e. the best of two seeds).
    let n = bests.len();
    let median = match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => bests[n / 2],
        _ => 0.5 * (bests[n / 2 - 1] + bests[n / 2]),
    };
    (
        median - cfg.target_margin,
        format!(
            "median best test accuracy of {} ({median:.4}) minus {}",
            cfg.reference, cfg.target_margin
        ),
    )
}

/// The summary of a sweep.
pub fn summarize(sweep: &SweepRecord) -> Summary {
    let (target_accuracy, target_source) = target(sweep);
    let mut rows: Vec<SummaryRow> = sweep
        .config
        .optimizers
        .iter()
        .map(|c| row(&c.label, sweep, target_accuracy))
        .collect();
    let reference = rows
        .iter()
        .find(|r| r.label == sweep.config.reference)
        .cloned();
    for r in &mut rows {
        if let Some(base) = &reference {
            r.step_ratio = r.ms_per_step[0] / base.ms_per_step[0];
            r.time_ratio = match (&r.seconds_to_target_spread, &base.seconds_to_target_spread) {
                (Some(a), Some(b)) => Some(a.mean / b.mean),
                _ => None,
            };
        }
    }
    Summary {
        target_accuracy,
        target_source,
        rows,
    }
}

fn row(label: &str, sweep: &SweepRecord, target: f64) -> SummaryRow {
    let runs: &[FitRecord] = sweep.runs.get(label).map_or(&[], Vec::as_slice);
    let reached: Vec<Option<(f64, f64)>> = runs
        .iter()
        .map(|r| {
            r.evaluations
                .iter()
                .find(|e| e.test_accuracy >= target)
                .map(|e| (e.seconds, e.epoch))
        })
        .collect();
    let hit: Vec<(f64, f64)> = reached.iter().flatten().copied().collect();
    let per_step = |f: fn(&FitRecord) -> f64| {
        let v: Vec<f64> = runs
            .iter()
            .map(|r| 1e3 * f(r) / r.steps.max(1) as f64)
            .collect();
        Spread::of(&v).map_or(f64::NAN, |s| s.mean)
    };
    let peak: Vec<f64> = runs
        .iter()
        .filter_map(|r| r.peak_memory_bytes)
        .map(|b| b as f64 / 1048576.0)
        .collect();
    SummaryRow {
        label: label.into(),
        chosen: sweep.chosen.get(label).cloned().unwrap_or_default(),
        runs: runs.len(),
        failed: runs
            .iter()
            .filter(|r| matches!(r.status, Status::Failed { .. }))
            .count(),
        seconds_to_target: reached.iter().map(|r| r.map(|(s, _)| s)).collect(),
        seconds_to_target_spread: Spread::of(&hit.iter().map(|h| h.0).collect::<Vec<_>>()),
        epochs_to_target: Spread::of(&hit.iter().map(|h| h.1).collect::<Vec<_>>()),
        time_ratio: None,
        best_test_accuracy: Spread::of(&runs.iter().map(best).collect::<Vec<_>>()),
        final_test_accuracy: Spread::of(
            &runs
                .iter()
                .filter_map(|r| r.evaluations.last().map(|e| e.test_accuracy))
                .collect::<Vec<_>>(),
        ),
        ms_per_step: [
            per_step(|r| r.train_seconds),
            per_step(|r| r.phase_seconds.forward_backward),
            per_step(|r| r.phase_seconds.curvature),
            per_step(|r| r.phase_seconds.inversion),
            per_step(|r| r.phase_seconds.update),
        ],
        step_ratio: f64::NAN,
        peak_memory_mib: peak.iter().copied().reduce(f64::max),
    }
}

/// The table as Markdown.
pub fn markdown(summary: &Summary, reference: &str) -> String {
    let pct = |s: &Option<Spread>| {
        s.map_or("–".into(), |s| {
            format!(
                "{:.2} [{:.2}–{:.2}]",
                100.0 * s.mean,
                100.0 * s.min,
                100.0 * s.max
            )
        })
    };
    let mut out = format!(
        "Target test accuracy {:.2}% ({}). Times are training wall time (evaluations \
         excluded), mean [min–max] over seeds; ratios against {reference}.\n\n\
         | optimizer | tuned | reached | time to target (s) | ratio | epochs to target | best test acc (%) | ms/step (fwd-bwd / curv / inv / upd) | step ratio | peak MiB |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
        100.0 * summary.target_accuracy,
        summary.target_source
    );
    for r in &summary.rows {
        let chosen = r
            .chosen
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ");
        let reached = r.seconds_to_target.iter().filter(|s| s.is_some()).count();
        let m = r.ms_per_step;
        out += &format!(
            "| {} | {} | {reached}/{} | {} | {} | {} | {} | {:.1} ({:.1} / {:.1} / {:.1} / {:.1}) | {:.2} | {} |\n",
            r.label,
            chosen,
            r.runs,
            r.seconds_to_target_spread.map_or("–".into(), |s| format!(
                "{:.1} [{:.1}–{:.1}]",
                s.mean, s.min, s.max
            )),
            r.time_ratio.map_or("–".into(), |t| format!("{t:.2}")),
            r.epochs_to_target.map_or("–".into(), |s| format!(
                "{:.2} [{:.2}–{:.2}]",
                s.mean, s.min, s.max
            )),
            pct(&r.best_test_accuracy),
            m[0],
            m[1],
            m[2],
            m[3],
            m[4],
            r.step_ratio,
            r.peak_memory_mib.map_or("–".into(), |p| format!("{p:.0}")),
        );
    }
    out
}
