//! `ngd predict`: test accuracy and loss of the converged function-space predictor f_∞(x')
//! (MATH.md §4, paper Section 4.4 and Fig. 2) for exact, block-diagonal, block tri-diagonal
//! NGD and K-FAC, with f_0 from finite-width networks of several seeds, plus the
//! kernel-regression mean (f_0 = 0).

use crate::commands::{NetArgs, write_json};
use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use faer::Mat;
use ngd_data::{Dataset, Split};
use ngd_kernels::{
    AnalyticConfig, FunctionSpace, KernelSet, LayerKernels, Predictor, relu_layer_kernels_select,
    relu_layer_kernels_sym_select,
};
use ngd_model::{Activation, Device, Mlp, MlpConfig};
use ngd_optim::Method;
use ngd_train::test_theory::{
    empirical_kernels_by_output, from_rows, row_chunks, split_factor_bytes, to_rows,
};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Instant;

/// Which kernels the predictors use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum KernelKind {
    /// Infinite-width ReLU kernels (MATH.md §5): one factorisation shared by all seeds.
    Analytic,
    /// Each seed's own finite-width network at initialisation (Jacobian factors, MATH.md §2).
    Empirical,
}

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
    #[arg(long, value_enum, default_value = "analytic")]
    pub kernel: KernelKind,
    /// Number of initialisations: seeds --seed, --seed+1, …
    #[arg(long, default_value_t = 10)]
    pub seeds: usize,
    /// Samples per forward/backward chunk on the device (bounds memory).
    #[arg(long, default_value_t = 1000)]
    pub chunk: usize,
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

/// Fig. 2's panel title of one predict JSON.
fn panel_title(doc: &Value) -> String {
    let cfg = &doc["config"];
    let dataset = match cfg["dataset"].as_str().unwrap_or("") {
        "mnist" => "MNIST",
        "cifar10" => "CIFAR-10",
        other => other,
    };
    let names: Vec<&str> = cfg["class_names"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    let classes = if names.len() == 2 {
        format!("{} vs {}", names[0], names[1])
    } else {
        format!("{} classes", names.len())
    };
    format!("{dataset} {classes}")
}

/// One panel per predict JSON: test accuracy per method, f_∞ mean ± std over seeds and the
/// kernel-regression mean as the open circle.
pub fn plot(docs: &[Value], path: &std::path::Path) -> Result<()> {
    use ngd_plot::{ErrorBarChart, ErrorBarPanel, ErrorBarPoint};
    let mut panels = Vec::new();
    for doc in docs {
        let mut panel = ErrorBarPanel::new(panel_title(doc), "test accuracy");
        let methods = doc["methods"]
            .as_object()
            .context("predict JSON without 'methods'")?;
        for (key, label) in [
            (Method::Exact.name(), "exact"),
            (Method::BlockDiagonal.name(), "block diag."),
            (Method::BlockTriDiagonal.name(), "block tri-diag."),
            (Predictor::Kfac.name(), "K-FAC"),
            (Predictor::KfacPrinted.name(), "K-FAC, eq. 21"),
        ] {
            let Some(m) = methods.get(key) else {
                continue;
            };
            let c = &m["converged"];
            let mean = c["test_accuracy_mean"]
                .as_f64()
                .context("test_accuracy_mean")?;
            let std = c["test_accuracy_std"].as_f64().unwrap_or(0.0);
            let mut p = ErrorBarPoint::new(label, mean, std);
            if let Some(kr) = m["kernel_regression"]["test_accuracy"].as_f64() {
                p = p.with_extra(kr);
            }
            panel = panel.with_point(p);
        }
        // Head-room above the points for the legend.
        let (lo, hi) = panel
            .points
            .iter()
            .flat_map(|p| {
                [p.mean - p.std.max(0.0), p.mean + p.std.max(0.0)]
                    .into_iter()
                    .chain(p.extra)
            })
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
                (l.min(v), h.max(v))
            });
        if lo.is_finite() && hi.is_finite() {
            let span = (hi - lo).max(0.005);
            panel.y_range = Some((lo - 0.2 * span, hi + 0.9 * span));
        }
        panels.push(panel);
    }
    let mut chart = ErrorBarChart::new(panels);
    chart.mean_label = "f_∞, mean ± std over seeds".into();
    chart.extra_label = "kernel regression".into();
    chart.width = 420 * docs.len().max(1) as u32;
    chart
        .save(path)
        .with_context(|| format!("writing {}", path.display()))?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

