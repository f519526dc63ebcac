//! The figure runner: every training run an experiment config lists, with divergence
//! handling and the Forster transform, into one [`FigureResults`] (`results.json`) and the
//! train-loss chart drawn from it.

use crate::{Error, Network, Result};
use ngd_core::forster::ForsterReport;
use ngd_data::DatasetName;
use ngd_model::{Activation, Device, MlpShape};
use ngd_optim::Method;
use ngd_plot::{LineChart, Scale, Series, Style};
use ngd_train::{RunRecord, StepRecord, TrainError, defaults};
use serde::{Deserialize, Serialize};

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
    /// Forster-transform the inputs first (K-FAC with M_0 < N; needs N ≥ M_0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forster: Option<bool>,
    /// Arithmetic of the layer-wise dual solve (f64 unless set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<ngd_optim::Precision>,
    /// How ρ enters the layer-wise dual matrix (per-sample Nρ unless set, or authors' 2ρ).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub damping_convention: Option<ngd_optim::DampingConvention>,
    /// Record per step ‖ηΔθ_l‖/‖W_l‖, the dual null component, the first-order prediction
    /// and, for ReLU, the gates switched and the loss with the gates of initialisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnostics: Option<bool>,
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
    /// Plot, for runs with `diagnostics`, each step's first-order prediction (in place of the
    /// theory line) and (ReLU) the loss with the gates frozen at initialisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plot_diagnostics: Option<bool>,
}

macro_rules! merge {
    ($base:expr, $run:expr, $($f:ident),*) => {
        RunSpec { $($f: $run.$f.clone().or_else(|| $base.$f.clone()),)* }
    };
}

impl RunSpec {
    /// `self` with unset fields taken from `base`.
    pub fn over(&self, base: &RunSpec) -> RunSpec {
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
            allow_divergence,
            forster,
            precision,
            damping_convention,
            diagnostics
        )
    }

    /// The data and network of the run, unset fields at their defaults.
    pub fn network(&self) -> Network {
        let d = Network::default();
        Network {
            dataset: self.dataset.unwrap_or(d.dataset),
            classes: self.classes.clone().unwrap_or(d.classes),
            n_train: self.n_train.unwrap_or(d.n_train),
            n_test: self.n_test.unwrap_or(d.n_test),
            shape: MlpShape {
                depth: self.depth.unwrap_or(d.shape.depth),
                width: self.width.unwrap_or(d.shape.width),
                sigma_w2: self.sigma_w2.unwrap_or(d.shape.sigma_w2),
                sigma_b2: self.sigma_b2.unwrap_or(d.shape.sigma_b2),
                activation: self.activation.unwrap_or(d.shape.activation),
            },
            seed: self.seed.unwrap_or(d.seed),
        }
    }
}

/// `results.json` of a figure: the experiment config, the backend and every run's record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FigureResults {
    /// The backend every run used.
    pub backend: String,
    /// The experiment config as read.
    pub experiment: Experiment,
    /// The runs, in config order.
    pub runs: Vec<LabelledRun>,
}

/// A run and its legend label.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LabelledRun {
    /// Legend label.
    pub label: String,
    /// The run.
    pub record: RunRecord,
    /// Set when the run diverged and `allow_divergence` kept it (steps recorded up to before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diverged: Option<Divergence>,
}

/// Where a run kept with `allow_divergence` diverged.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Divergence {
    /// The step whose train loss was NaN or infinite, or whose direction could not be computed.
    pub step: usize,
    /// That loss ("NaN" or "inf"; "not computed" when the direction failed).
    pub train_loss: String,
    /// Why the direction failed (e.g. a numerically singular dual system after the loss blew
    /// up); absent for a non-finite loss.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Progress of [`run_experiment`].
