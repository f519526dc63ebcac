//! `ngd train --batch-size B …` (mini-batch training on whole datasets) and `ngd eval`.

use crate::commands::{NetArgs, check_writable, write_json};
use anyhow::{Context, Result, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ngd_data::{ALL, DataConfig};
use ngd_model::Parameterization;
use ngd_optim::{Fisher, Loss};
use ngd_train::fit::{self, FitConfig, FitEvent, FitOptions, OptimizerKind, Schedule, Status};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// The options of mini-batch training (`ngd train --batch-size B`).
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Mini-batch training (with --batch-size)")]
pub struct MiniBatchArgs {
    /// Train in mini-batches of this size on the whole training split (reshuffled every epoch
    /// from the seed); without it `ngd train` is the paper's full-batch setting.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Epochs.
    #[arg(long, requires = "batch_size", default_value_t = 5)]
    pub epochs: usize,
    /// Hold out the last this many training images for validation (0: none).
    #[arg(long, requires = "batch_size", default_value_t = 5000)]
    pub validation: usize,
    /// Evaluations per epoch (validation and test accuracy; the last at the epoch's end).
    #[arg(long, requires = "batch_size", default_value_t = 1)]
    pub evals_per_epoch: usize,
    /// ntk (the paper's σ_w/√M scaling, N(0,1) weights) or standard (PyTorch/burn `Linear`:
    /// u = Wh + b, U(±1/√fan_in) initialisation).
    #[arg(long, requires = "batch_size", default_value = "ntk")]
    pub parameterization: Parameterization,
    /// Learning-rate schedule: constant or cosine (to 0 at the last step).
    #[arg(long, requires = "batch_size", default_value = "constant")]
    pub schedule: Schedule,
    /// Linear warm-up steps of the learning rate.
    #[arg(long, requires = "batch_size", default_value_t = 0)]
    pub warmup: u64,
    /// Momentum μ (NGD methods and sgd).
    #[arg(long, requires = "batch_size", default_value_t = 0.0)]
    pub momentum: f64,
    /// Nesterov momentum (sgd).
    #[arg(long, requires = "batch_size")]
    pub nesterov: bool,
    /// Decoupled weight decay (adamw).
    #[arg(long, requires = "batch_size", default_value_t = 1e-4)]
    pub weight_decay: f64,
    /// Levenberg–Marquardt adaptive damping for NGD: ρ ← 0.95ρ when the batch loss fell by
    /// more than ¾ of the quadratic model's prediction, ρ ← ρ/0.95 when by less than ¼.
    #[arg(long, requires = "batch_size")]
    pub adaptive_damping: bool,
    /// Bound on the NGD step: the update is scaled down to this L2 norm when longer.
    #[arg(long, requires = "batch_size")]
    pub max_step_norm: Option<f64>,
    /// K-FAC's output-side Fisher for cross-entropy: exact (Λ = diag(p) − ppᵀ, C backward
    /// passes per statistics step; the default because it is the true Fisher), sampled (one
    /// label drawn from the model per sample, one backward pass) or empirical (the observed
    /// labels' gradients: biased).
    #[arg(long, requires = "batch_size", default_value = "exact")]
    pub fisher: Fisher,
    /// K-FAC: estimate the curvature from the first this many samples of each batch.
    #[arg(long, requires = "batch_size")]
    pub curvature_batch: Option<usize>,
    /// K-FAC: decay of the running averages of its factors (0: this batch only).
    #[arg(long, requires = "batch_size", default_value_t = 0.0)]
    pub kfac_decay: f64,
    /// K-FAC: update the statistics of its factors every this many steps.
    #[arg(long, requires = "batch_size", default_value_t = 1)]
    pub kfac_stats_interval: usize,
    /// K-FAC: recompute the damped inverses every this many steps.
    #[arg(long, requires = "batch_size", default_value_t = 1)]
    pub kfac_inverse_interval: usize,
    /// Write a checkpoint (model, optimizer state, the run so far) here after every epoch.
    #[arg(long, requires = "batch_size")]
    pub save: Option<PathBuf>,
    /// Continue the run saved at this checkpoint (same options; --epochs may grow).
    #[arg(long, requires = "batch_size")]
    pub resume: Option<PathBuf>,
}

/// The run's configuration from the command line.
fn fit_config(
    net: &NetArgs,
    args: &MiniBatchArgs,
    optimizer: OptimizerKind,
    opt: &crate::commands::OptArgs,
    loss: Option<Loss>,
    batch_size: usize,
) -> Result<FitConfig> {
    let classes = ngd_data::parse_classes(net.dataset, &net.classes)?;
    let optional = |n: usize| (n != ALL).then_some(n);
    let mut cfg = FitConfig::new(optimizer);
    cfg.dataset = net.dataset;
    cfg.classes = classes;
    cfg.n_train = optional(net.n_train);
    cfg.n_test = optional(net.n_test);
    cfg.validation = args.validation;
    cfg.depth = net.depth;
    cfg.width = net.width;
    cfg.activation = net.activation;
    cfg.parameterization = args.parameterization;
    cfg.sigma_w2 = net.sigma_w2;
    cfg.sigma_b2 = net.sigma_b2;
    cfg.loss = loss.unwrap_or(Loss::CrossEntropy);
    cfg.lr = opt.lr.unwrap_or(cfg.lr);
    cfg.schedule = args.schedule;
    cfg.warmup_steps = args.warmup;
    cfg.momentum = args.momentum;
    cfg.nesterov = args.nesterov;
    cfg.weight_decay = args.weight_decay;
    cfg.damping = opt.damping.unwrap_or(cfg.damping);
    cfg.adaptive_damping = args.adaptive_damping;
    cfg.max_step_norm = args.max_step_norm;
    cfg.fisher = args.fisher;
    cfg.curvature_batch = args.curvature_batch;
    cfg.kfac_decay = args.kfac_decay;
    cfg.kfac_inverse_interval = args.kfac_inverse_interval;
    cfg.kfac_stats_interval = args.kfac_stats_interval;
    cfg.batch_size = batch_size;
    cfg.epochs = args.epochs;
    cfg.evals_per_epoch = args.evals_per_epoch;
    cfg.seed = net.seed;
    cfg.backend = net.backend.to_string();
    cfg.validate()?;
    Ok(cfg)
}

/// Loads the splits of a mini-batch run.
fn load_data(cfg: &FitConfig) -> Result<ngd_data::Holdout> {
    let data_cfg = DataConfig {
        dataset: cfg.dataset,
        classes: cfg.classes.clone(),
        n_train: cfg.n_train.unwrap_or(ALL),
        n_test: cfg.n_test.unwrap_or(ALL),
    };
    Ok(ngd_data::load_holdout(&data_cfg, cfg.validation)?)
}

/// `ngd train --batch-size B …`.
pub fn train(
    net: &NetArgs,
    args: &MiniBatchArgs,
    optimizer: OptimizerKind,
    opt: &crate::commands::OptArgs,
    loss: Option<Loss>,
    out: Option<&Path>,
) -> Result<()> {
    let batch_size = args
        .batch_size
        .context("mini-batch training needs --batch-size")?;
    for path in out.into_iter().chain(args.save.as_deref()) {
        check_writable(path)?;
    }
    let cfg = fit_config(net, args, optimizer, opt, loss, batch_size)?;
    let device = net.backend.device()?;
    let data = load_data(&cfg)?;
    eprintln!(
        "train: {} {} classes, {} train / {} validation / {} test images, {}-{}x{} MLP ({}), \
         {} batch {} for {} epochs, backend {} ({})",
        cfg.dataset,
        data.classes,
        data.train.n,
        data.validation.n,
        data.test.n,
        data.train.dim,
        cfg.depth - 1,
        cfg.width,
        cfg.parameterization,
        cfg.optimizer,
        cfg.batch_size,
        cfg.epochs,
        cfg.backend,
        data.source
    );
    let options = FitOptions {
        save: args.save.clone(),
        resume: args.resume.clone(),
    };
    let mut progress = Progress::new();
    println!("{}", evaluation_header());
    let record = fit::fit(&cfg, &data, &device, &options, &mut |event| {
        progress.event(event)
    })?;
    progress.finish();
    if let Some(out) = out {
        write_json(out, &record)?;
    }
    let s = &record.phase_seconds;
    eprintln!(
        "time: {:.1} s training ({} steps, {:.1} ms/step: forward/backward {:.1}, curvature \
         {:.1}, inversion {:.1}, update {:.1}), {:.1} s evaluating; peak memory {:.0} MiB",
        record.train_seconds,
        record.steps,
        1e3 * record.train_seconds / record.steps.max(1) as f64,
        1e3 * s.forward_backward / record.steps.max(1) as f64,
        1e3 * s.curvature / record.steps.max(1) as f64,
        1e3 * s.inversion / record.steps.max(1) as f64,
        1e3 * s.update / record.steps.max(1) as f64,
        record.eval_seconds,
        record.peak_memory_bytes.unwrap_or(0) as f64 / 1048576.0
    );
    if let Status::Failed { step, error } = &record.status {
        bail!(
            "training stopped at step {step}: {error}{}",
            match (&args.save, out) {
                (Some(s), _) => format!(
                    " (the record so far is written; the checkpoint {} holds the last completed \
                     epoch)",
                    s.display()
                ),
                (None, Some(_)) => " (the record so far is written)".into(),
                _ => String::new(),
            }
        );
    }
    Ok(())
}

fn evaluation_header() -> String {
    format!(
        "{:>6} {:>7} {:>9} {:>11} {:>9} {:>11} {:>9}",
        "epoch", "step", "seconds", "train_loss", "val_acc", "test_loss", "test_acc"
    )
}

/// A progress bar on a terminal, plain lines otherwise; evaluation lines on stdout.
struct Progress {
    bar: Option<ProgressBar>,
    last_line: std::time::Instant,
}

impl Progress {
    fn new() -> Self {
        Self {
            bar: None,
            last_line: std::time::Instant::now(),
        }
    }

    fn event(&mut self, event: FitEvent) {
        match event {
            FitEvent::Step {
                epoch,
                step,
                total,
                loss,
                lr,
            } => {
                let bar = self.bar.get_or_insert_with(|| new_bar(total));
                bar.set_position(step);
                bar.set_message(format!("epoch {} loss {loss:.4} lr {lr:.3e}", epoch + 1));
                if !std::io::stderr().is_terminal()
                    && (self.last_line.elapsed().as_secs() >= 10 || step == total)
                {
                    self.last_line = std::time::Instant::now();
                    eprintln!(
                        "step {step}/{total} epoch {} batch loss {loss:.4} lr {lr:.3e}",
                        epoch + 1
                    );
                }
            }
            FitEvent::Evaluation(e) => {
                let line = format!(
                    "{:>6.2} {:>7} {:>9.1} {:>11} {:>9} {:>11.4} {:>9.4}",
                    e.epoch,
                    e.step,
                    e.seconds,
                    e.train_loss.map_or("-".into(), |v| format!("{v:.4}")),
                    e.val_accuracy.map_or("-".into(), |v| format!("{v:.4}")),
                    e.test_loss,
                    e.test_accuracy
                );
                match &self.bar {
                    Some(bar) => bar.suspend(|| println!("{line}")),
                    None => println!("{line}"),
                }
            }
            FitEvent::Saved(path) => {
                let line = format!("saved {}", path.display());
                match &self.bar {
                    Some(bar) => bar.suspend(|| eprintln!("{line}")),
                    None => eprintln!("{line}"),
                }
            }
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn new_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:30} {pos}/{len} steps [{elapsed_precise}<{eta_precise}, {per_sec}] {msg}",
        )
        .expect("valid template"),
    );
    bar
}