/// One predictor of the command.
struct MethodSpec {
    name: &'static str,
    predictor: Predictor,
}

fn parse_methods(names: &[String], depth: usize, outputs: usize) -> Result<Vec<MethodSpec>> {
    let mut out = Vec::new();
    for name in names {
        let name = name.trim();
        if name == Predictor::KfacPrinted.name() {
            if outputs != 1 {
                bail!("kfac-printed: eq. 21 is only derived for one output (two classes)");
            }
            if out.iter().any(|m: &MethodSpec| m.name == name) {
                bail!("predictor '{name}' given twice");
            }
            out.push(MethodSpec {
                name: Predictor::KfacPrinted.name(),
                predictor: Predictor::KfacPrinted,
            });
            continue;
        }
        let method: Method = name.parse()?;
        let predictor = match method {
            Method::Gd => None, // f_∞ of GD is the exact one; its f_t needs a step count
            Method::Kfac if outputs != 1 => bail!(
                "kfac: the K-FAC predictor (eq. 21) is only derived for one output (two \
                 classes); these {outputs}-class targets need exact, block-diagonal or \
                 block-tri-diagonal"
            ),
            _ => Predictor::for_method(method, depth, None),
        };
        let Some(predictor) = predictor else {
            bail!(
                "no converged-predictor for '{method}' (expected exact, block-diagonal, \
                 block-tri-diagonal, kfac)"
            );
        };
        let name = method.name();
        if out.iter().any(|m: &MethodSpec| m.name == name) {
            bail!("predictor '{name}' given twice");
        }
        out.push(MethodSpec { name, predictor });
    }
    if out.is_empty() {
        bail!("no predictor given (--methods)");
    }
    Ok(out)
}

/// Per-method accumulated results.
struct MethodResult {
    name: &'static str,
    predictor_used: &'static str,
    alpha: Option<f64>,
    /// Kernel-regression outputs (N'×C), summed over kernels (averaged at the end).
    kr_sum: Mat<f64>,
    kr_count: usize,
    /// (seed, loss, accuracy) of f_∞.
    per_seed: Vec<(u64, f64, f64)>,
    seconds: f64,
}

