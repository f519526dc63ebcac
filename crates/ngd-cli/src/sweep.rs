//! `ngd sweep`: a comparison of optimizers on a whole dataset.

use crate::commands::{check_writable, write_json};
use crate::minibatch::load_data;
use crate::progress::Progress;
use anyhow::{Context, Result};
use clap::Args;
use ngd_train::fit;
use std::path::PathBuf;

/// Arguments of `ngd sweep`.
#[derive(Args, Debug)]
pub struct SweepArgs {
    /// Comparison config (JSON), e.g. experiments/full-mnist/config.json.
    pub config: PathBuf,
    /// Folder for sweep.json, summary.json, table.md and the charts (default: the config's).
    #[arg(long)]
    pub out_dir: Option<PathBuf>,
    /// Compute backend of every run (recorded in each run's config; default: the config's
    /// `base.backend`, else flex).
    #[arg(long)]
    pub backend: Option<crate::backend::Backend>,
    /// Only redo the table and charts from an existing sweep.json.
    #[arg(long)]
    pub replot: bool,
}

/// `ngd sweep`: tune every optimizer, run every seed, write the comparison.
pub fn sweep(args: SweepArgs) -> Result<()> {
    let out_dir = args
        .out_dir
        .clone()
        .or_else(|| args.config.parent().map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("."));
    let record_path = out_dir.join("sweep.json");
    let record: fit::SweepRecord = if args.replot {
        let text = std::fs::read_to_string(&record_path)
            .with_context(|| format!("reading {}", record_path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", record_path.display()))?
    } else {
        let text = std::fs::read_to_string(&args.config)
            .with_context(|| format!("reading {}", args.config.display()))?;
        let mut sweep: fit::SweepConfig = serde_json::from_str(&text)
            .with_context(|| format!("parsing comparison config {}", args.config.display()))?;
        let backend = match (args.backend, sweep.base.get("backend")) {
            (Some(b), _) => b,
            (None, Some(name)) => name
                .as_str()
                .unwrap_or_default()
                .parse()
                .map_err(anyhow::Error::msg)
                .context("the config's base.backend")?,
            (None, None) => ngd_train::defaults::BACKEND
                .parse()
                .map_err(anyhow::Error::msg)?,
        };
        sweep
            .base
            .insert("backend".into(), backend.to_string().into());
        check_writable(&record_path)?;
        let first = sweep
            .optimizers
            .first()
            .context("the config lists no optimizers")?;
        let data_cfg = sweep.run_config(first, &Default::default())?;
        let data = load_data(&data_cfg)?;
        let device = backend.device()?;
        let runs_dir = out_dir.join("runs");
        let finished = finished_runs(&runs_dir)?;
        if !finished.is_empty() {
            eprintln!(
                "resuming: {} finished runs in {} are kept where their configuration matches",
                finished.len(),
                runs_dir.display()
            );
        }
        let mut progress = Progress::new();
        let mut failure = None;
        let mut current = String::new();
        let mut tune_index = 0;
        let record = fit::run_sweep(
            &sweep,
            &data,
            &device,
            &finished,
            &mut |event| match event {
                fit::SweepEvent::Start(phase, label, cfg) => {
                    progress = Progress::new();
                    current = label.to_string();
                    let damping = match cfg.optimizer.name.method() {
                        Some(_) => format!(" damping {}", cfg.optimizer.damping.value),
                        None => String::new(),
                    };
                    eprintln!(
                        "[{phase}] {label}: lr {}{damping} epochs {} seed {}",
                        cfg.optimizer.lr, cfg.schedule.epochs, cfg.seed
                    );
                }
                fit::SweepEvent::Fit(e) => progress.event(e),
                fit::SweepEvent::Kept(phase, rec) => {
                    if phase == "tune" {
                        tune_index += 1;
                    }
                    eprintln!(
                        "[{phase}] {}: lr {} seed {}: kept from an earlier run",
                        rec.config.optimizer.name, rec.config.optimizer.lr, rec.config.seed
                    );
                }
                fit::SweepEvent::Done(phase, rec) => {
                    progress.finish();
                    let name = if phase == "tune" {
                        tune_index += 1;
                        format!("{current}_tune{tune_index}.json")
                    } else {
                        format!("{current}_{}.json", phase.replace(' ', ""))
                    };
                    if let Err(e) = write_json(&runs_dir.join(name), rec) {
                        failure = Some(e);
                    }
                }
            },
        )?;
        if let Some(e) = failure {
            return Err(e);
        }
        write_json(&record_path, &record)?;
        record
    };
    let summary = fit::summarize(&record);
    write_json(&out_dir.join("summary.json"), &summary)?;
    let table = fit::sweep_markdown(&record, &summary);
    let batches = fit::batch_points(&record);
    std::fs::write(out_dir.join("table.md"), &table)?;
    print!("{table}");
    for (name, by_epoch) in [("accuracy_time.svg", false), ("accuracy_epoch.svg", true)] {
        let path = out_dir.join(name);
        ngd_experiments::sweep::accuracy_chart(&record, &summary, by_epoch)
            .save(&path)
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    // The critical-batch-size picture when the grids vary the batch size.
    let batch_charts = [("steps_batch.svg", false), ("time_batch.svg", true)];
    for (name, seconds) in batch_charts.into_iter().filter(|_| !batches.is_empty()) {
        let path = out_dir.join(name);
        ngd_experiments::sweep::batch_chart(&record, &batches, seconds)
            .save(&path)
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// The records of an earlier sweep in `runs_dir` (none when it does not exist); a file that is
/// not a run record is an error naming it.
fn finished_runs(runs_dir: &std::path::Path) -> Result<Vec<fit::FitRecord>> {
    let Ok(entries) = std::fs::read_dir(runs_dir) else {
        return Ok(Vec::new());
    };
    let mut records = Vec::new();
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let record = serde_json::from_str(&text).with_context(|| {
                format!(
                    "{} is not a run record (move it away to rerun)",
                    path.display()
                )
            })?;
            records.push(record);
        }
    }
    Ok(records)
}
