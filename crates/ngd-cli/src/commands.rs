//! `ngd train` and the network, optimiser and output options shared by the commands.

use crate::backend::Backend;
use anyhow::{Context, Result};
use clap::Args;
use ngd_data::{Dataset, DatasetName};
use ngd_experiments::Network;
use ngd_model::MlpShape;
use ngd_optim::Method;
use ngd_train::fit::OptimizerKind;
use ngd_train::{StepRecord, TrainConfig, defaults};
use std::path::{Path, PathBuf};

/// Data and network options shared by every command that trains a network.
#[derive(Args, Debug, Clone)]
pub struct NetArgs {
    /// Dataset: mnist or cifar10.
    #[arg(long, default_value_t = defaults::DATASET)]
    pub dataset: DatasetName,
    /// Classes to keep, by index (0,7) or, for cifar10, by name (airplane,horse). Two classes:
    /// one output with targets ±0.5; more: one-hot targets, one output per class.
    #[arg(long, default_value = defaults::CLASSES)]
    pub classes: String,
    /// Number of training samples N (the first N of the selected classes); `all` (with
    /// --batch-size) for every one.
    #[arg(long, default_value_t = defaults::N_TRAIN, value_parser = parse_count)]
    pub n_train: usize,
    /// Number of test samples N′; `all` for every one.
    #[arg(long, default_value_t = defaults::N_TEST, value_parser = parse_count)]
    pub n_test: usize,
    /// Depth, width, variances and activation of the MLP.
    #[command(flatten)]
    pub shape: MlpShape,
    /// Seed of the initial weights (W, b ~ N(0,1), drawn on the host: identical on every backend).
    #[arg(long, default_value_t = defaults::SEED)]
    pub seed: u64,
    /// Compute backend: flex, ndarray, tch-cpu, tch-cuda[:N] (LibTorch ones need --features tch).
    #[arg(long, default_value = defaults::BACKEND)]
    pub backend: Backend,
}

/// A sample count: a number, or `all` ([`ngd_data::ALL`]).
pub fn parse_count(text: &str) -> std::result::Result<usize, String> {
    if text.eq_ignore_ascii_case("all") {
        return Ok(ngd_data::ALL);
    }
    text.parse()
        .map_err(|e| format!("expected a number or 'all', got '{text}': {e}"))
}

impl NetArgs {
    /// The data and network these options describe.
    pub fn network(&self) -> Network {
        Network {
            dataset: self.dataset,
            classes: self.classes.clone(),
            n_train: self.n_train,
            n_test: self.n_test,
            shape: self.shape,
            seed: self.seed,
        }
    }

    /// Loads and preprocesses the data (MATH.md §7).
    pub fn load_data(&self) -> Result<Dataset> {
        if self.n_train == ngd_data::ALL || self.n_test == ngd_data::ALL {
            anyhow::bail!(
                "--n-train all / --n-test all need mini-batch training (--batch-size B); the \
                 paper's full-batch setting solves N·C × N·C systems"
            );
        }
        Ok(self.network().load_data()?)
    }

    /// The training configuration for `method`.
    pub fn train_config(&self, data: &Dataset, method: Method, opt: &OptArgs) -> TrainConfig {
        let backend = self.backend.to_string();
        let base = self.network().train_config(data, method, &backend);
        TrainConfig {
            lr: opt.lr,
            damping: opt.damping.unwrap_or(base.damping),
            sigma: opt.sigma.clone().map(|s| s.0),
            precision: opt.precision,
            damping_convention: opt.damping_convention,
            diagnostics: opt.diagnostics,
            steps: opt.steps,
            ..base
        }
    }
}

