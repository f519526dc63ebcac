//! `ngd train --batch-size B …` (mini-batch training on whole datasets) and `ngd eval`.

use crate::commands::{NetArgs, check_writable, write_json};
use anyhow::{Context, Result, bail};
use clap::Args;
use ngd_data::{ALL, DataConfig, Standardisation};
use ngd_model::{Arch, Parameterization};
use ngd_optim::{ConvFactors, Fisher, Loss};
use ngd_train::fit::{self, FitConfig, FitOptions, OptimizerKind, Schedule, Status};
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
    /// Network: mlp (shaped by --depth, --width, --activation, --parameterization) or cnn, a
    /// fixed convolutional network: conv 3×3 (C→32), ReLU, conv 3×3 (32→32), ReLU, max-pool 2,
    /// conv 3×3 (32→64), ReLU, conv 3×3 (64→64), ReLU, max-pool 2, linear (4096 for CIFAR-10,
    /// 3136 for MNIST) → 256, ReLU, linear 256 → classes; padding 1, biases, burn's default
    /// initialisation, images standardised per channel. NGD on the CNN is K-FAC or diagonal with
    /// a sampled (the default there) or empirical Fisher. K-FAC's defaults on the CNN, for each
    /// flag not given: --kfac-conv reduce, --kfac-decay 0.95, --kfac-stats-interval 5,
    /// --kfac-inverse-interval 50, --damping 0.01, --lr 0.3, --kl-clip 1e-3 (on the MLP: the
    /// sampled Fisher, 0.95, 10, 50, --damping 0.1, --lr 0.1, no KL clipping).
    #[arg(long, requires = "batch_size", default_value = "mlp")]
    pub arch: Arch,
    /// K-FAC on convolutions (--arch cnn): reduce (the default: patches averaged and signals
    /// summed over the output locations, one row per sample) or expand (every location a row:
    /// KFC, costlier statistics).
    #[arg(long, requires = "batch_size")]
    pub kfac_conv: Option<ConvFactors>,
    /// standard (PyTorch/burn `Linear`: u = Wh + b, U(±1/√fan_in) initialisation; the
    /// measured best for mini-batch training, experiments/full-mnist) or ntk (the paper's σ_w/√M
    /// scaling, N(0,1) weights).
    #[arg(long, requires = "batch_size", default_value = "standard")]
    pub parameterization: Parameterization,
    /// Learning-rate schedule: constant or cosine (to 0 at the last step).
    #[arg(long, requires = "batch_size", default_value = "constant")]
    pub schedule: Schedule,
    /// Linear warm-up steps of the learning rate.
    #[arg(long, requires = "batch_size", default_value_t = 0)]
    pub warmup: u64,
    /// Momentum μ (NGD methods and sgd).
    #[arg(
        long,
        requires = "batch_size",
        allow_negative_numbers = true,
        default_value_t = 0.0
    )]
    pub momentum: f64,
    /// Nesterov momentum (sgd).
    #[arg(long, requires = "batch_size")]
    pub nesterov: bool,
    /// Decoupled weight decay (adamw).
    #[arg(
        long,
        requires = "batch_size",
        allow_negative_numbers = true,
        default_value_t = 1e-4
    )]
    pub weight_decay: f64,
    /// Levenberg–Marquardt adaptive damping for NGD: ρ ← 0.95ρ when the batch loss fell by
    /// more than ¾ of the quadratic model's prediction for the step taken (momentum and
    /// clipping included; the curvature without damping: the batch's exact Fisher for the dual
    /// forms, A⊗S for K-FAC), ρ ← ρ/0.95 when by less than ¼; ρ stays within [1e-8, 1e4].
    #[arg(long, requires = "batch_size")]
    pub adaptive_damping: bool,
    /// Bound on the NGD update's L2 norm after momentum: η·v is scaled down to this norm when
    /// longer (the momentum buffer itself is not). Off by default; combines with --kl-clip,
    /// which acts first.
    #[arg(long, requires = "batch_size", allow_negative_numbers = true)]
    pub max_step_norm: Option<f64>,
    /// KL clipping of the NGD step (Ba et al. 2017): the preconditioned gradient Δθ is scaled by
    /// ν = min(1, √(c/(η²Δθᵀ∇L))) before momentum, bounding the step's predicted KL change
    /// η²ν²Δθᵀ∇L by c (kfac-jax's norm constraint). Off by default; combines with
    /// --max-step-norm.
    #[arg(long, requires = "batch_size", allow_negative_numbers = true)]
    pub kl_clip: Option<f64>,
    /// K-FAC's output-side Fisher for cross-entropy: exact (Λ = diag(p) − ppᵀ, C backward
    /// passes per statistics step: the true Fisher without sampling noise), sampled (one label
    /// drawn from the model per sample, one backward pass: the same Fisher in expectation) or
    /// empirical (the observed labels' gradients: biased). Default: sampled for K-FAC (the
    /// measured best, and the only one besides empirical that covers convolutions), exact for
    /// the other methods.
    #[arg(long, requires = "batch_size")]
    pub fisher: Option<Fisher>,
    /// K-FAC: estimate the curvature from the first this many samples of each batch.
    #[arg(long, requires = "batch_size")]
    pub curvature_batch: Option<usize>,
    /// K-FAC: decay β of the running averages of its factors (0: this batch only). Default for
    /// K-FAC: 0.95; 0 for the other methods.
    #[arg(long, requires = "batch_size", allow_negative_numbers = true)]
    pub kfac_decay: Option<f64>,
    /// K-FAC: update the statistics of its factors every this many steps. Default for K-FAC: 10
    /// (MLP), 5 (CNN); 1 for the other methods.
    #[arg(long, requires = "batch_size")]
    pub kfac_stats_interval: Option<usize>,
    /// K-FAC: recompute the damped inverses every this many steps. Default for K-FAC: 50 (MLP
    /// and CNN); 1 for the other methods.
    #[arg(long, requires = "batch_size")]
    pub kfac_inverse_interval: Option<usize>,
    /// K-FAC: during the first this many steps, recompute the inverses with every statistics
    /// update as well, so that a long inverse interval does not serve the first batches'
    /// curvature for that long. Off by default. For short runs: one epoch of 2,000 CIFAR-10
    /// images at batch 50 (36 steps) on the CNN's defaults reaches 37.8 % test accuracy with
    /// `--kfac-inverse-warmup 50` and 26.4 % without; on full CIFAR-10 it cost a point of best
    /// accuracy (71.7 % against 72.8 % in 4 epochs) and 1.5× the time to the target.
    #[arg(long, requires = "batch_size")]
    pub kfac_inverse_warmup: Option<usize>,
    /// K-FAC: arithmetic of the factor inversions on the host: f64, or f32 Cholesky (about twice
    /// as fast, `examples/inversion.rs`) where the damped factor's conditioning allows
    /// (κ ≥ (max Lᵢᵢ/min Lᵢᵢ)² < 1e4), f64 otherwise. Default for K-FAC: f32 (its factors were
    /// well conditioned after damping on both networks measured); the other methods invert
    /// nothing there.
    #[arg(long, requires = "batch_size")]
    pub inverse_precision: Option<ngd_optim::Precision>,
    /// Augmentation of the training batches: none, or flip-crop (a random crop of the image
    /// padded by 4 zero pixels — the channel mean after standardisation — and a horizontal flip
    /// with probability ½, drawn per image and step from the seed; the CIFAR-10 convention).
    /// Evaluations always see the images as they are.
    #[arg(long, requires = "batch_size", default_value = "none")]
    pub augment: ngd_data::Augment,
    /// Write a checkpoint (model, optimizer state, the run so far) here after every epoch.
    #[arg(long, requires = "batch_size")]
    pub save: Option<PathBuf>,
    /// Continue the run saved at this checkpoint (same options; --epochs may grow with a constant
    /// --schedule, while a cosine schedule keeps the length it started with).
    #[arg(long, requires = "batch_size")]
    pub resume: Option<PathBuf>,
    /// The options given on the command line (filled in by `main`), so that options the chosen
    /// network does not use are refused rather than ignored.
    #[arg(skip)]
    pub explicit: Vec<String>,
}

