//! `ngd figure CONFIG`: runs every training run an experiment config lists
//! ([`ngd_experiments::figure`]), writes one JSON with all records and an SVG of train loss vs
//! step with the theory lines; `--replot` redraws the SVG from the JSON.

use crate::backend::Backend;
use crate::commands::{step_line, write_json};
use anyhow::{Context, Result};
use clap::Args;
use ngd_experiments::figure::{self, Experiment, FigureEvent, FigureResults};
use ngd_train::defaults;
use std::path::{Path, PathBuf};

/// Arguments of `ngd figure`.
#[derive(Args, Debug)]
pub struct FigureArgs {
    /// Experiment config (JSON), e.g. experiments/fig1a/config.json.
    pub config: PathBuf,
    /// Folder for results.json and plot.svg (default: the config's folder).
    #[arg(long)]
    pub out_dir: Option<PathBuf>,
    /// Compute backend for every run.
    #[arg(long, default_value = defaults::BACKEND)]
    pub backend: Backend,
    /// Train nothing: redraw plot.svg from the existing results.json of the output folder.
    #[arg(long)]
    pub replot: bool,
}

/// `ngd figure`.
pub fn run(args: FigureArgs) -> Result<()> {
    let out_dir = args
        .out_dir
        .clone()
        .or_else(|| args.config.parent().map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("."));
    let results_path = out_dir.join("results.json");
    let results = if args.replot {
        let text = std::fs::read_to_string(&results_path)
            .with_context(|| format!("reading {}", results_path.display()))?;
        serde_json::from_str::<FigureResults>(&text)
            .with_context(|| format!("parsing {}", results_path.display()))?
    } else {
        let results = train_runs(&args)?;
        // Through a JSON value, whose keys are sorted, as every results.json so far.
        write_json(&results_path, &serde_json::to_value(&results)?)?;
        results
    };
    save_chart(&results, &out_dir.join("plot.svg"))
}

/// Trains every run of the config, printing progress.
fn train_runs(args: &FigureArgs) -> Result<FigureResults> {
    let text = std::fs::read_to_string(&args.config)
        .with_context(|| format!("reading {}", args.config.display()))?;
    let exp: Experiment = serde_json::from_str(&text)
        .with_context(|| format!("parsing experiment config {}", args.config.display()))?;
    let device = args.backend.device()?;
    let backend = args.backend.to_string();
    figure::run_experiment(&exp, &backend, &device, &mut |event| match event {
        FigureEvent::RunStarted {
            index,
            total,
            label,
        } => eprintln!("[{}/{total}] {label}", index + 1),
        FigureEvent::Forster(r) => eprintln!(
            "  forster: span r = {} (cut {:.0e}·λ_max), {} iterations, ‖ZᵀZ − (N/r)P‖/‖(N/r)P‖ = {:.2e}",
            r.rank, r.span_tol, r.iterations, r.deviation
        ),
        FigureEvent::Step(s) => eprintln!("  {}", step_line(s)),
        FigureEvent::Diverged(d) => eprintln!(
            "  diverged at step {} (train loss {}{}); recorded up to step {}",
            d.step,
            d.train_loss,
            d.error.as_deref().map_or(String::new(), |e| format!(": {e}")),
            d.step - 1
        ),
    })
    .with_context(|| format!("experiment {}", args.config.display()))
}

fn save_chart(results: &FigureResults, svg: &Path) -> Result<()> {
    figure::loss_chart(results)
        .save(svg)
        .with_context(|| format!("writing {}", svg.display()))?;
    eprintln!("wrote {}", svg.display());
    Ok(())
}