/// `ngd predict`.
pub fn run(args: PredictArgs) -> Result<()> {
    if !args.plot_from.is_empty() {
        let docs = args
            .plot_from
            .iter()
            .map(|p| {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))?;
                serde_json::from_str(&text).with_context(|| format!("parsing {}", p.display()))
            })
            .collect::<Result<Vec<Value>>>()?;
        return plot(&docs, args.plot.as_deref().expect("clap: requires plot"));
    }
    let t0 = Instant::now();
    let log = |msg: String| eprintln!("[{:>8.1}s] predict: {msg}", t0.elapsed().as_secs_f64());
    if args.plot.is_some() && args.out.is_none() {
        bail!("--plot needs --out (or --plot-from)");
    }
    if args.seeds == 0 {
        bail!("--seeds must be at least 1");
    }
    if let Some(out) = &args.out {
        crate::commands::check_writable(out)?;
    }
    if args.kernel == KernelKind::Analytic && args.net.activation != Activation::Relu {
        bail!(
            "--kernel analytic has closed forms for ReLU only (MATH.md §5); use --activation relu \
             or --kernel empirical"
        );
    }
    let data = args.net.load_data()?;
    let c_out = data.outputs;
    let depth = args.net.depth;
    let methods = parse_methods(&args.methods, depth, c_out)?;
    let device = args.net.backend.device()?;
    let (n, n_test, dim) = (data.train.n, data.test.n, data.train.dim);
    log(format!(
        "{} classes {:?} N={n} N'={n_test} L={depth} M={} C={c_out} kernel={:?} seeds={} backend={} ({})",
        args.net.dataset,
        data.class_names,
        args.net.width,
        args.kernel,
        args.seeds,
        args.net.backend,
        data.source
    ));
    let net_cfg = MlpConfig::new(dim, args.net.width, depth, c_out)
        .with_variances(args.net.sigma_w2, args.net.sigma_b2)
        .with_activation(args.net.activation);
    net_cfg.validate()?;
    let seeds: Vec<u64> = (0..args.seeds as u64).map(|i| args.net.seed + i).collect();
    let y = from_rows(&data.train.y, n, c_out);
    let set = methods.iter().fold(KernelSet::THETA, |s, m| {
        s.union(m.predictor.required_kernels())
    });
    let set = if methods
        .iter()
        .all(|m| matches!(m.predictor, Predictor::Kfac))
    {
        KernelSet::KFAC
    } else {
        set
    };
    check_memory(args.kernel, &net_cfg, set, n, n_test)?;
    let kfac_low_rank = n + usize::from(args.net.sigma_b2 > 0.0) > dim;
    let x_train = from_rows(&data.train.x, n, dim);
    let x_test = from_rows(&data.test.x, n_test, dim);

    let mut results: Vec<MethodResult> = methods
        .iter()
        .map(|m| MethodResult {
            name: m.name,
            predictor_used: "",
            alpha: None,
            kr_sum: Mat::zeros(n_test, c_out),
            kr_count: 0,
            per_seed: Vec::new(),
            seconds: 0.0,
        })
        .collect();

    // Every method's predictor on one set of kernels and f_0 (of `seeds`), timed per method.
    let mut evaluate_all = |k_train: &LayerKernels,
                            k_test: &LayerKernels,
                            f0: (&Mat<f64>, &Mat<f64>, &[u64])|
     -> Result<()> {
        for (m, r) in methods.iter().zip(results.iter_mut()) {
            let tm = Instant::now();
            let inputs = (&x_train, &x_test, kfac_low_rank);
            evaluate_method(m, r, k_train, k_test, inputs, f0, &y, &data)?;
            r.seconds += tm.elapsed().as_secs_f64();
            log(format!("{} done ({:.1}s)", m.name, r.seconds));
        }
        Ok(())
    };
    let mut kernel_seconds = 0.0;
    let mut forward_seconds = 0.0;
    match args.kernel {
        KernelKind::Analytic => {
            // f_0 of every seed, stacked as columns: N×(S·C) and N'×(S·C).
            let tf = Instant::now();
            let mut f0_train = Mat::<f64>::zeros(n, seeds.len() * c_out);
            let mut f0_test = Mat::<f64>::zeros(n_test, seeds.len() * c_out);
            for (k, &seed) in seeds.iter().enumerate() {
                let model = net_cfg.init(seed, &device)?;
                let ft = forward_chunked(&model, &data.train, args.chunk, &device);
                let fv = forward_chunked(&model, &data.test, args.chunk, &device);
                f0_train
                    .as_mut()
                    .subcols_mut(k * c_out, c_out)
                    .copy_from(ft.as_ref());
                f0_test
                    .as_mut()
                    .subcols_mut(k * c_out, c_out)
                    .copy_from(fv.as_ref());
                log(format!("forward seed {seed} done"));
            }
            forward_seconds = tf.elapsed().as_secs_f64();
            let tk = Instant::now();
            let cfg = AnalyticConfig {
                depth,
                sigma_w2: args.net.sigma_w2,
                sigma_b2: args.net.sigma_b2,
            };
            let k_train = relu_layer_kernels_sym_select(&cfg, x_train.as_ref(), set)?;
            log(format!("analytic train kernels {n}×{n} ({set:?}) done"));
            let k_test = relu_layer_kernels_select(&cfg, x_test.as_ref(), x_train.as_ref(), set)?;
            kernel_seconds = tk.elapsed().as_secs_f64();
            log(format!("analytic test kernels {n_test}×{n} done"));
            evaluate_all(&k_train, &k_test, (&f0_train, &f0_test, &seeds))?;
        }
        KernelKind::Empirical => {
            for &seed in &seeds {
                let tf = Instant::now();
                let model = net_cfg.init(seed, &device)?;
                let splits = (&data.train, &data.test);
                let (k_train, k_test, f0_train, f0_test) =
                    empirical_kernels_by_output(set, &model, splits, args.chunk, &device)?;
                drop(model);
                kernel_seconds += tf.elapsed().as_secs_f64();
                log(format!("seed {seed}: factors and empirical kernels done"));
                evaluate_all(&k_train, &k_test, (&f0_train, &f0_test, &[seed]))?;
                log(format!("seed {seed}: predictors done"));
            }
        }
    }

    let mut method_json = serde_json::Map::new();
    println!(
        "{:<20} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "method", "kr_acc", "kr_loss", "acc_mean", "acc_std", "loss_mean"
    );
    for r in &results {
        let mut kr = r.kr_sum.clone();
        kr *= faer::Scale(1.0 / r.kr_count.max(1) as f64);
        let kr_rows = to_rows(&kr);
        let kr_acc = ngd_data::accuracy(&kr_rows, &data.test);
        let kr_loss = ngd_data::mse_loss(&kr_rows, &data.test);
        let accs: Vec<f64> = r.per_seed.iter().map(|p| p.2).collect();
        let losses: Vec<f64> = r.per_seed.iter().map(|p| p.1).collect();
        let (acc_mean, acc_std) = mean_std(&accs);
        let (loss_mean, loss_std) = mean_std(&losses);
        println!(
            "{:<20} {:>10.4} {:>10.4e} {:>10.4} {:>10.4} {:>10.4e}",
            r.name, kr_acc, kr_loss, acc_mean, acc_std, loss_mean
        );
        method_json.insert(
            r.name.to_string(),
            json!({
                "predictor": r.predictor_used,
                "alpha": r.alpha,
                "kernel_regression": { "test_accuracy": kr_acc, "test_loss": kr_loss },
                "converged": {
                    "test_accuracy_mean": acc_mean,
                    "test_accuracy_std": acc_std,
                    "test_loss_mean": loss_mean,
                    "test_loss_std": loss_std,
                    "per_seed": r.per_seed.iter().map(|(s, l, a)| json!({
                        "seed": s, "test_accuracy": a, "test_loss": l
                    })).collect::<Vec<_>>(),
                },
                "seconds": r.seconds,
            }),
        );
    }
    let total = t0.elapsed().as_secs_f64();
    log(format!("total {total:.1}s"));
    if let Some(out) = &args.out {
        let doc = json!({
            "config": config_json(&args, &data, &seeds, kfac_low_rank),
            "methods": Value::Object(method_json),
            "timing": {
                "forward_seconds": forward_seconds,
                "kernel_seconds": kernel_seconds,
                // Empirical kernels are accumulated pass by pass, so their time includes
                // the forward/backward passes (forward_seconds is then 0).
                "kernel_seconds_includes_factors": args.kernel == KernelKind::Empirical,
                "total_seconds": total,
            },
        });
        write_json(out, &doc).context("writing the predict JSON")?;
        if let Some(p) = &args.plot {
            plot(std::slice::from_ref(&doc), p)?;
        }
    }
    Ok(())
}

