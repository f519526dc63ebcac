//! `ngd isotropy`: the coefficient matrix Θ̄(x, x) = J G⁻¹ Jᵀ / N (eq. 11) of each method at
//! initialisation, its eigenvalues, condition number λ_max/λ_min and α = mean eigenvalue, vs
//! width (Figure 3 of the paper; MATH.md §4). `ntk` is Θ itself (the GD "curvature").
//!
//! Θ̄ is computed column by column through the factors exactly as
//! [`ngd_optim::coefficient_matrix`] does (column k = J Δθ for the residual e_k), with the
//! layer input Grams H̃_l = h̃_{l−1}h̃_{l−1}ᵀ formed once per (width, seed) instead of once per
//! column — the same arithmetic, without 3·CN redundant N × N × M products.
//!
//! Every G here is symmetric (F + ρI, its blocks, K-FAC's Kronecker factors, unit blocks,
//! diagonals), so Θ̄ = J G⁻¹ Jᵀ/N is symmetric up to rounding; the eigenvalues are those of
//! (Θ̄ + Θ̄ᵀ)/2, and the largest relative asymmetry ‖Θ̄ − Θ̄ᵀ‖_F/‖Θ̄‖_F seen is reported.

use crate::backend::Backend;
use crate::commands::write_json;
use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use faer::Mat;
use ngd_model::{Activation, Factors, MlpConfig};
use ngd_optim::{Curvature, LayerStep, Method};
use ngd_plot::{LineChart, Scale, Series, Style};
use ngd_train::defaults;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;

/// Where the N inputs come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Inputs {
    /// i.i.d. N(0, 1) vectors scaled to unit norm (`gaussian_inputs(n, dim, seed)`), redrawn per seed.
    Gaussian,
    /// The first N MNIST training samples of --classes (fixed; only the weights vary per seed).
    Mnist,
}

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
    /// Inputs: gaussian or mnist.
    #[arg(long, value_enum, default_value = "gaussian")]
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

/// Θ̄ statistics of one method at one (width, seed).
#[derive(Debug, Clone, Serialize)]
pub struct SeedResult {
    /// Seed.
    pub seed: u64,
    /// λ_max/λ_min of the symmetrised Θ̄ (∞ if λ_min ≤ 0).
    pub condition_number: f64,
    /// α̂ = mean eigenvalue = tr Θ̄ / CN.
    pub alpha: f64,
    /// λ_min.
    pub eigenvalue_min: f64,
    /// λ_max.
    pub eigenvalue_max: f64,
    /// ‖Θ̄ − Θ̄ᵀ‖_F / ‖Θ̄‖_F before symmetrising.
    pub asymmetry: f64,
    /// The method's theoretical α (`Curvature::alpha`), if any.
    pub alpha_theory: Option<f64>,
    /// MNIST inputs only: per layer l, ‖η Δθ_l‖_F / ‖W_l‖_F for the first step at η = 1/α̂
    /// (α̂ = mean eigenvalue; NTK: 1/λ_max), Δθ = the method's step for e₀ = f₀ − y.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relative_step: Option<Vec<f64>>,
    /// Seconds to build Θ̄.
    pub seconds: f64,
}

/// One (method, width) entry of the results: mean ± std over the seeds that succeeded.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// Method name (`ntk` = Θ).
    pub method: String,
    /// Hidden width M.
    pub width: usize,
    /// Number of seeds that succeeded.
    pub seeds: usize,
    /// Mean condition number.
    pub condition_number_mean: Option<f64>,
    /// Std (population) of the condition number.
    pub condition_number_std: Option<f64>,
    /// Mean α̂ (mean eigenvalue).
    pub alpha_mean: Option<f64>,
    /// Std of α̂.
    pub alpha_std: Option<f64>,
    /// Mean λ_min.
    pub eigenvalue_min_mean: Option<f64>,
    /// Mean λ_max.
    pub eigenvalue_max_mean: Option<f64>,
    /// Mean of the method's theoretical α, if it has one.
    pub alpha_theory_mean: Option<f64>,
    /// Largest asymmetry seen.
    pub asymmetry_max: Option<f64>,
    /// Mean over seeds of [`SeedResult::relative_step`] (MNIST inputs only), per layer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relative_step_mean: Option<Vec<f64>>,
    /// Why seeds failed (first failure), if any did.
    pub error: Option<String>,
    /// Per-seed values.
    pub per_seed: Vec<SeedResult>,
}