/// Arguments of `ngd eval`.
#[derive(Args, Debug)]
pub struct EvalArgs {
    /// A checkpoint written by `ngd train --batch-size … --save`.
    #[arg(long)]
    pub model: PathBuf,
    /// Dataset (default: the checkpoint's).
    #[arg(long)]
    pub dataset: Option<ngd_data::DatasetName>,
    /// Test images: a number or all (default: the checkpoint's).
    #[arg(long, value_parser = crate::commands::parse_count)]
    pub n_test: Option<usize>,
    /// Compute backend.
    #[arg(long, default_value = ngd_train::defaults::BACKEND)]
    pub backend: crate::backend::Backend,
    /// Write {test_accuracy, test_loss} as JSON to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `ngd eval`: test loss and accuracy of a checkpoint, with the training split's standardisation.
pub fn eval(args: EvalArgs) -> Result<()> {
    if let Some(out) = &args.out {
        check_writable(out)?;
    }
    let device = args.backend.device()?.autodiff();
    let loaded = fit::load_checkpoint(&args.model, &device)?;
    let mut cfg = loaded.progress.record.config.clone();
    if let Some(d) = args.dataset {
        cfg.dataset = d;
    }
    if let Some(n) = args.n_test {
        cfg.n_test = (n != ALL).then_some(n);
    }
    let data = load_data(&cfg)?;
    let (test_loss, test_accuracy) = fit::evaluate(
        &loaded.model,
        &data.test,
        data.classes,
        cfg.loss,
        1000,
        &device,
    );
    println!(
        "test_accuracy={test_accuracy:.4} test_loss={test_loss:.4} ({} test images, {} epochs, \
         step {})",
        data.test.n, loaded.progress.epochs_done, loaded.progress.step
    );
    if let Some(out) = &args.out {
        let doc = serde_json::json!({
            "model": args.model.display().to_string(),
            "test_images": data.test.n,
            "test_accuracy": test_accuracy,
            "test_loss": test_loss,
        });
        write_json(out, &doc)?;
    }
    Ok(())
}

/// Arguments of `ngd sweep`.
#[derive(Args, Debug)]
pub struct SweepArgs {
    /// Comparison config (JSON), e.g. experiments/full-mnist/config.json.
    pub config: PathBuf,
    /// Folder for sweep.json, summary.json, table.md and the charts (default: the config's).
    #[arg(long)]
    pub out_dir: Option<PathBuf>,
    /// Compute backend of every run.
    #[arg(long, default_value = ngd_train::defaults::BACKEND)]
    pub backend: crate::backend::Backend,
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
        check_writable(&record_path)?;
        let text = std::fs::read_to_string(&args.config)
            .with_context(|| format!("reading {}", args.config.display()))?;
        let sweep: fit::SweepConfig = serde_json::from_str(&text)
            .with_context(|| format!("parsing comparison config {}", args.config.display()))?;
        let first = sweep
            .optimizers
            .first()
            .context("the config lists no optimizers")?;
        let data_cfg = sweep.run_config(first, &Default::default())?;
        let data = load_data(&data_cfg)?;
        let device = args.backend.device()?;
        let runs_dir = out_dir.join("runs");
        let mut progress = Progress::new();
        let mut failure = None;
        let mut current = String::new();
        let mut tune_index = 0;
        let record = fit::run_sweep(&sweep, &data, &device, &mut |event| match event {
            fit::SweepEvent::Start(phase, label, cfg) => {
                progress = Progress::new();
                current = label.to_string();
                let damping = match cfg.optimizer.method() {
                    Some(_) => format!(" damping {}", cfg.damping),
                    None => String::new(),
                };
                eprintln!(
                    "[{phase}] {label}: lr {}{damping} epochs {} seed {}",
                    cfg.lr, cfg.epochs, cfg.seed
                );
            }
            fit::SweepEvent::Fit(e) => progress.event(e),
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
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        write_json(&record_path, &record)?;
        record
    };
    let summary = fit::summarize(&record);
    write_json(&out_dir.join("summary.json"), &summary)?;
    let table = fit::markdown(&summary, &record.config.reference);
    std::fs::write(out_dir.join("table.md"), &table)?;
    print!("{table}");
    for (name, by_epoch) in [("accuracy_time.svg", false), ("accuracy_epoch.svg", true)] {
        let path = out_dir.join(name);
        fit::accuracy_chart(&record, &summary, by_epoch)
            .save(&path)
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
