//! The factored step Δθ_l = J_lᵀ-like products and their image J Δθ in function space.

use crate::convert::mat_to_tensor;
use crate::{FactoredModel, Factors};
use burn::tensor::Tensor;
use faer::Mat;

/// The step of one layer: either dual coefficients or the explicit parameter step.
#[derive(Debug, Clone)]
pub enum LayerStep {
    /// R_l, N × M_l, with Δ(W_lᵀ | b_l) = h̃_{l−1}ᵀ R_l (eq. 9, 15 and every dual-form method).
    Coefficients(Mat<f64>),
    /// Δ(W_lᵀ | b_l) itself, (M_{l−1}+1) × M_l, last row Δb_l (diagonal, K-FAC with small inputs).
    Dense(Mat<f64>),
}

/// A parameter step Δθ, one [`LayerStep`] per layer l = 1..L (θ ← θ − η Δθ).
#[derive(Debug, Clone)]
pub struct Direction {
    /// Layers l = 1..L.
    pub layers: Vec<LayerStep>,
}

impl Direction {
    /// A step given entirely by dual coefficients R_l (Δθ_l = h̃_{l−1}ᵀ R_l).
    pub fn from_coefficients(coefficients: Vec<Mat<f64>>) -> Self {
        Self {
            layers: coefficients
                .into_iter()
                .map(LayerStep::Coefficients)
                .collect(),
        }
    }

    /// The step Δθ = Jᵀv of one dual vector v (length CN), every layer from the same v
    /// (GD, exact NGD).
    pub fn from_dual(factors: &Factors, v: &[f64]) -> Self {
        Self::from_coefficients(
            (0..factors.depth())
                .map(|l| dual_to_coefficients(factors, l, v))
                .collect(),
        )
    }

    /// θ ← θ − lr·Δθ on `model` (MATH.md §2: Δθ_l = h̃_{l−1}ᵀ R_l or the dense step).
    pub fn apply(&self, model: &mut impl FactoredModel, factors: &Factors, lr: f64) {
        for (l, (dw, db)) in self.layer_updates(factors).into_iter().enumerate() {
            model.update_layer(l, dw, db, lr);
        }
    }

    /// (ΔW_l, Δb_l) on the device for every layer: ΔW_l = h̃_{l−1}ᵀR_l without the bias row and
    /// Δb_l = s_b Σ_n R_l(n) for dual coefficients (MATH.md §2), or the dense step split.
    pub fn layer_updates(&self, factors: &Factors) -> Vec<(Tensor<2>, Tensor<1>)> {
        assert_eq!(self.layers.len(), factors.depth(), "one step per layer");
        self.layers
            .iter()
            .enumerate()
            .map(|(l, step)| {
                let input = &factors.device_inputs[l];
                let device = input.device();
                match step {
                    LayerStep::Coefficients(r) => {
                        let r = mat_to_tensor(r.as_ref(), &device);
                        let width = r.dims()[1];
                        let dw = input.clone().transpose().matmul(r.clone());
                        let db = r
                            .sum_dim(0)
                            .reshape([width])
                            .mul_scalar(factors.bias_scales[l]);
                        (dw, db)
                    }
                    LayerStep::Dense(s) => {
                        let m_in = s.nrows() - 1;
                        let dw = mat_to_tensor(s.as_ref().subrows(0, m_in), &device);
                        let db = mat_to_tensor(s.as_ref().subrows(m_in, 1), &device);
                        (dw, db.reshape([s.ncols()]))
                    }
                }
            })
            .collect()
    }

    /// h̃_{l−1} Δ(W_lᵀ | b_l), N × M_l: the per-sample change of u_l (before the δ contraction).
    fn input_times_step(&self, factors: &Factors, grams: &InputGrams, layer: usize) -> Mat<f64> {
        match &self.layers[layer] {
            LayerStep::Coefficients(r) => grams.get(factors, layer) * r,
            LayerStep::Dense(s) => &factors.layers[layer].input * s,
        }
    }
}

/// The input Grams H̃_l = h̃_{l−1}h̃_{l−1}ᵀ (N × N), computed on first use and kept, so that
/// many directions at the same factors (Θ̄ column by column) form each only once.
struct InputGrams(Vec<std::cell::OnceCell<Mat<f64>>>);

impl InputGrams {
    fn new(factors: &Factors) -> Self {
        Self((0..factors.depth()).map(|_| Default::default()).collect())
    }

    fn get(&self, factors: &Factors, layer: usize) -> &Mat<f64> {
        self.0[layer].get_or_init(|| factors.layers[layer].input_gram())
    }
}

/// R_l = Σ_c diag(v^{(c)}) δ_l^{(c)} for a dual vector v (length CN, class-major), so that
/// h̃ᵀR_l = J_lᵀ v (MATH.md §2: J_lᵀv = Σ_{c,n} v_{c,n} δ_l^{(c)}(n) ⊗ h̃_{l−1}(n)).
pub fn dual_to_coefficients(factors: &Factors, layer: usize, v: &[f64]) -> Mat<f64> {
    let n = factors.samples();
    let delta = &factors.layers[layer].delta;
    let m = delta.ncols();
    let c_out = factors.outputs_dim();
    Mat::from_fn(n, m, |i, j| {
        (0..c_out)
            .map(|c| v[c * n + i] * delta[(c * n + i, j)])
            .sum()
    })
}

/// J Δθ (length CN, class-major): the first-order change of f at the factor samples for the
/// step Δθ, Σ_l rowsum(δ_l^{(c)} ⊙ h̃_{l−1}Δθ_l) computed from the factors without forming J.
pub fn function_step(factors: &Factors, direction: &Direction) -> Vec<f64> {
    function_step_with(factors, &InputGrams::new(factors), direction)
}

