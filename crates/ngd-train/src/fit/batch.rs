//! The batch-size picture of a comparison whose grids vary `schedule.batch_size` (Zhang et al.
//! 2019's critical batch size): per optimizer and batch size, the tuning run that reached the
//! selection's validation target soonest, with its steps and seconds to it.

use super::summary::{Summary, markdown};
use super::sweep::{Selection, SweepRecord};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One optimizer at one batch size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchPoint {
    /// Contender.
    pub label: String,
    /// Batch size B.
    pub batch_size: usize,
    /// The other grid values of the run that reached the target soonest (or, when none did,
    /// of the most accurate one).
    pub point: Map<String, Value>,
    /// Its final validation accuracy.
    pub val_accuracy: Option<f64>,
    /// Training seconds to the validation target (`None`: not reached).
    pub seconds: Option<f64>,
    /// Steps to the validation target.
    pub steps: Option<u64>,
}

/// The batch size of a grid point, if the point sets it.
fn batch_size(point: &Map<String, Value>) -> Option<usize> {
    point
        .iter()
        .find(|(k, v)| super::key_path(k, v) == "schedule.batch_size")
        .and_then(|(_, v)| v.as_u64())
        .map(|b| b as usize)
}

/// Per contender and batch size, the best tuning run by the sweep's selection (the validation
/// target of [`Selection::TimeToValAccuracy`]); empty when no grid varies the batch size.
pub fn batch_points(sweep: &SweepRecord) -> Vec<BatchPoint> {
    let mut best: Vec<(BatchPoint, (bool, f64))> = Vec::new();
    for t in &sweep.tuning {
        let (Some(b), Some(val)) = (batch_size(&t.point), t.val_accuracy) else {
            continue;
        };
        let rank = sweep.config.select.rank(val, t.seconds_to_target);
        let mut point = t.point.clone();
        point.retain(|k, v| super::key_path(k, v) != "schedule.batch_size");
        let candidate = BatchPoint {
            label: t.label.clone(),
            batch_size: b,
            point,
            val_accuracy: t.val_accuracy,
            seconds: t.seconds_to_target,
            steps: t.steps_to_target,
        };
        match best
            .iter_mut()
            .find(|(p, _)| p.label == t.label && p.batch_size == b)
        {
            Some(slot) if rank > slot.1 => *slot = (candidate, rank),
            Some(_) => {}
            None => best.push((candidate, rank)),
        }
    }
    let mut points: Vec<BatchPoint> = best.into_iter().map(|(p, _)| p).collect();
    let order = |label: &str| {
        sweep
            .config
            .optimizers
            .iter()
            .position(|c| c.label == label)
    };
    points.sort_by_key(|p| (order(&p.label), p.batch_size));
    points
}

/// The points as a markdown table: one row per optimizer, one column per batch size, each cell
/// "seconds s / steps" to the validation target of the tuning runs (– where none reached it).
pub fn batch_markdown(sweep: &SweepRecord, points: &[BatchPoint]) -> String {
    let mut sizes: Vec<usize> = points.iter().map(|p| p.batch_size).collect();
    sizes.sort_unstable();
    sizes.dedup();
    let target = match sweep.config.select {
        Selection::TimeToValAccuracy(a) => format!("{:.1}% validation accuracy", 100.0 * a),
        Selection::ValAccuracy => "the validation target".into(),
    };
    let mut out = format!(
        "\nTuning runs ({} epochs, seed {}): training seconds / steps to {target} at each batch \
         size, the best learning rate of the grid (scaled with the batch as configured); – not \
         reached.\n\n| optimizer | {} |\n|---|{}\n",
        sweep.config.tune_epochs,
        sweep.config.seeds.first().copied().unwrap_or_default(),
        sizes
            .iter()
            .map(|b| format!("B = {b}"))
            .collect::<Vec<_>>()
            .join(" | "),
        "---|".repeat(sizes.len())
    );
    for c in &sweep.config.optimizers {
        let cells: Vec<String> = sizes
            .iter()
            .map(|&b| {
                match points
                    .iter()
                    .find(|p| p.label == c.label && p.batch_size == b)
                {
                    Some(BatchPoint {
                        seconds: Some(s),
                        steps: Some(k),
                        ..
                    }) => format!("{s:.1} s / {k}"),
                    _ => "–".into(),
                }
            })
            .collect();
        if cells.iter().any(|c| c != "–") || points.iter().any(|p| p.label == c.label) {
            out += &format!("| {} | {} |\n", c.label, cells.join(" | "));
        }
    }
    out
}

/// A comparison's `table.md`: the summary table against the reference, then the batch-size
/// table when the grids vary the batch size.
pub fn sweep_markdown(sweep: &SweepRecord, summary: &Summary) -> String {
    let mut table = markdown(summary, &sweep.config.reference);
    let points = batch_points(sweep);
    if !points.is_empty() {
        table += &batch_markdown(sweep, &points);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two learning rates at two batch sizes (one by key path, one by the flat key): each batch
    /// size keeps the run that reached the target soonest, a batch size where none reached it
    /// keeps the most accurate run with no time, and the table shows both.
    #[test]
    fn each_batch_size_keeps_its_soonest_run() {
        let tune = |b: &str, batch: u64, lr: f64, val: f64, s: Option<f64>, k: Option<u64>| {
            serde_json::json!({"label": "adam", "point": {b: batch, "lr": lr},
                "val_accuracy": val, "seconds_to_target": s, "steps_to_target": k})
        };
        let record: SweepRecord = serde_json::from_value(serde_json::json!({
            "config": {"name": "t", "title": "t", "tune_epochs": 3, "seeds": [7],
                "reference": "adam", "select": {"time_to_val_accuracy": 0.9}, "base": {},
                "optimizers": [{"label": "adam", "settings": {"optimizer": "adam"}}]},
            "tuning": [
                tune("schedule.batch_size", 256, 0.001, 0.95, Some(20.0), Some(400)),
                tune("schedule.batch_size", 256, 0.002, 0.93, Some(10.0), Some(200)),
                tune("batch_size", 1024, 0.001, 0.85, None, None),
                tune("batch_size", 1024, 0.002, 0.88, None, None),
            ],
            "chosen": {}, "runs": {}
        }))
        .unwrap();
        let points = batch_points(&record);
        assert_eq!(points.len(), 2);
        assert_eq!((points[0].batch_size, points[0].steps), (256, Some(200)));
        assert_eq!(points[0].point["lr"], 0.002);
        assert!(!points[0].point.contains_key("schedule.batch_size"));
        assert_eq!((points[1].batch_size, points[1].seconds), (1024, None));
        assert_eq!(points[1].val_accuracy, Some(0.88));
        let table = batch_markdown(&record, &points);
        assert!(table.contains("| adam | 10.0 s / 200 | – |"), "{table}");
        assert!(table.contains("90.0% validation accuracy"), "{table}");
        assert!(table.contains("seed 7"), "{table}");
    }
}
