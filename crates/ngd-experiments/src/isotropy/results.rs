//! The typed record of an isotropy run (the `ngd isotropy --out` JSON) and the condition-number
//! chart drawn from it.

use super::Inputs;
use crate::f64_or_nan;
use ngd_model::Activation;
use ngd_plot::{LineChart, Scale, Series, Style};
use serde::{Deserialize, Deserializer, Serialize};

/// An isotropy run: its configuration and one entry per (method, width).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IsotropyResults {
    /// What was computed.
    pub config: IsotropyRecordConfig,
    /// Per method, per width (method-major).
    pub results: Vec<Entry>,
}

/// The configuration part of the record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IsotropyRecordConfig {
    /// Methods (`ntk` = Θ).
    pub methods: Vec<String>,
    /// Hidden widths.
    pub widths: Vec<usize>,
    /// Depth L.
    pub depth: usize,
    /// Gaussian or MNIST inputs.
    pub inputs: Inputs,
    /// Input dimension M_0.
    pub input_dim: usize,
    /// MNIST classes (null for Gaussian inputs).
    pub classes: Option<String>,
    /// Number of samples N.
    pub n: usize,
    /// Number of seeds.
    pub seeds: u64,
    /// Damping ρ.
    pub damping: f64,
    /// Chart title in place of the one built from these fields (e.g. for a merge of runs at
    /// several ρ).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// σ_w².
    pub sigma_w2: f64,
    /// σ_b².
    pub sigma_b2: f64,
    /// φ.
    pub activation: Activation,
    /// Backend name.
    pub backend: String,
    /// Which matrix the eigenvalues are of.
    pub eigenvalues_of: String,
}

/// Θ̄ statistics of one method at one (width, seed).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeedResult {
    /// Seed.
    pub seed: u64,
    /// λ_max/λ_min of the symmetrised Θ̄ (∞ if λ_min ≤ 0; written as null).
    #[serde(deserialize_with = "f64_or_infinity")]
    pub condition_number: f64,
    /// α̂ = mean eigenvalue = tr Θ̄ / CN.
    pub alpha: f64,
    /// λ_min.
    pub eigenvalue_min: f64,
    /// λ_max.
    pub eigenvalue_max: f64,
    /// ‖Θ̄ − Θ̄ᵀ‖_F / ‖Θ̄‖_F before symmetrising.
    #[serde(deserialize_with = "f64_or_nan")]
    pub asymmetry: f64,
    /// The method's theoretical α (`Curvature::alpha`), if any.
    pub alpha_theory: Option<f64>,
    /// MNIST inputs only: per layer l, ‖η Δθ_l‖_F / ‖W_l‖_F for the first step at η = 1/α̂
    /// (α̂ = mean eigenvalue; NTK: 1/λ_max), Δθ = the method's step for e₀ = f₀ − y.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relative_step: Option<Vec<f64>>,
    /// Seconds to build Θ̄.
    pub seconds: f64,
}

/// One (method, width) entry of the results: mean ± std over the seeds that succeeded.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relative_step_mean: Option<Vec<f64>>,
    /// Why seeds failed (first failure), if any did.
    pub error: Option<String>,
    /// Per-seed values.
    pub per_seed: Vec<SeedResult>,
}

impl Entry {
    /// The entry of `method` at `width` from the seeds that succeeded and the first error.
    pub(super) fn new(
        method: &str,
        width: usize,
        ok: &[SeedResult],
        error: Option<String>,
    ) -> Self {
        let get = |f: fn(&SeedResult) -> f64| ok.iter().map(f).collect::<Vec<_>>();
        let mean = |v: &[f64]| crate::mean_std(v).map(|m| m.0);
        let (cm, cs) = crate::mean_std(&get(|s| s.condition_number)).unzip();
        let (am, asd) = crate::mean_std(&get(|s| s.alpha)).unzip();
        let theory: Vec<f64> = ok.iter().filter_map(|s| s.alpha_theory).collect();
        Entry {
            method: method.to_string(),
            width,
            seeds: ok.len(),
            condition_number_mean: cm,
            condition_number_std: cs,
            alpha_mean: am,
            alpha_std: asd,
            eigenvalue_min_mean: mean(&get(|s| s.eigenvalue_min)),
            eigenvalue_max_mean: mean(&get(|s| s.eigenvalue_max)),
            alpha_theory_mean: mean(&theory),
            asymmetry_max: ok.iter().map(|s| s.asymmetry).reduce(f64::max),
            relative_step_mean: mean_vectors(ok.iter().filter_map(|s| s.relative_step.clone())),
            error,
            per_seed: ok.to_vec(),
        }
    }
}

impl IsotropyResults {
    /// The first error, when every (method, width) entry failed.
    pub fn all_failed(&self) -> Option<&str> {
        if !self.results.iter().all(|r| r.seeds == 0) {
            return None;
        }
        Some(
            self.results
                .iter()
                .find_map(|r| r.error.as_deref())
                .unwrap_or(""),
        )
    }

    /// The plot title.
    pub fn title(&self) -> String {
        let c = &self.config;
        if let Some(title) = &c.title {
            return title.clone();
        }
        let json = |v: f64| serde_json::to_string(&v).unwrap_or_else(|_| "null".into());
        format!(
            "κ(Θ̄) at init: {} inputs, N = {}, L = {}, {}, ρ = {}",
            match c.inputs {
                Inputs::Gaussian => "gaussian",
                Inputs::Mnist => "mnist",
            },
            c.n,
            c.depth,
            c.activation,
            json(c.damping),
        )
    }
}

/// Element-wise mean of equally long vectors; `None` without any.
fn mean_vectors(rows: impl Iterator<Item = Vec<f64>>) -> Option<Vec<f64>> {
    let rows: Vec<Vec<f64>> = rows.collect();
    let first = rows.first()?;
    Some(
        (0..first.len())
            .map(|j| rows.iter().map(|r| r[j]).sum::<f64>() / rows.len() as f64)
            .collect(),
    )
}

/// A condition number read back from JSON: `null` is ∞ (λ_min ≤ 0).
fn f64_or_infinity<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::INFINITY))
}

/// Log-log condition number vs width, one line per method (in first-seen order).
pub fn condition_chart(results: &IsotropyResults) -> LineChart {
    let mut methods: Vec<&str> = Vec::new();
    for r in &results.results {
        if !methods.contains(&r.method.as_str()) {
            methods.push(&r.method);
        }
    }
    let mut chart = LineChart::new(results.title(), "width M", "λ_max / λ_min of Θ̄");
    chart.x_scale = Scale::Log10;
    chart.y_scale = Scale::Log10;
    // Room above the data for the legend (top right): the largest κ sits at mid height.
    let top = results
        .results
        .iter()
        .filter_map(|r| r.condition_number_mean)
        .filter(|c| c.is_finite())
        .fold(1.0f64, f64::max);
    chart.y_range = Some((0.5, (top * top * 2.0).max(10.0)));
    chart.width = 720;
    chart.height = 560;
    for (i, name) in methods.iter().enumerate() {
        let points: Vec<(f64, f64)> = results
            .results
            .iter()
            .filter(|r| r.method == *name)
            .filter_map(|r| r.condition_number_mean.map(|c| (r.width as f64, c)))
            .filter(|(_, c)| c.is_finite())
            .collect();
        if points.is_empty() {
            continue;
        }
        let label = if super::analysis::is_ntk(name) {
            "NTK (Θ, GD)".to_string()
        } else {
            name.to_string()
        };
        chart.series.push(
            Series::new(label, points, Style::line_and_markers())
                .with_color(ngd_plot::palette_color(i)),
        );
    }
    chart
}
