//! Timing of one training step split into its phases (forward, Jacobian factors,
//! Gram + solve, update), for the benchmark command.

use crate::{DeviceSplit, Result, TrainConfig, network_config};
use ngd_data::Dataset;
use ngd_model::Device;
use ngd_optim::Method;
use serde::Serialize;
use std::time::Instant;

/// What to benchmark.
#[derive(Debug, Clone, Serialize)]
pub struct BenchConfig {
    /// The network and data options (method, lr and steps are ignored).
    pub train: TrainConfig,
    /// Methods to time.
    pub methods: Vec<Method>,
    /// Timed repetitions per method (the median is reported); one warm-up step runs first.
    pub repeats: usize,
}

/// Seconds spent in each phase of one step.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct PhaseTimes {
    /// Forward pass f(x) on the train set (with read-back).
    pub forward: f64,
    /// Jacobian factors h̃_{l−1}, δ_l from C forward + backward passes.
    pub factors: f64,
    /// g = N∂L/∂f, Gram matrices, f64 solve and dual-to-coefficient map.
    pub direction: f64,
    /// θ ← θ − ηΔθ on the device.
    pub update: f64,
    /// factors + direction + update (one training step; the forward is part of `factors`).
    pub step: f64,
}

/// Benchmark result of one method.
#[derive(Debug, Clone, Serialize)]
pub struct BenchRecord {
    /// Method name.
    pub method: String,
    /// Backend description.
    pub backend: String,
    /// Median phase times over the repetitions.
    pub median: PhaseTimes,
    /// Every repetition.
    pub runs: Vec<PhaseTimes>,
    /// Peak resident memory of the process after this method (bytes; Linux only).
    pub peak_memory_bytes: Option<u64>,
}

/// Times `repeats` steps (after one warm-up) of each method; the network is re-initialised
/// per method with the same seed.
pub fn bench_step(cfg: &BenchConfig, data: &Dataset, device: &Device) -> Result<Vec<BenchRecord>> {
    let train = DeviceSplit::new(&data.train, device);
    let targets = train.targets();
    let mut out = Vec::new();
    for &method in &cfg.methods {
        let mut model = network_config(&cfg.train, data).init(cfg.train.seed, device)?;
        // The training step itself: the optimizer's, at the paper's 1/α of the first batch.
        let mut ngd = cfg.train.ngd_config(method).init()?;
        let mut runs = Vec::new();
        for rep in 0..=cfg.repeats {
            let mut t = PhaseTimes::default();
            let start = Instant::now();
            let _ = train.outputs(&model);
            t.forward = start.elapsed().as_secs_f64();

            let stats = ngd.step(&mut model, train.x.clone(), targets.clone())?;
            let start = Instant::now();
            let _ = device.sync();
            t.factors = stats.seconds.forward_backward;
            t.direction = stats.seconds.curvature + stats.seconds.inversion;
            t.update = stats.seconds.update + start.elapsed().as_secs_f64();
            t.step = t.factors + t.direction + t.update;
            if rep > 0 {
                runs.push(t);
            }
        }
        out.push(BenchRecord {
            method: method.to_string(),
            backend: cfg.train.backend.clone(),
            median: median(&runs),
            runs,
            peak_memory_bytes: peak_memory_bytes(),
        });
    }
    Ok(out)
}

fn median(runs: &[PhaseTimes]) -> PhaseTimes {
    let pick = |f: fn(&PhaseTimes) -> f64| {
        let mut v: Vec<f64> = runs.iter().map(f).collect();
        v.sort_by(|a, b| a.total_cmp(b));
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    PhaseTimes {
        forward: pick(|t| t.forward),
        factors: pick(|t| t.factors),
        direction: pick(|t| t.direction),
        update: pick(|t| t.update),
        step: pick(|t| t.step),
    }
}

/// Resets the peak resident set size of this process to its current size (Linux
/// `/proc/self/clear_refs`), so that [`peak_memory_bytes`] measures what follows.
pub fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Peak resident set size of this process (VmHWM from /proc/self/status), if available.
pub fn peak_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
