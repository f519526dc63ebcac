//! The factored step Δθ_l = J_lᵀ-like products and their image J Δθ in function space.

use faer::Mat;
use ngd_model::Factors;

/// A parameter step in factored form: for layer l, Δ(W_lᵀ | b_l) = h̃_{l−1}ᵀ R_l.
#[derive(Debug, Clone)]
pub struct Direction {
    /// R_l, N × M_l, for l = 1..L.
    pub coefficients: Vec<Mat<f64>>,
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
/// step Δθ, computed from the factors as Σ_l [(δ_l R_lᵀ) ⊙ H̃_l] 1 without forming Δθ.
pub fn function_step(factors: &Factors, direction: &Direction) -> Vec<f64> {
    let n = factors.samples();
    let cn = n * factors.outputs_dim();
    let mut out = vec![0.0; cn];
    for (layer, r) in factors.layers.iter().zip(&direction.coefficients) {
        let h = layer.input_gram();
        let dr = &layer.delta * r.transpose(); // CN × N
        for (row, o) in out.iter_mut().enumerate() {
            let m = row % n;
            *o += (0..n).map(|k| dr[(row, k)] * h[(m, k)]).sum::<f64>();
        }
    }
    out
}

/// Θ̄(x, x) = J G⁻¹ Jᵀ / N (eq. 11) of a method at the factor samples, column by column:
/// column k is J Δθ for the residual e = e_k (the k-th unit vector), CN × CN.
pub fn coefficient_matrix(
    curvature: &dyn crate::Curvature,
    factors: &Factors,
) -> crate::Result<Mat<f64>> {
    let cn = factors.samples() * factors.outputs_dim();
    let mut theta_bar = Mat::zeros(cn, cn);
    for k in 0..cn {
        let mut e = vec![0.0; cn];
        e[k] = 1.0;
        let step = function_step(factors, &curvature.direction(factors, &e)?);
        for (i, v) in step.into_iter().enumerate() {
            theta_bar[(i, k)] = v;
        }
    }
    Ok(theta_bar)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ngd_model::LayerFactors;

    /// Deterministic pseudo-random factors: N samples, C outputs, widths per layer.
    pub fn synthetic_factors(n: usize, c_out: usize, widths: &[usize], seed: u64) -> Factors {
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let mut next = move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 33) as f64 / (1u64 << 31) as f64) - 0.5
        };
        let layers = widths
            .windows(2)
            .map(|w| LayerFactors {
                input: Mat::from_fn(n, w[0] + 1, |_, j| if j == w[0] { 0.3 } else { next() }),
                delta: Mat::from_fn(c_out * n, w[1], |_, _| next()),
            })
            .collect();
        Factors {
            layers,
            outputs: Mat::zeros(n, c_out),
            device_inputs: Vec::new(),
            sigma_b: 0.3,
        }
    }

    /// Explicit J_l (CN × (M_{l−1}+1)M_l), rows (c, n), columns (i, j) = (output unit, input).
    fn explicit_jacobian(layer: &LayerFactors, n: usize) -> Mat<f64> {
        let (m_in, m_out) = (layer.input.ncols(), layer.delta.ncols());
        Mat::from_fn(layer.delta.nrows(), m_in * m_out, |row, col| {
            layer.delta[(row, col / m_in)] * layer.input[(row % n, col % m_in)]
        })
    }

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
        let got = function_step(&f, &Direction { coefficients: rs.clone() });
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
