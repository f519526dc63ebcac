//! `ngd figure CONFIG`: runs every training run an experiment config lists, writes one JSON
//! with all records and an SVG of train loss vs step with the theory lines.

use crate::backend::Backend;
use crate::commands::{NetArgs, OptArgs, step_line, write_json};
use anyhow::{Context, Result, bail};
use clap::Args;
use ngd_data::DatasetName;
use ngd_model::Activation;
use ngd_optim::Method;
use ngd_plot::{LineChart, Scale, Series, Style};
use ngd_train::RunRecord;
use ngd_train::defaults;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

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
}

/// Options of one run; every field may be set in `base` and overridden per run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    /// Legend label of the run.
    pub label: Option<String>,
    /// Dataset name.
    pub dataset: Option<DatasetName>,
    /// Classes, e.g. "0,7".
    pub classes: Option<String>,
    /// N.
    pub n_train: Option<usize>,
    /// N′.
    pub n_test: Option<usize>,
    /// L.
    pub depth: Option<usize>,
    /// M.
    pub width: Option<usize>,
    /// σ_w².
    pub sigma_w2: Option<f64>,
    /// σ_b².
    pub sigma_b2: Option<f64>,
    /// φ.
    pub activation: Option<Activation>,
    /// Seed.
    pub seed: Option<u64>,
    /// Method.
    pub method: Option<Method>,
    /// Absolute learning rate.
    pub lr: Option<f64>,
    /// Multiplier of the method's optimal learning rate.
    pub lr_scale: Option<f64>,
    /// Damping ρ.
    pub damping: Option<f64>,
    /// Steps.
    pub steps: Option<usize>,
    /// Keep a run that diverges (NaN/inf train loss): record its steps up to the divergence
    /// and go on with the next run, instead of aborting the figure.
    pub allow_divergence: Option<bool>,
}

/// An experiment: shared options and the list of runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Short name, e.g. "fig1a".
    pub name: String,
    /// Plot title.
    pub title: String,
    /// Options shared by every run.
    pub base: RunSpec,
    /// The runs.
    pub runs: Vec<RunSpec>,
}

macro_rules! merge {
    ($base:expr, $run:expr, $($f:ident),*) => {
        RunSpec { $($f: $run.$f.clone().or_else(|| $base.$f.clone()),)* }
    };
}

impl RunSpec {
    /// `self` with unset fields taken from `base`.
    fn over(&self, base: &RunSpec) -> RunSpec {
        merge!(
            base,
            self,
            label,
            dataset,
            classes,
            n_train,
            n_test,
            depth,
            width,
            sigma_w2,
            sigma_b2,
            activation,
            seed,
            method,
            lr,
            lr_scale,
            damping,
            steps,
            allow_divergence
        )
    }

    fn net_args(&self, backend: Backend) -> NetArgs {
        NetArgs {
            dataset: self.dataset.unwrap_or(defaults::DATASET),
            classes: self
                .classes
                .clone()
                .unwrap_or_else(|| defaults::CLASSES.into()),
            n_train: self.n_train.unwrap_or(defaults::N_TRAIN),
            n_test: self.n_test.unwrap_or(defaults::N_TEST),
            depth: self.depth.unwrap_or(defaults::DEPTH),
            width: self.width.unwrap_or(defaults::WIDTH),
            sigma_w2: self.sigma_w2.unwrap_or(defaults::SIGMA_W2),
            sigma_b2: self.sigma_b2.unwrap_or(defaults::SIGMA_B2),
            activation: self.activation.unwrap_or(defaults::ACTIVATION),
            seed: self.seed.unwrap_or(defaults::SEED),
            backend,
        }
    }
}