/// Runs one predictor on one kernel set: f_∞ for every stacked seed and the kernel-regression
/// mean (accumulated).
#[allow(clippy::too_many_arguments)]
fn evaluate_method(
    m: &MethodSpec,
    r: &mut MethodResult,
    k_train: &LayerKernels,
    k_test: &LayerKernels,
    (x_train, x_test, kfac_low_rank): (&Mat<f64>, &Mat<f64>, bool),
    (f0_train, f0_test, seeds): (&Mat<f64>, &Mat<f64>, &[u64]),
    y: &Mat<f64>,
    data: &Dataset,
) -> Result<()> {
    let kfac = matches!(m.predictor, Predictor::Kfac | Predictor::KfacPrinted);
    let fs = if kfac && kfac_low_rank {
        let (x, x_test) = (x_train.as_ref(), x_test.as_ref());
        FunctionSpace::kfac_low_rank_inputs(&m.predictor, k_train, k_test, x, x_test)
    } else {
        FunctionSpace::new(&m.predictor, k_train, k_test)
    }
    .with_context(|| format!("building the {} predictor", m.name))?;
    r.predictor_used = fs.name();
    r.alpha = fs.alpha();
    let kr = fs.kernel_regression_test(y.as_ref())?;
    r.kr_sum += &kr;
    r.kr_count += 1;
    let conv = fs.converged_test(f0_train.as_ref(), f0_test.as_ref(), y.as_ref())?;
    let c = y.ncols();
    for (k, &seed) in seeds.iter().enumerate() {
        let block = conv.as_ref().subcols(k * c, c).to_owned();
        let (loss, acc) = metrics(&block, &data.test);
        r.per_seed.push((seed, loss, acc));
    }
    Ok(())
}

/// (loss, accuracy) of N'×C outputs.
fn metrics(f: &Mat<f64>, split: &Split) -> (f64, f64) {
    let rows = to_rows(f);
    (
        ngd_data::mse_loss(&rows, split),
        ngd_data::accuracy(&rows, split),
    )
}

