//! The run configuration of `ngd train --batch-size B` (and `ngd bench --batch-size B`) from
//! the command line: the sections of [`FitConfig`] filled from the flags, with K-FAC's
//! mini-batch defaults for every K-FAC option not given.

use crate::commands::{NetArgs, OptArgs};
use crate::minibatch::MiniBatchArgs;
use anyhow::{Result, bail};
use ngd_data::ALL;
use ngd_model::Arch;
use ngd_optim::{Fisher, Loss};
use ngd_train::fit::{FitConfig, OptimizerKind};

/// The MLP's shape options, refused with `--arch cnn`.
const MLP_OPTIONS: [&str; 6] = [
    "depth",
    "width",
    "activation",
    "parameterization",
    "sigma_w2",
    "sigma_b2",
];

/// The run's configuration from the command line.
pub(crate) fn fit_config(
    net: &NetArgs,
    args: &MiniBatchArgs,
    optimizer: OptimizerKind,
    opt: &OptArgs,
    loss: Option<Loss>,
    batch_size: usize,
) -> Result<FitConfig> {
    let classes = ngd_data::parse_classes(net.dataset, &net.classes)?;
    let optional = |n: usize| (n != ALL).then_some(n);
    let mut cfg = FitConfig::new(optimizer);
    cfg.data.dataset = net.dataset;
    cfg.data.classes = classes;
    cfg.data.n_train = optional(net.n_train);
    cfg.data.n_test = optional(net.n_test);
    cfg.data.validation = args.validation;
    cfg.model.arch = args.arch;
    match args.arch {
        Arch::Mlp => {
            if args.kfac_conv.is_some() {
                bail!("--kfac-conv chooses K-FAC's factors for convolutions: it needs --arch cnn");
            }
            cfg.model.depth = net.shape.depth;
            cfg.model.width = net.shape.width;
            cfg.model.activation = net.shape.activation;
            cfg.model.parameterization = args.parameterization;
            cfg.model.sigma_w2 = net.shape.sigma_w2;
            cfg.model.sigma_b2 = net.shape.sigma_b2;
        }
        Arch::Cnn => {
            if let Some(flag) = MLP_OPTIONS
                .iter()
                .find(|f| args.explicit.iter().any(|e| e == *f))
            {
                bail!(
                    "--{} shapes the MLP; the CNN (--arch cnn) has a fixed shape",
                    flag.replace('_', "-")
                );
            }
            if optimizer.method().is_none() && args.kfac_conv.is_some() {
                bail!("--kfac-conv is a K-FAC option; {optimizer} does not use it");
            }
        }
    }
    cfg.loss = loss.unwrap_or(Loss::CrossEntropy);
    cfg.optimizer.lr = opt.lr.unwrap_or(cfg.optimizer.lr);
    cfg.schedule.lr = args.schedule;
    cfg.schedule.warmup_steps = args.warmup;
    cfg.optimizer.momentum = args.momentum;
    cfg.optimizer.nesterov = args.nesterov;
    cfg.optimizer.weight_decay = args.weight_decay;
    cfg.optimizer.damping.value = opt.damping.unwrap_or(cfg.optimizer.damping.value);
    cfg.optimizer.damping.adaptive = args.adaptive_damping;
    cfg.optimizer.clipping.max_step_norm = args.max_step_norm;
    cfg.optimizer.clipping.kl = args.kl_clip;
    cfg.data.augment = args.augment;
    cfg.optimizer.kfac = kfac_config(args, optimizer);
    if optimizer == OptimizerKind::Ngd(ngd_optim::Method::Kfac) {
        kfac_defaults(&mut cfg, args, opt);
    }
    cfg.schedule.batch_size = batch_size;
    cfg.schedule.epochs = args.epochs;
    cfg.schedule.evals_per_epoch = args.evals_per_epoch;
    cfg.seed = net.seed;
    cfg.backend = net.backend.to_string();
    cfg.validate()?;
    Ok(cfg)
}

/// The per-layer blocks' options from the command line: set when a K-FAC flag is given or the
/// CNN's convolutions need blocks (K-FAC, diagonal; with the sampled Fisher unless told).
fn kfac_config(args: &MiniBatchArgs, optimizer: OptimizerKind) -> Option<ngd_optim::KfacConfig> {
    use ngd_optim::Method;
    let cnn_blocks = args.arch == Arch::Cnn
        && matches!(optimizer.method(), Some(Method::Kfac | Method::Diagonal));
    let flags = args.fisher.is_some()
        || args.curvature_batch.is_some()
        || args.kfac_decay.is_some()
        || args.kfac_stats_interval.is_some()
        || args.kfac_inverse_interval.is_some()
        || args.kfac_inverse_warmup.is_some()
        || args.inverse_precision.is_some()
        || args.kfac_conv.is_some();
    if !(flags || cnn_blocks) {
        return None;
    }
    let d = ngd_optim::KfacConfig::new();
    let fisher = if cnn_blocks {
        Fisher::Sampled
    } else {
        d.fisher
    };
    Some(ngd_optim::KfacConfig {
        fisher: args.fisher.unwrap_or(fisher),
        decay: args.kfac_decay.unwrap_or(d.decay),
        stats_interval: args.kfac_stats_interval.unwrap_or(d.stats_interval),
        inverse_interval: args.kfac_inverse_interval.unwrap_or(d.inverse_interval),
        inverse_warmup: args.kfac_inverse_warmup.or(d.inverse_warmup),
        stats_batch: args.curvature_batch,
        conv: args.kfac_conv.unwrap_or(d.conv),
        inverse_precision: args.inverse_precision.unwrap_or(d.inverse_precision),
    })
}

/// K-FAC's mini-batch defaults for the network ([`ngd_train::defaults::MLP_KFAC`],
/// [`ngd_train::defaults::CNN_KFAC`]) for every option not given.
fn kfac_defaults(cfg: &mut FitConfig, args: &MiniBatchArgs, opt: &OptArgs) {
    let d = match args.arch {
        Arch::Mlp => ngd_train::defaults::MLP_KFAC,
        Arch::Cnn => ngd_train::defaults::CNN_KFAC,
    };
    // The options given on the command line win.
    ngd_train::defaults::KfacDefaults {
        fisher: args.fisher.unwrap_or(d.fisher),
        decay: args.kfac_decay.unwrap_or(d.decay),
        stats_interval: args.kfac_stats_interval.unwrap_or(d.stats_interval),
        inverse_interval: args.kfac_inverse_interval.unwrap_or(d.inverse_interval),
        inverse_warmup: args.kfac_inverse_warmup.or(d.inverse_warmup),
        damping: opt.damping.unwrap_or(d.damping),
        lr: opt.lr.unwrap_or(d.lr),
        kl_clip: args.kl_clip.or(d.kl_clip),
        inverse_precision: args.inverse_precision.unwrap_or(d.inverse_precision),
    }
    .apply(cfg);
}
