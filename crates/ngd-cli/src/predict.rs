//! `ngd predict`: test accuracy and loss of the converged function-space predictor f_∞(x')
//! (MATH.md §4, paper Section 4.4 and Fig. 2) per method, with the kernel-regression mean;
//! the pipeline is [`ngd_experiments::predict`].

use crate::commands::{NetArgs, write_json};
use anyhow::{Context, Result, bail};
use clap::Args;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use ngd_experiments::predict::{self, KernelKind, PredictConfig, PredictResults};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Arguments of `ngd predict`.
#[derive(Args, Debug)]
pub struct PredictArgs {
    #[command(flatten)]
    pub net: NetArgs,
    /// Predictors, comma-separated: exact, block-diagonal, block-tri-diagonal, kfac (C = 1; the
    /// K-FAC that `ngd train` runs, α = N(L−1)+1) and kfac-printed (C = 1; eq. 21 as printed,
    /// α = N·L, the authors' form).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "exact,block-diagonal,block-tri-diagonal,kfac"
    )]
    pub methods: Vec<String>,
    /// Kernels: analytic (infinite width, ReLU only) or empirical (each seed's network,
    /// accumulated one output at a time; runs needing over 16 GiB are refused).
    #[arg(
        long,
        default_value = "analytic",
        value_parser = PossibleValuesParser::new(["analytic", "empirical"])
            .map(|s| s.parse::<KernelKind>().expect("a possible value"))
    )]
    pub kernel: KernelKind,
    /// Number of initialisations: seeds --seed, --seed+1, …
    #[arg(long, default_value_t = 10)]
    pub seeds: usize,
    /// Samples per forward/backward chunk on the device (bounds memory).
    #[arg(long, default_value_t = 1000)]
    pub chunk: usize,
    /// Forster-transform the inputs first (on their principal span, see `ngd train --forster`);
    /// K-FAC then pseudo-inverts its first input factor through the inputs.
    #[arg(long)]
    pub forster: bool,
    /// Write the results as JSON to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Draw the test accuracy per method (mean ± std, kernel regression as an open circle,
    /// Fig. 2's style) as SVG to this file: of this run, or of the --plot-from JSONs.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Only plot: earlier `ngd predict --out` JSONs (comma-separated), one panel each; nothing
    /// is computed.
    #[arg(long, value_delimiter = ',', requires = "plot")]
    pub plot_from: Vec<PathBuf>,
}

/// Draws Fig. 2's chart of `records` to `path`.
fn plot(records: &[PredictResults], path: &Path) -> Result<()> {
    predict::accuracy_chart(records)
        .save(path)
        .with_context(|| format!("writing {}", path.display()))?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

/// `ngd predict`.
pub fn run(args: PredictArgs) -> Result<()> {
    if !args.plot_from.is_empty() {
        let records = args
            .plot_from
            .iter()
            .map(|p| {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))?;
                serde_json::from_str(&text).with_context(|| format!("parsing {}", p.display()))
            })
            .collect::<Result<Vec<PredictResults>>>()?;
        return plot(&records, args.plot.as_deref().expect("clap: requires plot"));
    }
    let t0 = Instant::now();
    let log = |msg: &str| eprintln!("[{:>8.1}s] predict: {msg}", t0.elapsed().as_secs_f64());
    if args.plot.is_some() && args.out.is_none() {
        bail!("--plot needs --out (or --plot-from)");
    }
    if let Some(out) = &args.out {
        crate::commands::check_writable(out)?;
    }
    let cfg = PredictConfig {
        network: args.net.network(),
        methods: args.methods.clone(),
        kernel: args.kernel,
        seeds: args.seeds,
        chunk: args.chunk,
        backend: args.net.backend.to_string(),
        forster: args.forster,
    };
    cfg.validate()?;
    let mut data = args.net.load_data()?;
    if args.forster {
        crate::commands::apply_forster(&mut data)?;
    }
    let device = args.net.backend.device()?;
    let mut results = predict::run_predictions(&cfg, &data, &device, &mut |m| log(m))?;
    println!(
        "{:<20} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "method", "kr_acc", "kr_loss", "acc_mean", "acc_std", "loss_mean"
    );
    for (name, r) in results.in_order() {
        let (kr, c) = (&r.kernel_regression, &r.converged);
        println!(
            "{:<20} {:>10.4} {:>10.4e} {:>10.4} {:>10.4} {:>10.4e}",
            name,
            kr.test_accuracy,
            kr.test_loss,
            c.test_accuracy_mean,
            c.test_accuracy_std,
            c.test_loss_mean
        );
    }
    let total = t0.elapsed().as_secs_f64();
    results.timing.total_seconds = total;
    log(&format!("total {total:.1}s"));
    if let Some(out) = &args.out {
        // Through a JSON value, whose keys are sorted, as every predict JSON so far.
        let doc = serde_json::to_value(&results)?;
        write_json(out, &doc).context("writing the predict JSON")?;
        if let Some(p) = &args.plot {
            plot(std::slice::from_ref(&results), p)?;
        }
    }
    Ok(())
}
