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
    #[arg(long, requires = "batch_size")]
    pub lr: Option<f64>,
    /// Mini-batch steps timed per method after one warm-up step (mean reported); a multiple of
    /// K-FAC's intervals counts its statistics and inversions at their rate (the default, 50,
    /// is one for K-FAC's defaults on both networks: every 10 and 50 steps on the MLP, 5 and 50
    /// on the CNN).
    #[arg(long, default_value_t = 50)]
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
                crate::run_config::fit_config(&args.net, &args.minibatch, m, &opt, None, batch_size)
            }
            None => {
                let first_order = args.minibatch.without_ngd_options();
                let opt = OptArgs {
                    damping: None,
                    lr: None,
                    ..opt.clone()
                };
                crate::run_config::fit_config(&args.net, &first_order, m, &opt, None, batch_size)
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
    let mut rates = Vec::new();
    for backend in bench_backends(args)? {
        let device = backend.device()?;
        let gemm = GemmRates::measure(&configs[0], &data, &device);
        if let Some(g) = &gemm {
            let (b, d, m) = g.device_shape;
            println!(
                "{backend}: GEMM f32 [{b}×{d}]·[{d}×{m}] {:.1} GFLOP/s on the device, f64 {n}×{n} {:.1} GFLOP/s on the host",
                g.device_gflops,
                g.host_gflops,
                n = g.host_n
            );
        }
        let mut baseline = None;
        for cfg in &configs {
            let mut cfg = cfg.clone();
            cfg.backend = backend.to_string();
            let t = ngd_train::fit::time_steps(&cfg, &data, &device, args.steps)?;
            let ratio = t.ms_per_step / *baseline.get_or_insert(t.ms_per_step);
            let flops = gemm.as_ref().and_then(|g| g.achieved(&cfg, &data, &t));
            if let Some(a) = &flops {
                rates.push((backend.to_string(), t.optimizer.clone(), a.clone()));
            }
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
            all.push(serde_json::json!({
                "backend": backend.to_string(),
                "ratio": ratio,
                "timing": t,
                "gemm": gemm,
                "flops": flops,
            }));
        }
    }
    print_rates(&rates);
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
        "depth": args.net.shape.depth,
        "width": args.net.shape.width,
        "sigma_w2": args.net.shape.sigma_w2,
        "sigma_b2": args.net.shape.sigma_b2,
        "seed": args.net.seed,
        "repeats": args.repeats,
        "damping": args.damping.unwrap_or(defaults::DAMPING),
        "methods": args.methods.iter().map(|m| m.to_string()).collect::<Vec<_>>(),
        "threads": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    })
}

/// The plain matrix products a step's phases are measured against: an f32 product of the MLP's
/// largest layer at the batch size on the device, and an f64 product of its largest K-FAC
/// factor on the host (the inversions).
#[derive(Debug, Clone, serde::Serialize)]
struct GemmRates {
    /// [B × d]·[d × m] of the largest layer.
    device_shape: (usize, usize, usize),
    /// Its GFLOP/s (f32, on the device).
    device_gflops: f64,
    /// n of the host's n × n product.
    host_n: usize,
    /// Its GFLOP/s (f64, faer).
    host_gflops: f64,
}

/// A step's model flops ([`ngd_train::fit::step_flops`]) against its measured phases.
#[derive(Debug, Clone, serde::Serialize)]
struct Achieved {
    /// Flops per step by phase.
    flops: ngd_train::fit::PhaseFlops,
    /// GFLOP/s achieved by the forward/backward, curvature and inversion phases.
    gflops: [f64; 3],
    /// The flop floor: every phase at its product's rate (ms).
    floor_ms: f64,
    /// The measured step over the floor.
    over_floor: f64,
}

impl GemmRates {
    /// `None` for the CNN (the flop model covers the MLP).
    fn measure(
        cfg: &ngd_train::fit::FitConfig,
        data: &ngd_data::Holdout,
        device: &ngd_model::Device,
    ) -> Option<Self> {
        let layers = ngd_train::fit::mlp_layers(cfg, data.train.dim, data.classes)?;
        let &(d, m) = layers.iter().max_by_key(|(d, m)| d * m)?;
        let host_n = layers.iter().map(|&(d, m)| d.max(m)).max()?;
        let device_shape = (cfg.schedule.batch_size, d - 1, m);
        Some(Self {
            device_shape,
            device_gflops: ngd_train::fit::device_gemm_gflops(device, device_shape, 20),
            host_n,
            host_gflops: ngd_train::fit::host_gemm_gflops(host_n, 5),
        })
    }

    fn achieved(
        &self,
        cfg: &ngd_train::fit::FitConfig,
        data: &ngd_data::Holdout,
        t: &ngd_train::fit::StepTiming,
    ) -> Option<Achieved> {
        let layers = ngd_train::fit::mlp_layers(cfg, data.train.dim, data.classes)?;
        let flops = ngd_train::fit::step_flops(cfg, &layers)?;
        let p = &t.ms_per_phase;
        let rate = |f: f64, ms: f64| if ms > 0.0 { f / ms / 1e6 } else { 0.0 };
        let floor_ms = (flops.forward_backward + flops.curvature) / self.device_gflops / 1e6
            + flops.inversion / self.host_gflops / 1e6;
        Some(Achieved {
            flops,
            gflops: [
                rate(flops.forward_backward, p.forward_backward),
                rate(flops.curvature, p.curvature),
                rate(flops.inversion, p.inversion),
            ],
            floor_ms,
            over_floor: t.ms_per_step / floor_ms,
        })
    }
}

fn print_rates(rates: &[(String, String, Achieved)]) {
    if rates.is_empty() {
        return;
    }
    println!(
        "\n{:<10} {:<8} {:>9} {:>9} {:>9} {:>9} {:>10}  (GFLOP/s by phase; floor: every phase at its GEMM's rate)",
        "backend", "method", "fwd_bwd", "curvature", "inversion", "floor_ms", "step/floor"
    );
    for (backend, method, a) in rates {
        println!(
            "{:<10} {:<8} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>10.2}",
            backend, method, a.gflops[0], a.gflops[1], a.gflops[2], a.floor_ms, a.over_floor
        );
    }
}
