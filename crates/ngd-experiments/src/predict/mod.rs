//! The Fig. 2 pipeline: test accuracy and loss of the converged function-space predictor
//! f_∞(x') (MATH.md §4, paper Section 4.4) for exact, block-diagonal, block tri-diagonal NGD
//! and K-FAC, with f_0 from finite-width networks of several seeds, plus the kernel-regression
//! mean (f_0 = 0), on analytic or empirical kernels.

mod memory;
mod results;

pub use results::{
    Converged, KernelRegression, MethodResults, PredictRecordConfig, PredictResults, SeedMetrics,
    Timing, accuracy_chart,
};

use crate::{Error, Network, Result};
use faer::Mat;
use ngd_data::{Dataset, Split};
use ngd_kernels::{
    AnalyticConfig, FunctionSpace, KernelSet, LayerKernels, Predictor, relu_layer_kernels_select,
    relu_layer_kernels_sym_select,
};
use ngd_model::{Activation, Device, Mlp};
use ngd_optim::Method;
use ngd_train::test_theory::{empirical_kernels_by_output, from_rows, row_chunks, to_rows};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Which kernels the predictors use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KernelKind {
    /// Infinite-width ReLU kernels (MATH.md §5): one factorisation shared by all seeds.
    Analytic,
    /// Each seed's own finite-width network at initialisation (Jacobian factors, MATH.md §2).
    Empirical,
}

impl KernelKind {
    /// The name in the records and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            KernelKind::Analytic => "analytic",
            KernelKind::Empirical => "empirical",
        }
    }
}

impl std::str::FromStr for KernelKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        [KernelKind::Analytic, KernelKind::Empirical]
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| format!("unknown kernel '{s}' (expected analytic or empirical)"))
    }
}

/// What to predict: data and network, predictors, kernels and seeds.
#[derive(Debug, Clone)]
pub struct PredictConfig {
    /// Data and network; seeds `network.seed`, `network.seed + 1`, ….
    pub network: Network,
    /// Predictor names: exact, block-diagonal, block-tri-diagonal, kfac, kfac-printed.
    pub methods: Vec<String>,
    /// Analytic or empirical kernels.
    pub kernel: KernelKind,
    /// Number of initialisations.
    pub seeds: usize,
    /// Samples per forward/backward chunk on the device.
    pub chunk: usize,
    /// The backend's name, for the record.
    pub backend: String,
    /// Whether the inputs of the data passed to [`run_predictions`] were Forster-transformed
    /// ([`crate::forster_inputs`]); recorded, and K-FAC then pseudo-inverts its first input
    /// factor through the inputs at any N (the transformed inputs span r ≤ min(N, M_0)
    /// dimensions).
    pub forster: bool,
}

impl PredictConfig {
    /// Checks what can be checked before the data is loaded.
    pub fn validate(&self) -> Result<()> {
        if self.seeds == 0 {
            return Err(Error::Empty("seed"));
        }
        if self.kernel == KernelKind::Analytic && self.network.shape.activation != Activation::Relu
        {
            return Err(Error::AnalyticNeedsRelu(self.network.shape.activation));
        }
        Ok(())
    }
}

/// One predictor of the run.
struct MethodSpec {
    name: &'static str,
    predictor: Predictor,
}

/// The predictors named in `names`, for `depth` layers and `outputs` outputs.
fn parse_methods(names: &[String], depth: usize, outputs: usize) -> Result<Vec<MethodSpec>> {
    let mut out: Vec<MethodSpec> = Vec::new();
    for name in names {
        let name = name.trim();
        let (name, predictor) = if name == Predictor::KfacPrinted.name() {
            (Predictor::KfacPrinted.name(), Some(Predictor::KfacPrinted))
        } else {
            let method: Method = name.parse()?;
            let predictor = match method {
                Method::Gd => None, // f_∞ of GD is the exact one; its f_t needs a step count
                _ => Predictor::for_method(method, depth, None),
            };
            (method.name(), predictor)
        };
        let Some(predictor) = predictor else {
            return Err(Error::UnknownPredictor(name.to_string()));
        };
        let kfac = matches!(predictor, Predictor::Kfac | Predictor::KfacPrinted);
        if kfac && outputs != 1 {
            return Err(Error::KfacMultiOutput { name, outputs });
        }
        if out.iter().any(|m| m.name == name) {
            return Err(Error::DuplicatePredictor(name.to_string()));
        }
        out.push(MethodSpec { name, predictor });
    }
    if out.is_empty() {
        return Err(Error::Empty("predictor"));
    }
    Ok(out)
}

/// Per-method accumulated results.
struct Accumulated {
    predictor_used: &'static str,
    alpha: Option<f64>,
    /// Kernel-regression outputs (N'×C), summed over kernels (averaged at the end).
    kr_sum: Mat<f64>,
    kr_count: usize,
    /// (seed, loss, accuracy) of f_∞.
    per_seed: Vec<(u64, f64, f64)>,
    seconds: f64,
}

