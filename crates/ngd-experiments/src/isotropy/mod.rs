//! Fig. 3: the coefficient matrix Θ̄(x, x) = J G⁻¹ Jᵀ / N (eq. 11) of each method at
//! initialisation, its eigenvalues, condition number λ_max/λ_min and α = mean eigenvalue, vs
//! width (MATH.md §4). `ntk` is Θ itself (the GD "curvature").
//!
//! Θ̄ comes from [`ngd_optim::coefficient_matrix`] (column k = J Δθ for the residual e_k, with
//! the layer input Grams formed once); the Grams are formed here once more per (width, seed)
//! for the relative step sizes of MNIST runs.
//!
//! Every G here is symmetric (F + ρI, its blocks, K-FAC's Kronecker factors, unit blocks,
//! diagonals), so Θ̄ = J G⁻¹ Jᵀ/N is symmetric up to rounding; the eigenvalues are those of
//! (Θ̄ + Θ̄ᵀ)/2, and the largest relative asymmetry ‖Θ̄ − Θ̄ᵀ‖_F/‖Θ̄‖_F seen is reported.

mod analysis;
mod results;

pub use results::{Entry, IsotropyRecordConfig, IsotropyResults, SeedResult, condition_chart};

use crate::{Error, Result};
use analysis::{analyse, curvature_for, relative_step};
use faer::Mat;
use ngd_model::{Activation, Device, MlpConfig};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Where the N inputs come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Inputs {
    /// i.i.d. N(0, 1) vectors scaled to unit norm (`gaussian_inputs(n, dim, seed)`), redrawn per seed.
    Gaussian,
    /// The first N MNIST training samples of the classes (fixed; only the weights vary per seed).
    Mnist,
}

impl std::str::FromStr for Inputs {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "gaussian" => Ok(Inputs::Gaussian),
            "mnist" => Ok(Inputs::Mnist),
            _ => Err(format!("unknown inputs '{s}' (expected gaussian or mnist)")),
        }
    }
}

/// What to analyse.
#[derive(Debug, Clone)]
pub struct IsotropyConfig {
    /// Methods: `ntk` (Θ itself) and any method name.
    pub methods: Vec<String>,
    /// Hidden widths M.
    pub widths: Vec<usize>,
    /// Depth L.
    pub depth: usize,
    /// Gaussian or MNIST inputs.
    pub inputs: Inputs,
    /// Input dimension M_0 of Gaussian inputs.
    pub input_dim: usize,
    /// MNIST classes (two: one output).
    pub classes: String,
    /// Number of samples N.
    pub n: usize,
    /// Seeds 0..seeds (Gaussian inputs are redrawn with the same seed).
    pub seeds: u64,
    /// Damping ρ ≥ 0 of every method.
    pub damping: f64,
    /// σ_w².
    pub sigma_w2: f64,
    /// σ_b².
    pub sigma_b2: f64,
    /// φ.
    pub activation: Activation,
}

