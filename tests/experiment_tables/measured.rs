//! Measured-cost tables: the step benchmark (`bench/bench.json`) and the whole-dataset
//! comparisons (`full-*/sweep.json`, through the library's own `ngd sweep` table).

use crate::fmt::fixed;
use crate::json::{list, load, num, text};
use crate::markdown_table;
use ngd_train::fit;
use std::path::Path;

/// README.md's Benchmark table: median step time per method and backend, and the first
/// backend's phases; the exact row's flex and tch-cpu times, which the text quotes, in bold.
pub fn bench(root: &Path) -> String {
    const BOLD: [(&str, &str); 2] = [("exact", "flex"), ("exact", "tch-cpu")];
    let doc = load(root, "experiments/bench/bench.json");
    let results = list(&doc, "results");
    let mut backends: Vec<&str> = Vec::new();
    for r in results {
        let b = text(r, "backend");
        if !backends.contains(&b) {
            backends.push(b);
        }
    }
    let median = |method: &str, backend: &str| {
        results
            .iter()
            .find(|r| text(r, "method") == method && text(r, "backend") == backend)
            .map(|r| &r["median"])
    };
    let header = format!(
        "method | {} | {} phases: factors / direction / update",
        backends
            .iter()
            .map(|b| format!("{b} step"))
            .collect::<Vec<_>>()
            .join(" | "),
        backends[0]
    );
    let rows = list(&doc["config"], "methods").iter().map(|m| {
        let m = m.as_str().expect("method name");
        let mut row = vec![m.to_string()];
        row.extend(backends.iter().map(|b| match median(m, b) {
            None => "—".to_string(),
            Some(t) if BOLD.contains(&(m, b)) => format!("**{}**", fixed(num(t, "step"), 3)),
            Some(t) => fixed(num(t, "step"), 3),
        }));
        row.push(median(m, backends[0]).map_or("—".into(), |t| {
            ["factors", "direction", "update"]
                .map(|p| fixed(num(t, p), 3))
                .join(" / ")
        }));
        row
    });
    markdown_table(&header, rows)
}

/// `table.md` of a comparison, as `ngd sweep --replot` writes it from `sweep.json`.
pub fn sweep_table(root: &Path, folder: &str) -> String {
    let record = sweep_record(root, folder);
    fit::sweep_markdown(&record, &fit::summarize(&record))
}

/// A comparison's committed `sweep.json`.
fn sweep_record(root: &Path, folder: &str) -> fit::SweepRecord {
    let rel = format!("experiments/{folder}/sweep.json");
    let text = std::fs::read_to_string(root.join(&rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The table rows of generated Markdown: from its first table line on.
fn rows(table: &str) -> String {
    let start = table.find("\n|").map_or(0, |i| i + 1);
    table[start..].to_string()
}

/// README.md's copy of a comparison's summary table, from its first table row on.
pub fn sweep_rows(root: &Path, folder: &str) -> String {
    let record = sweep_record(root, folder);
    rows(&fit::markdown(
        &fit::summarize(&record),
        &record.config.reference,
    ))
}

/// README.md's copy of a comparison's batch-size table (tuning runs), from its first row on.
pub fn batch_rows(root: &Path, folder: &str) -> String {
    let record = sweep_record(root, folder);
    rows(&fit::batch_markdown(&record, &fit::batch_points(&record)))
}