/// Runs every predictor of `cfg` on `data` (loaded from `cfg.network`), reporting progress
/// lines to `progress`. `timing.total_seconds` counts from this call.
pub fn run_predictions(
    cfg: &PredictConfig,
    data: &Dataset,
    device: &Device,
    progress: &mut dyn FnMut(&str),
) -> Result<PredictResults> {
    let t0 = Instant::now();
    cfg.validate()?;
    let net = &cfg.network;
    let c_out = data.outputs;
    let depth = net.shape.depth;
    let methods = parse_methods(&cfg.methods, depth, c_out)?;
    let (n, n_test, dim) = (data.train.n, data.test.n, data.train.dim);
    progress(&format!(
        "{} classes {:?} N={n} N'={n_test} L={depth} M={} C={c_out} kernel={:?} seeds={} backend={} ({})",
        net.dataset,
        data.class_names,
        net.shape.width,
        cfg.kernel,
        cfg.seeds,
        cfg.backend,
        data.source
    ));
    let net_cfg = net.mlp_config(data);
    net_cfg.validate()?;
    let seeds: Vec<u64> = (0..cfg.seeds as u64).map(|i| net.seed + i).collect();
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
    memory::check_memory(cfg.kernel, &net_cfg, set, n, n_test)?;
    let kfac_low_rank = cfg.forster || n + usize::from(net.shape.sigma_b2 > 0.0) > dim;
    let x_train = from_rows(&data.train.x, n, dim);
    let x_test = from_rows(&data.test.x, n_test, dim);

    let mut acc: Vec<Accumulated> = methods
        .iter()
        .map(|_| Accumulated {
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
                            f0: (&Mat<f64>, &Mat<f64>, &[u64]),
                            progress: &mut dyn FnMut(&str)|
     -> Result<()> {
        for (m, r) in methods.iter().zip(acc.iter_mut()) {
            let tm = Instant::now();
            let inputs = (&x_train, &x_test, kfac_low_rank);
            evaluate_method(m, r, (k_train, k_test), inputs, f0, &y, &data.test)?;
            r.seconds += tm.elapsed().as_secs_f64();
            progress(&format!("{} done ({:.1}s)", m.name, r.seconds));
        }
        Ok(())
    };
    let mut kernel_seconds = 0.0;
    let mut forward_seconds = 0.0;
    match cfg.kernel {
        KernelKind::Analytic => {
            // f_0 of every seed, stacked as columns: N×(S·C) and N'×(S·C).
            let tf = Instant::now();
            let mut f0_train = Mat::<f64>::zeros(n, seeds.len() * c_out);
            let mut f0_test = Mat::<f64>::zeros(n_test, seeds.len() * c_out);
            for (k, &seed) in seeds.iter().enumerate() {
                let model = net_cfg.init(seed, device)?;
                let ft = forward_chunked(&model, &data.train, cfg.chunk, device);
                let fv = forward_chunked(&model, &data.test, cfg.chunk, device);
                f0_train
                    .as_mut()
                    .subcols_mut(k * c_out, c_out)
                    .copy_from(ft.as_ref());
                f0_test
                    .as_mut()
                    .subcols_mut(k * c_out, c_out)
                    .copy_from(fv.as_ref());
                progress(&format!("forward seed {seed} done"));
            }
            forward_seconds = tf.elapsed().as_secs_f64();
            let tk = Instant::now();
            let acfg = AnalyticConfig {
                depth,
                sigma_w2: net.shape.sigma_w2,
                sigma_b2: net.shape.sigma_b2,
            };
            let k_train = relu_layer_kernels_sym_select(&acfg, x_train.as_ref(), set)?;
            progress(&format!("analytic train kernels {n}×{n} ({set:?}) done"));
            let k_test = relu_layer_kernels_select(&acfg, x_test.as_ref(), x_train.as_ref(), set)?;
            kernel_seconds = tk.elapsed().as_secs_f64();
            progress(&format!("analytic test kernels {n_test}×{n} done"));
            evaluate_all(&k_train, &k_test, (&f0_train, &f0_test, &seeds), progress)?;
        }
        KernelKind::Empirical => {
            for &seed in &seeds {
                let tf = Instant::now();
                let model = net_cfg.init(seed, device)?;
                let splits = (&data.train, &data.test);
                let (k_train, k_test, f0_train, f0_test) =
                    empirical_kernels_by_output(set, &model, splits, cfg.chunk, device)?;
                drop(model);
                kernel_seconds += tf.elapsed().as_secs_f64();
                progress(&format!("seed {seed}: factors and empirical kernels done"));
                evaluate_all(&k_train, &k_test, (&f0_train, &f0_test, &[seed]), progress)?;
                progress(&format!("seed {seed}: predictors done"));
            }
        }
    }

    let order: Vec<String> = methods.iter().map(|m| m.name.to_string()).collect();
    let results = methods
        .iter()
        .zip(&acc)
        .map(|(m, r)| (m.name.to_string(), summarise(r, &data.test)))
        .collect();
    Ok(PredictResults {
        config: PredictRecordConfig::new(cfg, data, &seeds, kfac_low_rank),
        methods: results,
        timing: Timing {
            forward_seconds,
            kernel_seconds,
            // Empirical kernels are accumulated pass by pass, so their time includes the
            // forward/backward passes (forward_seconds is then 0).
            kernel_seconds_includes_factors: Some(cfg.kernel == KernelKind::Empirical),
            total_seconds: t0.elapsed().as_secs_f64(),
        },
        order,
    })
}

/// The results of one predictor from its accumulated values.
fn summarise(r: &Accumulated, test: &Split) -> MethodResults {
    let mut kr = r.kr_sum.clone();
    kr *= faer::Scale(1.0 / r.kr_count.max(1) as f64);
    let kr_rows = to_rows(&kr);
    let accs: Vec<f64> = r.per_seed.iter().map(|p| p.2).collect();
    let losses: Vec<f64> = r.per_seed.iter().map(|p| p.1).collect();
    let (acc_mean, acc_std) = crate::mean_std(&accs).unwrap_or((0.0, 0.0));
    let (loss_mean, loss_std) = crate::mean_std(&losses).unwrap_or((0.0, 0.0));
    MethodResults {
        predictor: r.predictor_used.to_string(),
        alpha: r.alpha,
        kernel_regression: KernelRegression {
            test_accuracy: ngd_data::accuracy(&kr_rows, test),
            test_loss: ngd_data::mse_loss(&kr_rows, test),
        },
        converged: Converged {
            test_accuracy_mean: acc_mean,
            test_accuracy_std: acc_std,
            test_loss_mean: loss_mean,
            test_loss_std: loss_std,
            per_seed: r
                .per_seed
                .iter()
                .map(|&(seed, test_loss, test_accuracy)| SeedMetrics {
                    seed,
                    test_accuracy,
                    test_loss,
                })
                .collect(),
        },
        seconds: r.seconds,
    }
}

/// Runs one predictor on one kernel set: f_∞ for every stacked seed and the kernel-regression
/// mean (accumulated).
fn evaluate_method(
    m: &MethodSpec,
    r: &mut Accumulated,
    (k_train, k_test): (&LayerKernels, &LayerKernels),
    (x_train, x_test, kfac_low_rank): (&Mat<f64>, &Mat<f64>, bool),
    (f0_train, f0_test, seeds): (&Mat<f64>, &Mat<f64>, &[u64]),
    y: &Mat<f64>,
    test: &Split,
) -> Result<()> {
    let kfac = matches!(m.predictor, Predictor::Kfac | Predictor::KfacPrinted);
    let fs = if kfac && kfac_low_rank {
        let (x, x_test) = (x_train.as_ref(), x_test.as_ref());
        FunctionSpace::kfac_low_rank_inputs(&m.predictor, k_train, k_test, x, x_test)
    } else {
        FunctionSpace::new(&m.predictor, k_train, k_test)
    }
    .map_err(|source| Error::Predictor {
        name: m.name,
        source,
    })?;
    r.predictor_used = fs.name();
    r.alpha = fs.alpha();
    let kr = fs.kernel_regression_test(y.as_ref())?;
    r.kr_sum += &kr;
    r.kr_count += 1;
    let conv = fs.converged_test(f0_train.as_ref(), f0_test.as_ref(), y.as_ref())?;
    let c = y.ncols();
    for (k, &seed) in seeds.iter().enumerate() {
        let rows = to_rows(&conv.as_ref().subcols(k * c, c).to_owned());
        let (loss, acc) = (
            ngd_data::mse_loss(&rows, test),
            ngd_data::accuracy(&rows, test),
        );
        r.per_seed.push((seed, loss, acc));
    }
    Ok(())
}

/// f(x) of `model` on `split`, `chunk` rows at a time: N×C.
fn forward_chunked(model: &Mlp, split: &Split, chunk: usize, device: &Device) -> Mat<f64> {
    let rows: Vec<f64> = row_chunks(split, chunk, device)
        .flat_map(|(_, _, x)| ngd_optim::convert::tensor_to_rows(model.forward(x)))
        .collect();
    let n = split.n;
    let c = rows.len() / n.max(1);
    from_rows(&rows, n, c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predictor_names_are_checked_without_data() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let ok = parse_methods(&names(&["exact", "kfac-printed"]), 3, 1).unwrap();
        assert_eq!(ok.len(), 2);
        let err = parse_methods(&names(&["exact", "exact"]), 3, 1)
            .err()
            .unwrap();
        assert!(matches!(err, Error::DuplicatePredictor(_)), "{err}");
        let err = parse_methods(&names(&["kfac"]), 3, 10).err().unwrap();
        assert!(matches!(err, Error::KfacMultiOutput { .. }), "{err}");
        let err = parse_methods(&names(&["gd"]), 3, 1).err().unwrap();
        assert!(matches!(err, Error::UnknownPredictor(_)), "{err}");
        assert_eq!("empirical".parse::<KernelKind>(), Ok(KernelKind::Empirical));
    }
}
