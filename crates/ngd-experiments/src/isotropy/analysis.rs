//! The statistics of one Θ̄ and the relative size of a method's first step.

use faer::Mat;
use ngd_model::Mlp;
use ngd_optim::Factors;
use ngd_optim::{Curvature, LayerStep, Method, MethodCurvature};

/// An entry of the methods: the NTK itself (Θ̄ = Θ, i.e. GD) or a [`Method`].
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

/// Whether `name` is the NTK entry.
pub(super) fn is_ntk(name: &str) -> bool {
    name.parse::<MethodEntry>() == Ok(MethodEntry::Ntk)
}

/// The curvature of an entry (`ntk` is GD's).
pub(super) fn curvature_for(name: &str, damping: f64) -> Result<Box<dyn Curvature>, String> {
    let method = match name.parse::<MethodEntry>()? {
        MethodEntry::Ntk => Method::Gd,
        MethodEntry::Method(m) => m,
    };
    method.curvature(damping).map_err(|e| e.to_string())
}

/// The spectrum statistics of one Θ̄.
pub(super) struct Stats {
    /// λ_max/λ_min (∞ if λ_min ≤ 0).
    pub condition_number: f64,
    /// Mean eigenvalue.
    pub alpha: f64,
    /// λ_min.
    pub eigenvalue_min: f64,
    /// λ_max.
    pub eigenvalue_max: f64,
    /// ‖Θ̄ − Θ̄ᵀ‖_F / ‖Θ̄‖_F.
    pub asymmetry: f64,
}

/// Statistics of one Θ̄ (eigenvalues of its symmetric part).
pub(super) fn analyse(theta_bar: &Mat<f64>) -> Result<Stats, String> {
    let cn = theta_bar.nrows();
    let sym = Mat::from_fn(cn, cn, |i, j| 0.5 * (theta_bar[(i, j)] + theta_bar[(j, i)]));
    let anti = Mat::from_fn(cn, cn, |i, j| 0.5 * (theta_bar[(i, j)] - theta_bar[(j, i)]));
    let norm = theta_bar.norm_l2();
    let asymmetry = 2.0 * anti.norm_l2() / norm.max(f64::MIN_POSITIVE);
    if !norm.is_finite() {
        return Err("Θ̄ has non-finite entries".into());
    }
    let values = sym
        .self_adjoint_eigenvalues(faer::Side::Lower)
        .map_err(|e| format!("eigenvalues of Θ̄ failed: {e:?}"))?;
    let (lo, hi) = (values[0], values[cn - 1]);
    let alpha = values.iter().sum::<f64>() / cn as f64;
    Ok(Stats {
        condition_number: if lo > 0.0 { hi / lo } else { f64::INFINITY },
        alpha,
        eigenvalue_min: lo,
        eigenvalue_max: hi,
        asymmetry,
    })
}

/// ‖η Δθ_l‖_F / ‖W_l‖_F per layer for the step on e₀ = f₀ − y at η = 1/`scale`, for the
/// model's factors, input Grams H̃_l and weights.
/// ‖Δθ_l‖²_F = tr(Rᵀ H̃ R) for dual coefficients R (Δθ_l = h̃ᵀR), ‖S‖²_F for a dense step.
pub(super) fn relative_step(
    curvature: &dyn Curvature,
    (factors, grams, model): (&Factors, &[Mat<f64>], &Mlp),
    train: &ngd_data::Split,
    scale: f64,
) -> Result<Vec<f64>, String> {
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
            let w = ngd_optim::convert::tensor_to_mat(model.weights[l].val());
            norm2.max(0.0).sqrt() / scale / w.norm_l2()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ngd_model::{Device, MlpConfig};

    /// Exact NGD gives κ = 1, α = 1 through the analysis of its Θ̄.
    #[test]
    fn exact_ngd_is_isotropic_through_the_analysis() {
        let (n, dim, width) = (6, 10, 16);
        let device = Device::flex();
        let model = MlpConfig::new(dim, width, 3, 1).init(3, &device).unwrap();
        let x = ngd_data::gaussian_inputs(n, dim, 3);
        let factors = model.factors(ngd_optim::convert::tensor_from_rows(&x, n, dim, &device));
        let exact = curvature_for("exact", 0.0).unwrap();
        let tb = ngd_optim::coefficient_matrix(exact.as_ref(), &factors).unwrap();
        let s = analyse(&tb).unwrap();
        let (cond, alpha) = (s.condition_number, s.alpha);
        assert!(
            (cond - 1.0).abs() < 1e-8 && (alpha - 1.0).abs() < 1e-8,
            "{cond} {alpha}"
        );
    }

    #[test]
    fn unknown_method_is_an_error_not_a_panic() {
        let err = curvature_for("no-such-method", 0.0).err().unwrap();
        assert!(err.contains("not available"), "{err}");
        assert!(is_ntk("ntk") && !is_ntk("exact"));
    }
}
