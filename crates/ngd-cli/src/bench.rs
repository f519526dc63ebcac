//! `ngd bench`: the time of one step of each method, by phase, on each backend.

use crate::backend::Backend;
use crate::commands::{NetArgs, OptArgs, check_writable, write_json};
use anyhow::Result;
use clap::Args;
use ngd_optim::Method;
use ngd_train::{BenchConfig, defaults};
use std::path::PathBuf;

/// Arguments of `ngd bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(flatten)]
    pub net: NetArgs,
    /// Methods to time, comma-separated.
    #[arg(long, default_value = "exact,block-diagonal", value_delimiter = ',')]
    pub methods: Vec<Method>,
    /// Backends to compare, comma-separated (default: the --backend one). `all` = every
    /// backend built into this binary.
    #[arg(long, value_delimiter = ',')]
    pub backends: Vec<String>,
    /// Timed repetitions per method (median reported; one warm-up step first).
    #[arg(long, default_value_t = 3)]
    pub repeats: usize,
    /// Damping ρ used by the timed steps.
    #[arg(long, default_value_t = defaults::DAMPING)]
    pub damping: f64,
    /// Write all measurements as JSON to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `ngd bench`.
pub fn bench(args: BenchArgs) -> Result<()> {
    if let Some(out) = &args.out {
        check_writable(out)?;
    }
    let data = args.net.load_data()?;
    let backends = bench_backends(&args)?;
    let opt = OptArgs {
        lr: None,
        damping: Some(args.damping),
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
            methods: args.methods.clone(),
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
        "damping": args.damping,
        "methods": args.methods.iter().map(|m| m.to_string()).collect::<Vec<_>>(),
        "threads": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    })
}
