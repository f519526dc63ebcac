//! `ngd isotropy`: the condition number and α of Θ̄(x, x) = J G⁻¹ Jᵀ / N (eq. 11) of each
//! method at initialisation vs width (Figure 3 of the paper; [`ngd_experiments::isotropy`]).

use crate::backend::Backend;
use crate::commands::write_json;
use anyhow::{Context, Result, bail};
use clap::Args;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use ngd_experiments::isotropy::{self, Entry, Inputs, IsotropyConfig, IsotropyResults};
use ngd_model::Activation;
use ngd_train::defaults;
use std::path::{Path, PathBuf};

/// Arguments of `ngd isotropy`.
#[derive(Args, Debug)]
pub struct IsotropyArgs {
    /// Methods, comma-separated: ntk (Θ itself) and any `--method` name (exact,
    /// block-diagonal, block-tri-diagonal, kfac, unit-wise, diagonal, quasi-diagonal, …).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "ntk,exact,block-diagonal,block-tri-diagonal,kfac,unit-wise,diagonal,quasi-diagonal"
    )]
    pub methods: Vec<String>,
    /// Hidden widths M, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "64,128,256,512,1024,2048,4096"
    )]
    pub widths: Vec<usize>,
    /// Depth L.
    #[arg(long, default_value_t = defaults::DEPTH)]
    pub depth: usize,
    /// Inputs: gaussian (i.i.d. N(0, 1) vectors scaled to unit norm, redrawn per seed) or mnist
    /// (the first N MNIST training samples of --classes; only the weights vary per seed).
    #[arg(
        long,
        default_value = "gaussian",
        value_parser = PossibleValuesParser::new(["gaussian", "mnist"])
            .map(|s| s.parse::<Inputs>().expect("a possible value"))
    )]
    pub inputs: Inputs,
    /// Input dimension M_0 of the Gaussian inputs (MNIST: 784).
    #[arg(long, default_value_t = 784)]
    pub input_dim: usize,
    /// MNIST classes (two: one output).
    #[arg(long, default_value = defaults::CLASSES)]
    pub classes: String,
    /// Number of samples N.
    #[arg(long, default_value_t = defaults::N_TRAIN)]
    pub n: usize,
    /// Number of seeds (initialisations 0..seeds; Gaussian inputs are redrawn with the same seed).
    #[arg(long, default_value_t = 5)]
    pub seeds: u64,
    /// Damping ρ ≥ 0 of every method (0: the pseudo-inverse limit).
    #[arg(long, default_value_t = defaults::DAMPING)]
    pub damping: f64,
    /// Weight variance σ_w².
    #[arg(long, default_value_t = defaults::SIGMA_W2)]
    pub sigma_w2: f64,
    /// Bias variance σ_b².
    #[arg(long, default_value_t = defaults::SIGMA_B2)]
    pub sigma_b2: f64,
    /// Activation: relu or tanh.
    #[arg(long, default_value_t = defaults::ACTIVATION)]
    pub activation: Activation,
    /// Compute backend of the forward/backward passes.
    #[arg(long, default_value = defaults::BACKEND)]
    pub backend: Backend,
    /// JSON output; the plot goes next to it with extension .svg.
    #[arg(long, default_value = "iso.json")]
    pub out: PathBuf,
    /// Compute nothing: redraw the .svg from the existing --out JSON (e.g. after merging the
    /// results of several runs into it).
    #[arg(long)]
    pub replot: bool,
}

/// `ngd isotropy`.
pub fn run(args: IsotropyArgs) -> Result<()> {
    let svg = args.out.with_extension("svg");
    if args.replot {
        let text = std::fs::read_to_string(&args.out)
            .with_context(|| format!("reading {}", args.out.display()))?;
        let results: IsotropyResults = serde_json::from_str(&text)
            .with_context(|| format!("parsing {}", args.out.display()))?;
        return save_chart(&results, &svg);
    }
    crate::commands::check_writable(&args.out)?;
    let device = args.backend.device()?;
    let cfg = IsotropyConfig {
        methods: args.methods.clone(),
        widths: args.widths.clone(),
        depth: args.depth,
        inputs: args.inputs,
        input_dim: args.input_dim,
        classes: args.classes.clone(),
        n: args.n,
        seeds: args.seeds,
        damping: args.damping,
        sigma_w2: args.sigma_w2,
        sigma_b2: args.sigma_b2,
        activation: args.activation,
    };
    let backend = args.backend.to_string();
    let results = isotropy::run_isotropy(&cfg, &backend, &device, &mut |line| eprintln!("{line}"))?;
    print_table(&results.results);
    // Through a JSON value, whose keys are sorted, as every isotropy JSON so far.
    write_json(&args.out, &serde_json::to_value(&results)?)?;
    save_chart(&results, &svg)?;
    if let Some(first) = results.all_failed() {
        bail!(
            "every (method, width) entry failed (written to {}); the first error: {first}",
            args.out.display()
        );
    }
    Ok(())
}

fn save_chart(results: &IsotropyResults, svg: &Path) -> Result<()> {
    isotropy::condition_chart(results)
        .save(svg)
        .with_context(|| format!("writing {}", svg.display()))?;
    eprintln!("wrote {}", svg.display());
    Ok(())
}

fn print_table(results: &[Entry]) {
    println!(
        "{:<20} {:>6} {:>5} {:>12} {:>10} {:>12} {:>10} {:>12} {:>12}",
        "method",
        "width",
        "seeds",
        "cond_mean",
        "cond_std",
        "alpha_mean",
        "alpha_std",
        "alpha_theory",
        "lambda_min"
    );
    let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4e}"));
    for r in results {
        let steps = r.relative_step_mean.as_ref().map_or(String::new(), |v| {
            let v: Vec<String> = v.iter().map(|x| format!("{x:.2e}")).collect();
            format!("  |ηΔθ_l|/|W_l| = [{}]", v.join(", "))
        });
        let error = r
            .error
            .as_ref()
            .map_or(String::new(), |e| format!("  error: {e}"));
        println!(
            "{:<20} {:>6} {:>5} {:>12} {:>10} {:>12} {:>10} {:>12} {:>12}{steps}{error}",
            r.method,
            r.width,
            r.seeds,
            f(r.condition_number_mean),
            f(r.condition_number_std),
            f(r.alpha_mean),
            f(r.alpha_std),
            f(r.alpha_theory_mean),
            f(r.eigenvalue_min_mean),
        );
    }
}