/// Mean and population standard deviation (ddof = 0, as numpy's default).
fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// f(x) of `model` on `split`, `chunk` rows at a time: N×C.
fn forward_chunked(model: &Mlp, split: &Split, chunk: usize, device: &Device) -> Mat<f64> {
    let rows: Vec<f64> = row_chunks(split, chunk, device)
        .flat_map(|(_, _, x)| ngd_model::tensor_to_rows(model.forward(x)))
        .collect();
    let n = split.n;
    let c = rows.len() / n.max(1);
    from_rows(&rows, n, c)
}

fn config_json(args: &PredictArgs, data: &Dataset, seeds: &[u64], kfac_low_rank: bool) -> Value {
    let kernel = match args.kernel {
        KernelKind::Analytic => {
            "analytic (infinite-width ReLU, MATH.md §5; one kernel for all seeds)"
        }
        KernelKind::Empirical => {
            "empirical (each seed's network at init; C > 1: class-averaged diagonal block of δ·δ)"
        }
    };
    let kfac = if kfac_low_rank {
        "N > M_0: layer-1 input factor pseudo-inverted through the inputs \
         (FunctionSpace::kfac_low_rank_inputs, paper §4.3 'M_0 < N' form, no Forster transform)"
    } else {
        "eq. (21) with every factor inverted (M_0 ≥ N)"
    };
    json!({
        "dataset": args.net.dataset.to_string(),
        "classes": data.classes,
        "class_names": data.class_names,
        "outputs": data.outputs,
        "n_train": data.train.n,
        "n_test": data.test.n,
        "depth": args.net.depth,
        "width": args.net.width,
        "sigma_w2": args.net.sigma_w2,
        "sigma_b2": args.net.sigma_b2,
        "activation": args.net.activation,
        "kernel": match args.kernel { KernelKind::Analytic => "analytic", KernelKind::Empirical => "empirical" },
        "kernel_note": kernel,
        "seeds": seeds,
        "backend": args.net.backend.to_string(),
        "data_source": data.source,
        "methods": args.methods,
        "kfac_note": kfac,
        "loss": "1/2 · mean over test samples of Σ_c (f − y)²",
        "std": "population standard deviation over seeds (ddof = 0)",
        "kernel_regression_note": "f_∞ with f_0 = 0 (α⁻¹Θ̄(x',x)y); with empirical kernels the \
             mean over seeds of each seed's kernel-regression output",
    })
}

/// Refuses a run whose kernels (L matrices per family in `set`, train N×N and test N'×N) and,
/// with `--kernel empirical`, Jacobian factors of all samples would exceed
/// `ngd_optim::MEMORY_LIMIT_GIB`, before anything large is allocated.
fn check_memory(
    kind: KernelKind,
    cfg: &MlpConfig,
    set: KernelSet,
    n: usize,
    n_test: usize,
) -> Result<()> {
    let gib = |bytes: u64| bytes as f64 / (1u64 << 30) as f64;
    let families = [set.theta, set.a, set.b].into_iter().filter(|&f| f).count() as u64;
    // Empirical kernels also hold A_l and one class's B_l while they are accumulated, and
    // the factors of one output at a time.
    let (matrices, factors) = match kind {
        KernelKind::Analytic => (families, 0),
        KernelKind::Empirical => (families + 2, split_factor_bytes(n + n_test, &cfg.widths, 1)),
    };
    let kernels = 8 * cfg.depth() as u64 * matrices * (n * n + n_test * n) as u64;
    let total = gib(kernels + factors);
    if total <= ngd_optim::MEMORY_LIMIT_GIB {
        return Ok(());
    }
    let (what, remedy) = match kind {
        KernelKind::Analytic => (String::new(), ""),
        KernelKind::Empirical => (
            format!(
                " + {:.1} GiB for the Jacobian factors of all samples, one output at a time \
                 (widths {:?})",
                gib(factors),
                cfg.widths
            ),
            ", --kernel analytic or a smaller --width",
        ),
    };
    bail!(
        "ngd predict would hold {total:.1} GiB (f64): {:.1} GiB of kernels ({} per-layer N×N and \
         N'×N matrices, N = {n}, N' = {n_test}){what}, more than the {:.0} GiB allowed; use fewer \
         samples (--n-train, --n-test){remedy}",
        gib(kernels),
        cfg.depth() as u64 * matrices,
        ngd_optim::MEMORY_LIMIT_GIB
    )
}