/// An entry of this command's `--methods`: the NTK itself (Θ̄ = Θ, i.e. GD) or a [`Method`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MethodEntry {
    /// Θ̄ = Θ = JJᵀ/N.
    Ntk,
    /// Θ̄ = JG⁻¹Jᵀ/N of an NGD method.
    Method(Method),
}

impl std::str::FromStr for MethodEntry {
    type Err = String;
    fn from_str(name: &str) -> std::result::Result<Self, String> {
        if name == "ntk" {
            return Ok(MethodEntry::Ntk);
        }
        name.parse::<Method>()
            .map(MethodEntry::Method)
            .map_err(|e| format!("method '{name}' not available in this build ({e})"))
    }
}

impl MethodEntry {
    /// Whether `name` is the NTK entry.
    fn is_ntk(name: &str) -> bool {
        name.parse::<MethodEntry>() == Ok(MethodEntry::Ntk)
    }
}

/// The curvature of an entry (`ntk` is GD's).
fn curvature_for(name: &str, damping: f64) -> std::result::Result<Box<dyn Curvature>, String> {
    let method = match name.parse::<MethodEntry>()? {
        MethodEntry::Ntk => Method::Gd,
        MethodEntry::Method(m) => m,
    };
    method.curvature(damping).map_err(|e| e.to_string())
}

/// Statistics of one Θ̄.
fn analyse(theta_bar: &Mat<f64>) -> Result<(f64, f64, f64, f64, f64)> {
    let cn = theta_bar.nrows();
    let sym = Mat::from_fn(cn, cn, |i, j| 0.5 * (theta_bar[(i, j)] + theta_bar[(j, i)]));
    let anti = Mat::from_fn(cn, cn, |i, j| 0.5 * (theta_bar[(i, j)] - theta_bar[(j, i)]));
    let norm = theta_bar.norm_l2();
    let asymmetry = 2.0 * anti.norm_l2() / norm.max(f64::MIN_POSITIVE);
    if !norm.is_finite() {
        bail!("Θ̄ has non-finite entries");
    }
    let values = sym
        .self_adjoint_eigenvalues(faer::Side::Lower)
        .map_err(|e| anyhow::anyhow!("eigenvalues of Θ̄ failed: {e:?}"))?;
    let (lo, hi) = (values[0], values[cn - 1]);
    let alpha = values.iter().sum::<f64>() / cn as f64;
    let cond = if lo > 0.0 { hi / lo } else { f64::INFINITY };
    Ok((cond, alpha, lo, hi, asymmetry))
}

fn mean_vectors(rows: impl Iterator<Item = Vec<f64>>) -> Option<Vec<f64>> {
    let rows: Vec<Vec<f64>> = rows.collect();
    let first = rows.first()?;
    Some(
        (0..first.len())
            .map(|j| rows.iter().map(|r| r[j]).sum::<f64>() / rows.len() as f64)
            .collect(),
    )
}

/// ‖η Δθ_l‖_F / ‖W_l‖_F per layer for the step on e₀ = f₀ − y at η = 1/`scale`.
/// ‖Δθ_l‖²_F = tr(Rᵀ H̃ R) for dual coefficients R (Δθ_l = h̃ᵀR), ‖S‖²_F for a dense step.
fn relative_step(
    curvature: &dyn Curvature,
    factors: &Factors,
    grams: &[Mat<f64>],
    model: &ngd_model::Mlp,
    train: &ngd_data::Split,
    scale: f64,
) -> std::result::Result<Vec<f64>, String> {
    let e0 = ngd_train::residual(&factors.outputs, train);
    let direction = curvature
        .direction(factors, &e0)
        .map_err(|e| e.to_string())?;
    Ok(direction
        .layers
        .iter()
        .enumerate()
        .map(|(l, step)| {
            let norm2 = match step {
                LayerStep::Coefficients(r) => {
                    let hr = &grams[l] * r;
                    (0..r.nrows())
                        .flat_map(|i| (0..r.ncols()).map(move |j| (i, j)))
                        .map(|(i, j)| hr[(i, j)] * r[(i, j)])
                        .sum::<f64>()
                }
                LayerStep::Dense(s) => s.squared_norm_l2(),
            };
            let w = ngd_model::tensor_to_mat(model.weights[l].val());
            norm2.max(0.0).sqrt() / scale / w.norm_l2()
        })
        .collect())
}