#[derive(Debug)]
pub enum FigureEvent<'a> {
    /// Run `index` (from 0) of `total` starts.
    RunStarted {
        /// Index of the run.
        index: usize,
        /// Number of runs.
        total: usize,
        /// Its label.
        label: &'a str,
    },
    /// The run's inputs were Forster-transformed.
    Forster(&'a ForsterReport),
    /// One step of the run (step 0: initialisation) was measured.
    Step(&'a StepRecord),
    /// The run diverged and was kept up to the step before.
    Diverged(&'a Divergence),
}

/// Runs every run of `exp` on `device` (`backend` is its name, for the records).
pub fn run_experiment(
    exp: &Experiment,
    backend: &str,
    device: &Device,
    on_event: &mut dyn FnMut(FigureEvent<'_>),
) -> Result<FigureResults> {
    if exp.runs.is_empty() {
        return Err(Error::NoRuns);
    }
    let mut runs = Vec::new();
    for (index, run) in exp.runs.iter().enumerate() {
        let spec = run.over(&exp.base);
        let label = spec.label.clone().unwrap_or_else(|| format!("run {index}"));
        let total = exp.runs.len();
        on_event(FigureEvent::RunStarted {
            index,
            total,
            label: &label,
        });
        runs.push(run_one(&spec, label, backend, device, on_event)?);
    }
    Ok(FigureResults {
        backend: backend.to_string(),
        experiment: exp.clone(),
        runs,
    })
}

/// One run of a figure (`spec` merged with the base).
fn run_one(
    spec: &RunSpec,
    label: String,
    backend: &str,
    device: &Device,
    on_event: &mut dyn FnMut(FigureEvent<'_>),
) -> Result<LabelledRun> {
    let net = spec.network();
    let mut data = net.load_data()?;
    if spec.forster.unwrap_or(false) {
        let report = crate::forster_inputs(&mut data)?;
        on_event(FigureEvent::Forster(&report));
    }
    let mut cfg = net.train_config(&data, spec.method.unwrap_or(defaults::METHOD), backend);
    cfg.lr = spec.lr;
    cfg.damping = spec.damping.unwrap_or(defaults::DAMPING);
    cfg.steps = spec.steps.unwrap_or(defaults::STEPS);
    cfg.lr_scale = spec.lr_scale.unwrap_or(1.0);
    cfg.precision = spec.precision.unwrap_or_default();
    cfg.damping_convention = spec.damping_convention.unwrap_or_default();
    cfg.diagnostics = spec.diagnostics.unwrap_or(false);
    let (mut record, failure) = ngd_train::train_until_failure(&cfg, &data, device, &mut |s| {
        on_event(FigureEvent::Step(s))
    })
    .map_err(|source| Error::Run {
        label: label.clone(),
        source,
    })?;
    let diverged = match failure {
        None => None,
        // A direction that fails after the first step (the loss has run away and the dual
        // system became numerically singular) is kept like a non-finite loss.
        Some(failure @ (TrainError::Diverged { .. } | TrainError::Optim(_)))
            if spec.allow_divergence.unwrap_or(false) =>
        {
            // `diverged` says it; the record itself stays as before the option existed.
            let step = record.failure.take().map_or(record.steps.len(), |f| f.step);
            let divergence = match failure {
                TrainError::Diverged { loss, .. } => Divergence {
                    step,
                    train_loss: loss.to_string(),
                    error: None,
                },
                other => Divergence {
                    step,
                    train_loss: "not computed".into(),
                    error: Some(other.to_string()),
                },
            };
            on_event(FigureEvent::Diverged(&divergence));
            Some(divergence)
        }
        Some(source) => return Err(Error::Run { label, source }),
    };
    Ok(LabelledRun {
        label,
        record,
        diverged,
    })
}

/// A per-step value a chart series reads from a record.
type StepValue = fn(&StepRecord) -> Option<f64>;

/// Train loss vs step (markers) with each run's theory line (dashed), log y axis.
pub fn loss_chart(results: &FigureResults) -> LineChart {
    let mut chart = LineChart::new(&results.experiment.title, "step t", "train loss");
    chart.y_scale = Scale::Log10;
    let plot_diagnostics = results.experiment.plot_diagnostics.unwrap_or(false);
    for (i, run) in results.runs.iter().enumerate() {
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
        // theory line; the NTK line is GD's only. With `plot_diagnostics` the first-order
        // prediction, the step-wise theory, takes its place.
        let has_theory =
            run.record.alpha.is_some() || run.record.config.options.method == Method::Gd;
        if has_theory && !plot_diagnostics {
            chart.series.push(Series {
                label: format!("{} (theory)", run.label),
                points: steps
                    .iter()
                    .filter_map(|s| s.theory_train_loss.map(|t| (s.step as f64, t)))
                    .collect(),
                style: Style::dashed_line(),
                color: color.clone(),
            });
        }
        if !plot_diagnostics {
            continue;
        }
        // Each step's first-order prediction from the step before, and for ReLU the loss with
        // the gates frozen at initialisation (runs with `diagnostics`).
        let diagnostics: [(&str, StepValue, Style); 2] = [
            ("first-order", |s| s.linearised_loss, Style::line()),
            ("gates of θ₀", |s| s.frozen_gate_loss, Style::markers()),
        ];
        for (what, value, style) in diagnostics {
            let points: Vec<(f64, f64)> = steps
                .iter()
                .filter_map(|s| value(s).map(|v| (s.step as f64, v)))
                .collect();
            if !points.is_empty() {
                chart.series.push(Series {
                    label: format!("{} ({what})", run.label),
                    points,
                    style,
                    color: color.clone(),
                });
            }
        }
    }
    chart
}

#[cfg(test)]
#[path = "figure_tests.rs"]
mod tests;