/// Optimiser options.
#[derive(Args, Debug, Clone)]
pub struct OptArgs {
    /// Learning rate η. Default: the optimum 1/α: 1 for exact, 1/L for block-diagonal,
    /// 1/(1ᵀΣ⁻¹1) for block-tri-diagonal and layer-wise, 1/(N(L−1)+1) for kfac (its measured α;
    /// the paper states N·L), CN/tr Θ̄ for unit-wise (CN/Σ|active units| at ρ = 0); 1/λ_max(Θ) for gd and
    /// 1/λ_max(Θ̄) for diagonal and quasi-diagonal.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Damping ρ ≥ 0 added to the Fisher (G = F + ρI); 0 (the default) is the pseudo-inverse
    /// limit; unit-wise defaults to 4e-8/M (M: --width), mini-batch training to 1e-3.
    #[arg(long)]
    pub damping: Option<f64>,
    /// Number of training steps.
    #[arg(long, default_value_t = defaults::STEPS)]
    pub steps: usize,
    /// Σ of `--method layer-wise` (eq. 15): L×L symmetric, rows separated by ';',
    /// e.g. "1,0.5,0;0.5,1,0.5;0,0.5,1".
    #[arg(long, value_parser = parse_sigma_arg)]
    pub sigma: Option<SigmaArg>,
    /// Arithmetic of the layer-wise dual solve (block-tri-diagonal, layer-wise): f64, or f32
    /// (system and right-hand side rounded to float32 and solved in float32, as JAX's default).
    #[arg(long, default_value = "f64")]
    pub precision: ngd_optim::Precision,
    /// How ρ enters the layer-wise dual matrix (Σ⊗I)K, K_l = J_lJ_lᵀ: per-sample adds Nρ
    /// (G = JᵀJ/N + ρI), authors adds 2ρ (the authors' code).
    #[arg(long, default_value = "per-sample")]
    pub damping_convention: ngd_optim::DampingConvention,
    /// Record per step ‖ηΔθ_l‖/‖W_l‖, the loss of the step's first-order prediction
    /// f − ηJΔθ, for the layer-wise methods the dual solution's component along Σ's
    /// (near-)null eigenvector, and for ReLU the fraction of gates 1(u > 0) the step switched
    /// on and off per hidden layer and the loss with the gates frozen at initialisation.
    #[arg(long)]
    pub diagnostics: bool,
}

/// A validated Σ (rows), parsed from `--sigma`.
#[derive(Debug, Clone)]
pub struct SigmaArg(pub Vec<Vec<f64>>);

/// Parses and validates `--sigma` (square, symmetric) with [`ngd_optim::parse_sigma`].
fn parse_sigma_arg(text: &str) -> std::result::Result<SigmaArg, String> {
    let m = ngd_optim::parse_sigma(text).map_err(|e| e.to_string())?;
    let l = m.nrows();
    Ok(SigmaArg(
        (0..l)
            .map(|i| (0..l).map(|j| m[(i, j)]).collect())
            .collect(),
    ))
}

/// Arguments of `ngd train`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    #[command(flatten)]
    pub net: NetArgs,
    /// Method: gd, exact, block-diagonal, block-tri-diagonal, layer-wise (with --sigma), kfac,
    /// unit-wise, diagonal or quasi-diagonal; with --batch-size also burn's first-order sgd,
    /// adam, adamw and muon (Muon on the hidden weights, AdamW on the first and last layers and
    /// the biases).
    #[arg(long, default_value_t = OptimizerKind::Ngd(defaults::METHOD))]
    pub method: OptimizerKind,
    #[command(flatten)]
    pub opt: OptArgs,
    /// Write the run (config, α, lr, per-step records) as JSON to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Forster-transform the inputs before training, for K-FAC with M_0 < N: on the inputs'
    /// principal span of r dimensions (eigenvalues of ZᵀZ above 1e-5·λ_max, raised tenfold while
    /// the iteration stalls), Z ← normalise_rows(Z(ZᵀZ)^{-1/2}) until ZᵀZ ≈ (N/r)·projector; the
    /// test inputs get the same map.
    #[arg(long)]
    pub forster: bool,
    /// Loss: mse (the paper's) or cross-entropy (softmax; logistic for two classes with one
    /// output); cross-entropy works with every method but diagonal and quasi-diagonal (K-FAC's
    /// output-side factor is the Fisher-weighted sum over outputs) and needs --damping > 0
    /// except for unit-wise. Default: mse; cross-entropy with --batch-size.
    #[arg(long)]
    pub loss: Option<ngd_optim::Loss>,
    #[command(flatten)]
    pub minibatch: crate::minibatch::MiniBatchArgs,
}

/// Applies the Forster transform to the train inputs (and its map to the test inputs).
pub(crate) fn apply_forster(data: &mut Dataset) -> Result<()> {
    let report = ngd_experiments::forster_inputs(data)?;
    eprintln!(
        "forster: span r = {} (cut {:.0e}·λ_max), {} iterations, ‖ZᵀZ − (N/r)P‖/‖(N/r)P‖ = {:.2e}",
        report.rank, report.span_tol, report.iterations, report.deviation
    );
    Ok(())
}