fn function_step_with(factors: &Factors, grams: &InputGrams, direction: &Direction) -> Vec<f64> {
    let mut out = vec![0.0; factors.samples() * factors.outputs_dim()];
    for (l, layer) in factors.layers.iter().enumerate() {
        let u = direction.input_times_step(factors, grams, l); // N × M_l
        add_layer_image(&mut out, &layer.delta, &u);
    }
    out
}

/// out[c·N + n] += Σ_j δ^{(c)}(n)_j U(n, j): one layer's share of J v from U = h̃ v_l (N × M_l).
fn add_layer_image(out: &mut [f64], delta: &Mat<f64>, u: &Mat<f64>) {
    let n = u.nrows();
    for (row, o) in out.iter_mut().enumerate() {
        let m = row % n;
        *o += (0..u.ncols())
            .map(|j| delta[(row, j)] * u[(m, j)])
            .sum::<f64>();
    }
}

/// J v (length CN, class-major) for per-layer updates v_l = (ΔW_l, Δb_l) on the device (as
/// [`Direction::layer_updates`] gives them, or a momentum buffer): Σ_l rowsum(δ_l^{(c)} ⊙
/// h̃_{l−1}ṽ_l), the products h̃ṽ formed on the device (N × M_l) and combined with δ on the host.
pub fn jacobian_times_updates(factors: &Factors, updates: &[(Tensor<2>, Tensor<1>)]) -> Vec<f64> {
    assert_eq!(updates.len(), factors.depth(), "one update per layer");
    let mut out = vec![0.0; factors.samples() * factors.outputs_dim()];
    for (l, (layer, (dw, db))) in factors.layers.iter().zip(updates).enumerate() {
        let u = match factors.device_inputs.get(l) {
            Some(h) => {
                let bias = db.clone().reshape([1, dw.dims()[1]]);
                crate::convert::tensor_to_mat_f64(
                    h.clone().matmul(dw.clone()) + bias.mul_scalar(factors.bias_scales[l]),
                )
            }
            // Host-only factors: h̃ (with its bias column) times [ΔW; Δb].
            None => {
                let step = crate::convert::join_bias(dw.clone(), db.clone());
                &layer.input * crate::convert::tensor_to_mat_f64(step)
            }
        };
        add_layer_image(&mut out, &layer.delta, &u);
    }
    out
}

/// ∇Lᵀ Δθ = gᵀ(JΔθ)/N for the output gradient g = N∂L/∂f (class-major), from the factors.
pub fn gradient_dot(factors: &Factors, direction: &Direction, g: &[f64]) -> f64 {
    let step = function_step(factors, direction);
    step.iter().zip(g).map(|(a, b)| a * b).sum::<f64>() / factors.samples() as f64
}

/// Θ̄(x, x) = J G⁻¹ Jᵀ / N (eq. 11) of a method at the factor samples, column by column:
/// column k is J Δθ for the residual e = e_k (the k-th unit vector), CN × CN. The input Grams
/// are formed once for all columns.
pub fn coefficient_matrix(
    curvature: &dyn crate::Curvature,
    factors: &Factors,
) -> crate::Result<Mat<f64>> {
    let cn = factors.samples() * factors.outputs_dim();
    let grams = InputGrams::new(factors);
    let mut theta_bar = Mat::zeros(cn, cn);
    for k in 0..cn {
        let mut e = vec![0.0; cn];
        e[k] = 1.0;
        let step = function_step_with(factors, &grams, &curvature.direction(factors, &e)?);
        for (i, v) in step.into_iter().enumerate() {
            theta_bar[(i, k)] = v;
        }
    }
    Ok(theta_bar)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{explicit_jacobian, synthetic_factors};

    #[test]
    fn coefficients_reproduce_explicit_vector_jacobian_product() {
        let (n, c_out) = (5, 2);
        let f = synthetic_factors(n, c_out, &[4, 6, 3], 1);
        let v: Vec<f64> = (0..n * c_out).map(|k| (k as f64 * 0.7).sin()).collect();
        for (l, layer) in f.layers.iter().enumerate() {
            let r = dual_to_coefficients(&f, l, &v);
            let step = layer.input.transpose() * &r; // (M_{l−1}+1) × M_l, [j, i]
            let jt_v = explicit_jacobian(layer, n).transpose() * ngd_linalg::col(&v);
            let m_in = layer.input.ncols();
            for col in 0..jt_v.nrows() {
                let (i, j) = (col / m_in, col % m_in);
                assert!((step[(j, i)] - jt_v[(col, 0)]).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn function_step_equals_explicit_jacobian_times_step() {
        let (n, c_out) = (4, 3);
        let f = synthetic_factors(n, c_out, &[5, 7, 6, 3], 2);
        let rs: Vec<Mat<f64>> = f
            .layers
            .iter()
            .map(|l| Mat::from_fn(n, l.delta.ncols(), |i, j| ((i * 3 + j) as f64).cos()))
            .collect();
        let got = function_step(&f, &Direction::from_coefficients(rs.clone()));
        let mut want = vec![0.0; n * c_out];
        for (layer, r) in f.layers.iter().zip(&rs) {
            let step = layer.input.transpose() * r;
            let m_in = layer.input.ncols();
            let flat = Mat::from_fn(step.nrows() * step.ncols(), 1, |col, _| {
                step[(col % m_in, col / m_in)]
            });
            let jd = explicit_jacobian(layer, n) * flat;
            for (k, w) in want.iter_mut().enumerate() {
                *w += jd[(k, 0)];
            }
        }
        for (a, b) in got.iter().zip(&want) {
            assert!((a - b).abs() < 1e-10 * (1.0 + b.abs()), "{a} vs {b}");
        }
    }
}