/// `ngd figure`.
pub fn run(args: FigureArgs) -> Result<()> {
    let text = std::fs::read_to_string(&args.config)
        .with_context(|| format!("reading {}", args.config.display()))?;
    let exp: Experiment = serde_json::from_str(&text)
        .with_context(|| format!("parsing experiment config {}", args.config.display()))?;
    if exp.runs.is_empty() {
        bail!("{}: no runs listed", args.config.display());
    }
    let out_dir = args
        .out_dir
        .clone()
        .or_else(|| args.config.parent().map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("."));
    let device = args.backend.device()?;
    let mut records = Vec::new();
    for (i, run) in exp.runs.iter().enumerate() {
        let spec = run.over(&exp.base);
        let label = spec.label.clone().unwrap_or_else(|| format!("run {i}"));
        eprintln!("[{}/{}] {label}", i + 1, exp.runs.len());
        let net = spec.net_args(args.backend);
        let data = net.load_data()?;
        let opt = OptArgs {
            lr: spec.lr,
            damping: Some(spec.damping.unwrap_or(defaults::DAMPING)),
            steps: spec.steps.unwrap_or(defaults::STEPS),
            sigma: None,
        };
        let method = spec.method.unwrap_or(defaults::METHOD);
        let mut cfg = net.train_config(&data, method, &opt);
        cfg.lr_scale = spec.lr_scale.unwrap_or(1.0);
        let mut seen = Vec::new();
        let outcome = ngd_train::train(&cfg, &data, &device, &mut |s| {
            eprintln!("  {}", step_line(s));
            seen.push(s.clone());
        });
        match outcome {
            Ok(record) => records.push(LabelledRun {
                label,
                record,
                diverged: None,
            }),
            Err(ngd_train::TrainError::Diverged { step, loss, lr, .. })
                if spec.allow_divergence.unwrap_or(false) =>
            {
                eprintln!(
                    "  diverged at step {step} (train loss {loss}); recorded up to step {}",
                    step - 1
                );
                let model = ngd_train::network_config(&cfg, &data).init(cfg.seed, &device)?;
                let x = ngd_train::DeviceSplit::new(&data.train, &device).x;
                let curvature = cfg.method.curvature_with(cfg.damping, None)?;
                let alpha = curvature.alpha(&model.factors(x));
                let mut record = RunRecord::new(cfg.clone(), &data, alpha, lr);
                record.steps = seen;
                records.push(LabelledRun {
                    label,
                    record,
                    diverged: Some(Divergence {
                        step,
                        train_loss: loss.to_string(),
                    }),
                });
            }
            Err(err) => return Err(anyhow::Error::new(err).context(format!("run '{label}'"))),
        }
    }
    let doc = serde_json::json!({ "experiment": exp, "backend": args.backend.to_string(), "runs": records });
    write_json(&out_dir.join("results.json"), &doc)?;
    let chart = loss_chart(&exp.title, &records);
    let svg = out_dir.join("plot.svg");
    chart
        .save(&svg)
        .with_context(|| format!("writing {}", svg.display()))?;
    eprintln!("wrote {}", svg.display());
    Ok(())
}

/// A run and its legend label.
#[derive(Debug, Serialize)]
pub struct LabelledRun {
    /// Legend label.
    pub label: String,
    /// The run.
    pub record: RunRecord,
    /// Set when the run diverged and `allow_divergence` kept it (steps recorded up to before).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diverged: Option<Divergence>,
}

/// Where a run kept with `allow_divergence` diverged.
#[derive(Debug, Serialize)]
pub struct Divergence {
    /// The step whose train loss was NaN or infinite.
    pub step: usize,
    /// That loss ("NaN" or "inf").
    pub train_loss: String,
}

/// Train loss vs step (markers) with each run's theory line (dashed), log y axis.
fn loss_chart(title: &str, runs: &[LabelledRun]) -> LineChart {
    let mut chart = LineChart::new(title, "step t", "train loss");
    chart.y_scale = Scale::Log10;
    for (i, run) in runs.iter().enumerate() {
        let color = Some(ngd_plot::palette_color(i).to_string());
        let steps = &run.record.steps;
        chart.series.push(Series {
            label: format!("{} (measured)", run.label),
            points: steps
                .iter()
                .map(|s| (s.step as f64, s.train_loss))
                .collect(),
            style: Style::line_and_markers(),
            color: color.clone(),
        });
        // Without α (a singular Σ, e.g. block tri-diagonal at L = 3s+2) there is no isotropic
        // theory line; the NTK line is GD's only.
        if run.record.alpha.is_none() && run.record.config.options.method != Method::Gd {
            continue;
        }
        chart.series.push(Series {
            label: format!("{} (theory)", run.label),
            points: steps
                .iter()
                .filter_map(|s| s.theory_train_loss.map(|t| (s.step as f64, t)))
                .collect(),
            style: Style::dashed_line(),
            color,
        });
    }
    chart
}