/// The options of the paper's full-batch runs that mini-batch training refuses rather than
/// ignores.
const FULL_BATCH_OPTIONS: [&str; 6] = [
    "forster",
    "sigma",
    "steps",
    "precision",
    "damping_convention",
    "diagnostics",
];

/// `ngd train`.
pub fn train(args: TrainArgs) -> Result<()> {
    if args.minibatch.batch_size.is_some() {
        if let Some(flag) = FULL_BATCH_OPTIONS
            .iter()
            .find(|f| args.minibatch.explicit.iter().any(|e| e == *f))
        {
            anyhow::bail!(
                "--{} belongs to the full-batch setting (without --batch-size); mini-batch \
                 training runs --epochs with the options of `ngd train --help`'s mini-batch part",
                flag.replace('_', "-")
            );
        }
        return crate::minibatch::train(
            &args.net,
            &args.minibatch,
            args.method,
            &args.opt,
            args.loss,
            args.out.as_deref(),
        );
    }
    let Some(method) = args.method.method() else {
        anyhow::bail!(
            "{} is a first-order baseline for mini-batch training: add --batch-size B",
            args.method
        );
    };
    if let Some(out) = &args.out {
        check_writable(out)?;
    }
    let dual = ngd_optim::DualSolve {
        precision: args.opt.precision,
        convention: args.opt.damping_convention,
    };
    method.check_dual_options(dual.is_default())?;
    let mut data = args.net.load_data()?;
    if args.forster {
        apply_forster(&mut data)?;
    }
    let device = args.net.backend.device()?;
    let mut cfg = args.net.train_config(&data, method, &args.opt);
    cfg.loss = args.loss.unwrap_or_default();
    cfg.forster = args.forster;
    cfg.validate()?;
    eprintln!(
        "train: {} N={} N'={} L={} M={} method={} backend={} ({})",
        cfg.dataset,
        cfg.n_train,
        cfg.n_test,
        cfg.shape.depth,
        cfg.shape.width,
        cfg.method,
        cfg.backend,
        data.source
    );
    println!("{}", step_header());
    let (record, failure) = ngd_train::train_until_failure(&cfg, &data, &device, &mut |s| {
        println!("{}", step_line(s))
    })?;
    // A run that fails part-way still writes the steps it took (with `failure` set).
    if let Some(out) = &args.out {
        write_json(out, &record)?;
    }
    if let Some(failure) = failure {
        return Err(failure.into());
    }
    eprintln!(
        "lr = {:.6}, alpha = {}",
        record.lr,
        record.alpha.map_or("-".into(), |a| format!("{a:.4}"))
    );
    Ok(())
}

/// Column header of the per-step lines.
pub fn step_header() -> String {
    format!(
        "{:>5} {:>12} {:>9} {:>12} {:>9} {:>12} {:>12} {:>10} {:>8}",
        "step",
        "train_loss",
        "train_acc",
        "test_loss",
        "test_acc",
        "theory_loss",
        "theory_test",
        "theory_acc",
        "seconds"
    )
}

/// One per-step line.
pub fn step_line(s: &StepRecord) -> String {
    format!(
        "{:>5} {:>12.4e} {:>9.4} {:>12.4e} {:>9.4} {:>12} {:>12} {:>10} {:>8.3}",
        s.step,
        s.train_loss,
        s.train_accuracy,
        s.test_loss,
        s.test_accuracy,
        s.theory_train_loss
            .map_or("-".into(), |v| format!("{v:.4e}")),
        s.theory_test_loss
            .map_or("-".into(), |v| format!("{v:.4e}")),
        s.theory_test_accuracy
            .map_or("-".into(), |v| format!("{v:.4}")),
        s.seconds
    )
}

/// Checks before any work starts that `path` can be written (creating its folder), so that a
/// long run does not fail at its end; a file created only for the check is removed again.
pub fn check_writable(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the folder of {}", path.display()))?;
    }
    let existed = path.exists();
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    if !existed {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// Writes `value` as pretty JSON to `path` (creating its folder).
pub fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
    eprintln!("wrote {}", path.display());
    Ok(())
}
