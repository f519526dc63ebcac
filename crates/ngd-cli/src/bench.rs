//! `ngd bench`: the time of one step of each method, by phase, on each backend: the paper's
//! full-batch step, or with `--batch-size` the mini-batch step of `ngd train` (any optimizer,
//! either network) averaged over `--steps` steps.

use crate::backend::Backend;
use crate::commands::{NetArgs, OptArgs, check_writable, write_json};
use anyhow::{Result, bail};
use clap::Args;
use ngd_optim::Method;
use ngd_train::fit::OptimizerKind;
use ngd_train::{BenchConfig, defaults};
use std::path::PathBuf;

/// Arguments of `ngd bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(flatten)]
    pub net: NetArgs,
    /// Methods to time, comma-separated; with --batch-size also sgd, adam, adamw and muon (the
    /// first listed is the baseline of the step ratios).
    #[arg(long, default_value = "exact,block-diagonal", value_delimiter = ',')]
    pub methods: Vec<OptimizerKind>,
    /// Backends to compare, comma-separated (default: the --backend one). `all` = every
    /// backend built into this binary.
    #[arg(long, value_delimiter = ',')]
    pub backends: Vec<String>,
    /// Timed repetitions per method (median reported; one warm-up step first).
    #[arg(long, default_value_t = 3)]
    pub repeats: usize,
    /// Damping ρ used by the timed steps (default: the full-batch 0, or `ngd train`'s default
    /// with --batch-size).
    #[arg(long)]
    pub damping: Option<f64>,
    /// Learning rate of the mini-batch NGD steps (default: `ngd train`'s; the first-order
    /// optimizers keep theirs, as they keep no NGD option).
    #[arg(long)]
    pub lr: Option<f64>,
    /// Mini-batch steps timed per method after one warm-up step (mean reported); a multiple of
    /// K-FAC's intervals counts its statistics and inversions at their rate.
    #[arg(long, default_value_t = 20)]
    pub steps: usize,
    /// Write all measurements as JSON to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub minibatch: crate::minibatch::MiniBatchArgs,
}

/// `ngd bench`.
pub fn bench(args: BenchArgs) -> Result<()> {
    if let Some(out) = &args.out {
        check_writable(out)?;
    }
    if args.minibatch.batch_size.is_some() {
        return bench_minibatch(&args);
    }
    let methods: Vec<Method> = args
        .methods
        .iter()
        .map(|m| match m.method() {
            Some(method) => Ok(method),
            None => bail!("{m} is a mini-batch optimizer: time it with --batch-size"),
        })
        .collect::<Result<_>>()?;
    let data = args.net.load_data()?;
    let backends = bench_backends(&args)?;
    let opt = OptArgs {
        lr: None,
        damping: Some(args.damping.unwrap_or(defaults::DAMPING)),
        steps: 1,
        sigma: None,
        precision: Default::default(),
        damping_convention: Default::default(),
        diagnostics: false,
    };
    let mut all = Vec::new();
    println!(
        "{:<10} {:<16} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10}",
        "backend", "method", "forward", "factors", "direction", "update", "step", "peak_MiB"
    );
    for backend in backends {
        let device = backend.device()?;
        let mut net = args.net.clone();
        net.backend = backend;
        let cfg = BenchConfig {
            train: net.train_config(&data, Method::Exact, &opt),
            methods: methods.clone(),
            repeats: args.repeats.max(1),
        };
        for r in ngd_train::bench_step(&cfg, &data, &device)? {
            let m = r.median;
            println!(
                "{:<10} {:<16} {:>9.4} {:>9.4} {:>9.4} {:>9.4} {:>9.4} {:>10.0}",
                r.backend,
                r.method,
                m.forward,
                m.factors,
                m.direction,
                m.update,
                m.step,
                r.peak_memory_bytes.unwrap_or(0) as f64 / 1048576.0
            );
            all.push(r);
        }
    }
    if let Some(out) = &args.out {
        let doc = serde_json::json!({ "config": bench_config_json(&args), "results": all });
        write_json(out, &doc)?;
    }
    Ok(())
}

/// `ngd bench --batch-size B`: the mean mini-batch step of each optimizer by phase, with its
/// ratio to the first one's, on each backend.
fn bench_minibatch(args: &BenchArgs) -> Result<()> {
    let opt = OptArgs {
        lr: args.lr,
        damping: args.damping,
        steps: 1,
        sigma: None,
        precision: Default::default(),
        damping_convention: Default::default(),
        diagnostics: false,
    };
    let batch_size = args.minibatch.batch_size.expect("--batch-size");
    let configs = args
        .methods
        .iter()
        .map(|&m| match m.method() {
            Some(_) => {
                crate::minibatch::fit_config(&args.net, &args.minibatch, m, &opt, None, batch_size)
            }
            None => {
                let first_order = args.minibatch.without_ngd_options();
                let opt = OptArgs {
                    damping: None,
                    lr: None,
                    ..opt.clone()
                };
                crate::minibatch::fit_config(&args.net, &first_order, m, &opt, None, batch_size)
            }
        })
        .collect::<Result<Vec<_>>>()?;
    let data = crate::minibatch::load_data(&configs[0])?;
    println!(
        "{:<10} {:<8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7} {:>9}",
        "backend",
        "method",
        "step_ms",
        "fwd_bwd",
        "curvature",
        "inversion",
        "update",
        "ratio",
        "peak_MiB"
    );
    let mut all = Vec::new();
    for backend in bench_backends(args)? {
        let device = backend.device()?;
        let mut baseline = None;
        for cfg in &configs {
            let mut cfg = cfg.clone();
            cfg.backend = backend.to_string();
            let t = ngd_train::fit::time_steps(&cfg, &data, &device, args.steps)?;
            let ratio = t.ms_per_step / *baseline.get_or_insert(t.ms_per_step);
            let p = &t.ms_per_phase;
            println!(
                "{:<10} {:<8} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>7.2} {:>9.0}",
                backend.to_string(),
                t.optimizer,
                t.ms_per_step,
                p.forward_backward,
                p.curvature,
                p.inversion,
                p.update,
                ratio,
                t.peak_memory_bytes.unwrap_or(0) as f64 / 1048576.0
            );
            all.push(
                serde_json::json!({"backend": backend.to_string(), "ratio": ratio, "timing": t}),
            );
        }
    }
    if let Some(out) = &args.out {
        let doc = serde_json::json!({
            "steps": args.steps,
            "threads": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            "results": all,
        });
        write_json(out, &doc)?;
    }
    Ok(())
}

fn bench_backends(args: &BenchArgs) -> Result<Vec<Backend>> {
    if args.backends.is_empty() {
        return Ok(vec![args.net.backend]);
    }
    if args.backends.iter().any(|b| b == "all") {
        return Ok(Backend::available());
    }
    args.backends
        .iter()
        .map(|b| b.parse::<Backend>().map_err(anyhow::Error::msg))
        .collect()
}

fn bench_config_json(args: &BenchArgs) -> serde_json::Value {
    serde_json::json!({
        "dataset": args.net.dataset.to_string(),
        "classes": args.net.classes,
        "n_train": args.net.n_train,
        "depth": args.net.depth,
        "width": args.net.width,
        "sigma_w2": args.net.sigma_w2,
        "sigma_b2": args.net.sigma_b2,
        "seed": args.net.seed,
        "repeats": args.repeats,
        "damping": args.damping.unwrap_or(defaults::DAMPING),
        "methods": args.methods.iter().map(|m| m.to_string()).collect::<Vec<_>>(),
        "threads": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    })
}