/// Θ̄ statistics of every method at every width and seed on `device` (`backend` is its name,
/// for the record); one progress line per (width, seed). Failures of single entries are
/// recorded in the results, not returned.
pub fn run_isotropy(
    cfg: &IsotropyConfig,
    backend: &str,
    device: &Device,
    progress: &mut dyn FnMut(&str),
) -> Result<IsotropyResults> {
    if cfg.seeds == 0 || cfg.widths.is_empty() || cfg.methods.is_empty() || cfg.n == 0 {
        return Err(Error::Empty("seed, width, method and sample"));
    }
    let mnist = match cfg.inputs {
        Inputs::Mnist => {
            let classes = ngd_data::parse_classes(ngd_data::DatasetName::Mnist, &cfg.classes)?;
            if classes.len() != 2 {
                return Err(Error::NotTwoClasses(classes.len()));
            }
            let data_cfg = ngd_data::DataConfig {
                dataset: ngd_data::DatasetName::Mnist,
                classes,
                n_train: cfg.n,
                n_test: 1,
            };
            Some(ngd_data::load(&data_cfg)?)
        }
        Inputs::Gaussian => None,
    };
    let dim = mnist.as_ref().map_or(cfg.input_dim, |d| d.train.dim);
    let n = mnist.as_ref().map_or(cfg.n, |d| d.train.n);
    progress(&format!(
        "isotropy: {:?} inputs N={n} M0={dim} L={} {:?} σ_w²={} σ_b²={} ρ={} seeds={} methods={}",
        cfg.inputs,
        cfg.depth,
        cfg.activation,
        cfg.sigma_w2,
        cfg.sigma_b2,
        cfg.damping,
        cfg.seeds,
        cfg.methods.join(",")
    ));
    // per (method index, width index): successes and first error
    let mut per: Vec<Vec<(Vec<SeedResult>, Option<String>)>> =
        vec![vec![(Vec::new(), None); cfg.widths.len()]; cfg.methods.len()];
    for (wi, &width) in cfg.widths.iter().enumerate() {
        let config = MlpConfig::new(dim, width, cfg.depth, 1)
            .with_variances(cfg.sigma_w2, cfg.sigma_b2)
            .with_activation(cfg.activation);
        for seed in 0..cfg.seeds {
            let x = match &mnist {
                Some(d) => d.train.x.clone(),
                None => ngd_data::gaussian_inputs(n, dim, seed),
            };
            let model = config.init(seed, device)?;
            let factors = model.factors(ngd_optim::convert::tensor_from_rows(&x, n, dim, device));
            let grams: Vec<Mat<f64>> = factors.layers.iter().map(|l| l.input_gram()).collect();
            let mut line = format!("M={width:>5} seed={seed}:");
            for (mi, name) in cfg.methods.iter().enumerate() {
                let start = Instant::now();
                let outcome = curvature_for(name, cfg.damping).and_then(|c| {
                    let alpha_theory = c.alpha(&factors);
                    let tb = ngd_optim::coefficient_matrix(c.as_ref(), &factors)
                        .map_err(|e| e.to_string())?;
                    let stats = analyse(&tb)?;
                    let rel = match &mnist {
                        Some(d) => {
                            let scale = if analysis::is_ntk(name) {
                                stats.eigenvalue_max
                            } else {
                                stats.alpha
                            };
                            let model = (&factors, grams.as_slice(), &model);
                            Some(relative_step(c.as_ref(), model, &d.train, scale)?)
                        }
                        None => None,
                    };
                    Ok((stats, alpha_theory, rel))
                });
                let seconds = start.elapsed().as_secs_f64();
                let slot = &mut per[mi][wi];
                match outcome {
                    Ok((s, alpha_theory, relative_step)) => {
                        let (cond, alpha) = (s.condition_number, s.alpha);
                        line += &format!(" {name}: κ={cond:.3e} α={alpha:.4} ({seconds:.1}s);");
                        slot.0.push(SeedResult {
                            seed,
                            condition_number: cond,
                            alpha,
                            eigenvalue_min: s.eigenvalue_min,
                            eigenvalue_max: s.eigenvalue_max,
                            asymmetry: s.asymmetry,
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
            progress(&line);
        }
    }
    let mut results = Vec::new();
    for (mi, name) in cfg.methods.iter().enumerate() {
        for (wi, &width) in cfg.widths.iter().enumerate() {
            let (ok, err) = &per[mi][wi];
            results.push(Entry::new(name, width, ok, err.clone()));
        }
    }
    let config = IsotropyRecordConfig {
        methods: cfg.methods.clone(),
        widths: cfg.widths.clone(),
        depth: cfg.depth,
        inputs: cfg.inputs,
        input_dim: dim,
        classes: mnist.is_some().then(|| cfg.classes.clone()),
        n,
        seeds: cfg.seeds,
        damping: cfg.damping,
        title: None,
        sigma_w2: cfg.sigma_w2,
        sigma_b2: cfg.sigma_b2,
        activation: cfg.activation,
        backend: backend.to_string(),
        eigenvalues_of: "(Θ̄ + Θ̄ᵀ)/2; Θ̄ = J G⁻¹ Jᵀ/N is symmetric for every method up to \
                         rounding (see asymmetry_max)"
            .into(),
    };
    Ok(IsotropyResults { config, results })
}