fn mean_std(v: &[f64]) -> (Option<f64>, Option<f64>) {
    if v.is_empty() {
        return (None, None);
    }
    let m = v.iter().sum::<f64>() / v.len() as f64;
    let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / v.len() as f64;
    (Some(m), Some(var.sqrt()))
}

/// `ngd isotropy`.
pub fn run(args: IsotropyArgs) -> Result<()> {
    if args.replot {
        return replot(&args);
    }
    if args.seeds == 0 || args.widths.is_empty() || args.methods.is_empty() || args.n == 0 {
        bail!("need at least one seed, width, method and sample");
    }
    crate::commands::check_writable(&args.out)?;
    let device = args.backend.device()?;
    let mnist = match args.inputs {
        Inputs::Mnist => {
            let classes = ngd_data::parse_classes(ngd_data::DatasetName::Mnist, &args.classes)?;
            if classes.len() != 2 {
                bail!("isotropy uses one output: give two --classes");
            }
            let cfg = ngd_data::DataConfig {
                dataset: ngd_data::DatasetName::Mnist,
                classes,
                n_train: args.n,
                n_test: 1,
            };
            Some(ngd_data::load(&cfg)?)
        }
        Inputs::Gaussian => None,
    };
    let dim = mnist.as_ref().map_or(args.input_dim, |d| d.train.dim);
    let n = mnist.as_ref().map_or(args.n, |d| d.train.n);
    eprintln!(
        "isotropy: {:?} inputs N={n} M0={dim} L={} {:?} σ_w²={} σ_b²={} ρ={} seeds={} methods={}",
        args.inputs,
        args.depth,
        args.activation,
        args.sigma_w2,
        args.sigma_b2,
        args.damping,
        args.seeds,
        args.methods.join(",")
    );
    // per (method index, width index): successes and first error
    let mut per: Vec<Vec<(Vec<SeedResult>, Option<String>)>> =
        vec![vec![(Vec::new(), None); args.widths.len()]; args.methods.len()];
    for (wi, &width) in args.widths.iter().enumerate() {
        let config = MlpConfig::new(dim, width, args.depth, 1)
            .with_variances(args.sigma_w2, args.sigma_b2)
            .with_activation(args.activation);
        for seed in 0..args.seeds {
            let x = match &mnist {
                Some(d) => d.train.x.clone(),
                None => ngd_data::gaussian_inputs(n, dim, seed),
            };
            let model = config.init(seed, &device)?;
            let factors = model.factors(ngd_model::tensor_from_rows(&x, n, dim, &device));
            let grams: Vec<Mat<f64>> = factors.layers.iter().map(|l| l.input_gram()).collect();
            let mut line = format!("M={width:>5} seed={seed}:");
            for (mi, name) in args.methods.iter().enumerate() {
                let start = Instant::now();
                let outcome = curvature_for(name, args.damping).and_then(|c| {
                    let alpha_theory = c.alpha(&factors);
                    let tb = ngd_optim::coefficient_matrix(c.as_ref(), &factors)
                        .map_err(|e| e.to_string())?;
                    let stats = analyse(&tb).map_err(|e| e.to_string())?;
                    let rel = match &mnist {
                        Some(d) => {
                            let scale = if MethodEntry::is_ntk(name) {
                                stats.3
                            } else {
                                stats.1
                            };
                            Some(relative_step(
                                c.as_ref(),
                                &factors,
                                &grams,
                                &model,
                                &d.train,
                                scale,
                            )?)
                        }
                        None => None,
                    };
                    Ok((stats, alpha_theory, rel))
                });
                let seconds = start.elapsed().as_secs_f64();
                let slot = &mut per[mi][wi];
                match outcome {
                    Ok(((cond, alpha, lo, hi, asymmetry), alpha_theory, relative_step)) => {
                        line += &format!(" {name}: κ={cond:.3e} α={alpha:.4} ({seconds:.1}s);");
                        slot.0.push(SeedResult {
                            seed,
                            condition_number: cond,
                            alpha,
                            eigenvalue_min: lo,
                            eigenvalue_max: hi,
                            asymmetry,
                            alpha_theory,
                            relative_step,
                            seconds,
                        });
                    }
                    Err(err) => {
                        line += &format!(" {name}: error;");
                        slot.1.get_or_insert(err);
                    }
                }
            }
            eprintln!("{line}");
        }
    }
    let mut results = Vec::new();
    for (mi, name) in args.methods.iter().enumerate() {
        for (wi, &width) in args.widths.iter().enumerate() {
            let (ok, err) = &per[mi][wi];
            let get = |f: fn(&SeedResult) -> f64| ok.iter().map(f).collect::<Vec<_>>();
            let (cm, cs) = mean_std(&get(|s| s.condition_number));
            let (am, asd) = mean_std(&get(|s| s.alpha));
            let theory: Vec<f64> = ok.iter().filter_map(|s| s.alpha_theory).collect();
            results.push(Entry {
                method: name.clone(),
                width,
                seeds: ok.len(),
                condition_number_mean: cm,
                condition_number_std: cs,
                alpha_mean: am,
                alpha_std: asd,
                eigenvalue_min_mean: mean_std(&get(|s| s.eigenvalue_min)).0,
                eigenvalue_max_mean: mean_std(&get(|s| s.eigenvalue_max)).0,
                alpha_theory_mean: mean_std(&theory).0,
                asymmetry_max: ok.iter().map(|s| s.asymmetry).reduce(f64::max),
                relative_step_mean: mean_vectors(ok.iter().filter_map(|s| s.relative_step.clone())),
                error: err.clone(),
                per_seed: ok.clone(),
            });
        }
    }
    print_table(&results);
    let config = serde_json::json!({
        "methods": args.methods,
        "widths": args.widths,
        "depth": args.depth,
        "inputs": args.inputs,
        "input_dim": dim,
        "classes": if mnist.is_some() { Some(args.classes.clone()) } else { None },
        "n": n,
        "seeds": args.seeds,
        "damping": args.damping,
        "sigma_w2": args.sigma_w2,
        "sigma_b2": args.sigma_b2,
        "activation": args.activation,
        "backend": args.backend.to_string(),
        "eigenvalues_of": "(Θ̄ + Θ̄ᵀ)/2; Θ̄ = J G⁻¹ Jᵀ/N is symmetric for every method up to rounding (see asymmetry_max)",
    });
    let doc = serde_json::json!({ "config": config, "results": results });
    write_json(&args.out, &doc)?;
    let svg = args.out.with_extension("svg");
    let title = chart_title(&config);
    let points: Vec<(String, usize, Option<f64>)> = results
        .iter()
        .map(|r| (r.method.clone(), r.width, r.condition_number_mean))
        .collect();
    let chart = chart(title, &args.methods, &points);
    chart
        .save(&svg)
        .with_context(|| format!("writing {}", svg.display()))?;
    eprintln!("wrote {}", svg.display());
    if results.iter().all(|r| r.seeds == 0) {
        let first = results
            .iter()
            .find_map(|r| r.error.as_deref())
            .unwrap_or("");
        bail!(
            "every (method, width) entry failed (written to {}); the first error: {first}",
            args.out.display()
        );
    }
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
        println!(
            "{:<20} {:>6} {:>5} {:>12} {:>10} {:>12} {:>10} {:>12} {:>12}{}",
            r.method,
            r.width,
            r.seeds,
            f(r.condition_number_mean),
            f(r.condition_number_std),
            f(r.alpha_mean),
            f(r.alpha_std),
            f(r.alpha_theory_mean),
            f(r.eigenvalue_min_mean),
            r.relative_step_mean
                .as_ref()
                .map_or(String::new(), |v| format!(
                    "  |ηΔθ_l|/|W_l| = [{}]",
                    v.iter()
                        .map(|x| format!("{x:.2e}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                + &r.error
                    .as_ref()
                    .map_or(String::new(), |e| format!("  error: {e}"))
        );
    }
}

/// The plot title from the JSON `config`.
fn chart_title(config: &serde_json::Value) -> String {
    format!(
        "κ(Θ̄) at init: {} inputs, N = {}, L = {}, {}, ρ = {}",
        config["inputs"].as_str().unwrap_or("?"),
        config["n"],
        config["depth"],
        config["activation"].as_str().unwrap_or("?"),
        config["damping"],
    )
}

/// `--replot`: the chart from an existing JSON.
fn replot(args: &IsotropyArgs) -> Result<()> {
    let text = std::fs::read_to_string(&args.out)
        .with_context(|| format!("reading {}", args.out.display()))?;
    let doc: serde_json::Value = serde_json::from_str(&text)?;
    let results = doc["results"]
        .as_array()
        .context("no results in the JSON")?;
    let mut methods: Vec<String> = Vec::new();
    let mut points = Vec::new();
    for r in results {
        let method = r["method"]
            .as_str()
            .context("entry without method")?
            .to_string();
        if !methods.contains(&method) {
            methods.push(method.clone());
        }
        let width = r["width"].as_u64().context("entry without width")? as usize;
        points.push((method, width, r["condition_number_mean"].as_f64()));
    }
    let svg = args.out.with_extension("svg");
    chart(chart_title(&doc["config"]), &methods, &points)
        .save(&svg)
        .with_context(|| format!("writing {}", svg.display()))?;
    eprintln!("wrote {}", svg.display());
    Ok(())
}

/// Log-log condition number vs width, one line per method.
fn chart(title: String, methods: &[String], results: &[(String, usize, Option<f64>)]) -> LineChart {
    let mut chart = LineChart::new(title, "width M", "λ_max / λ_min of Θ̄");
    chart.x_scale = Scale::Log10;
    chart.y_scale = Scale::Log10;
    // Room above the data for the legend (top right): the largest κ sits at mid height.
    let top = results
        .iter()
        .filter_map(|r| r.2)
        .filter(|c| c.is_finite())
        .fold(1.0f64, f64::max);
    chart.y_range = Some((0.5, (top * top * 2.0).max(10.0)));
    chart.width = 720;
    chart.height = 560;
    for (i, name) in methods.iter().enumerate() {
        let points: Vec<(f64, f64)> = results
            .iter()
            .filter(|r| &r.0 == name)
            .filter_map(|r| r.2.map(|c| (r.1 as f64, c)))
            .filter(|(_, c)| c.is_finite())
            .collect();
        if points.is_empty() {
            continue;
        }
        let label = if MethodEntry::is_ntk(name) {
            "NTK (Θ, GD)".to_string()
        } else {
            name.clone()
        };
        chart.series.push(
            Series::new(label, points, Style::line_and_markers())
                .with_color(ngd_plot::palette_color(i)),
        );
    }
    chart
}

#[cfg(test)]
mod tests {
    use super::*;
    use ngd_model::Device;

    /// Exact NGD gives κ = 1, α = 1 through the analysis of its Θ̄.
    #[test]
    fn exact_ngd_is_isotropic_through_the_analysis() {
        let (n, dim, width) = (6, 10, 16);
        let device = Device::flex();
        let model = MlpConfig::new(dim, width, 3, 1).init(3, &device).unwrap();
        let x = ngd_data::gaussian_inputs(n, dim, 3);
        let factors = model.factors(ngd_model::tensor_from_rows(&x, n, dim, &device));
        let exact = curvature_for("exact", 0.0).unwrap();
        let tb = ngd_optim::coefficient_matrix(exact.as_ref(), &factors).unwrap();
        let (cond, alpha, ..) = analyse(&tb).unwrap();
        assert!(
            (cond - 1.0).abs() < 1e-8 && (alpha - 1.0).abs() < 1e-8,
            "{cond} {alpha}"
        );
    }

    #[test]
    fn unknown_method_is_an_error_not_a_panic() {
        let err = curvature_for("no-such-method", 0.0).err().unwrap();
        assert!(err.contains("not available"), "{err}");
    }
}