impl MiniBatchArgs {
    /// These options with the NGD-only ones at their defaults (for a first-order optimizer timed
    /// beside NGD by `ngd bench`).
    pub fn without_ngd_options(&self) -> Self {
        let mut args = self.clone();
        args.adaptive_damping = false;
        args.max_step_norm = None;
        args.kl_clip = None;
        args.inverse_precision = None;
        args.fisher = None;
        args.kfac_conv = None;
        args.curvature_batch = None;
        args.kfac_decay = None;
        args.kfac_stats_interval = None;
        args.kfac_inverse_interval = None;
        args.kfac_inverse_warmup = None;
        args
    }
}

/// Loads the splits of a mini-batch run.
pub fn load_data(cfg: &FitConfig) -> Result<ngd_data::Holdout> {
    let data_cfg = DataConfig {
        dataset: cfg.data.dataset,
        classes: cfg.data.classes.clone(),
        n_train: cfg.data.n_train.unwrap_or(ALL),
        n_test: cfg.data.n_test.unwrap_or(ALL),
    };
    let standardisation = match cfg.model.arch {
        Arch::Mlp => Standardisation::Pixels,
        Arch::Cnn => Standardisation::Channels,
    };
    Ok(ngd_data::load_holdout_with(
        &data_cfg,
        cfg.data.validation,
        standardisation,
    )?)
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
    let cfg = crate::run_config::fit_config(net, args, optimizer, opt, loss, batch_size)?;
    let device = net.backend.device()?;
    let data = load_data(&cfg)?;
    let network = match cfg.model.arch {
        Arch::Mlp => format!(
            "{}-{}x{} MLP ({})",
            data.train.dim,
            cfg.model.depth - 1,
            cfg.model.width,
            cfg.model.parameterization
        ),
        Arch::Cnn => {
            let shape = ngd_model::CnnConfig::new(data.image, data.classes);
            format!(
                "CNN on {}×{}×{} images (flatten {}, {} parameters{})",
                data.image[0],
                data.image[1],
                data.image[2],
                shape.flatten_size(),
                shape.num_params(),
                cfg.optimizer
                    .kfac
                    .as_ref()
                    .map(|k| format!(", K-FAC-{}", k.conv))
                    .unwrap_or_default()
            )
        }
    };
    eprintln!(
        "train: {} {} classes, {} train / {} validation / {} test images, {network}, {} batch {} \
         for {} epochs, backend {} ({})",
        cfg.data.dataset,
        data.classes,
        data.train.n,
        data.validation.n,
        data.test.n,
        cfg.optimizer.name,
        cfg.schedule.batch_size,
        cfg.schedule.epochs,
        cfg.backend,
        data.source
    );
    let options = FitOptions {
        save: args.save.clone(),
        resume: args.resume.clone(),
    };
    let mut progress = crate::progress::Progress::new();
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
