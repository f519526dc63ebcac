//! Shared helpers of the unit tests: synthetic Jacobian factors, explicit Jacobians and
//! explicit parameter-space references (test builds only).

use crate::Direction;
use crate::Factors;
use crate::LayerFactors;
use crate::LayerStep;
use faer::Mat;
use faer::Scale;
use ngd_linalg::add_to_diagonal;
use ngd_linalg::col;
use ngd_linalg::max_abs_diff;
use ngd_linalg::solve_pseudo_inverse;
use ngd_linalg::solve_spd;

/// Deterministic pseudo-random factors: N samples, C outputs, widths per layer.
pub(crate) fn synthetic_factors(n: usize, c_out: usize, widths: &[usize], seed: u64) -> Factors {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
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
        kinds: vec![crate::LayerKind::Linear; widths.len() - 1],
        layers,
        outputs: Mat::zeros(n, c_out),
        device_inputs: Vec::new(),
        bias_scales: vec![0.3; widths.len() - 1],
    }
}

/// Explicit J_l (CN × (M_{l−1}+1)M_l), rows (c, n), columns (i, j) = (output unit, input).
pub(crate) fn explicit_jacobian(layer: &LayerFactors, n: usize) -> Mat<f64> {
    let (m_in, m_out) = (layer.input.ncols(), layer.delta.ncols());
    Mat::from_fn(layer.delta.nrows(), m_in * m_out, |row, col| {
        layer.delta[(row, col / m_in)] * layer.input[(row % n, col % m_in)]
    })
}

pub(crate) fn identity_times(a: f64, n: usize) -> Mat<f64> {
    Mat::from_fn(n, n, |i, j| if i == j { a } else { 0.0 })
}

pub(crate) fn residual(n: usize) -> Vec<f64> {
    (0..n).map(|k| (k as f64 * 1.3 + 0.2).sin()).collect()
}

/// Δ(W_lᵀ | b_l) of every layer, (M_{l−1}+1) × M_l, from a direction.
pub(crate) fn dense_steps(f: &Factors, d: &Direction) -> Vec<Mat<f64>> {
    f.layers
        .iter()
        .zip(&d.layers)
        .map(|(layer, step)| match step {
            LayerStep::Coefficients(r) => layer.input.transpose() * r,
            LayerStep::Dense(s) => s.clone(),
        })
        .collect()
}

/// Widths [20, 24, 18, …, 1] of depth L (wide enough that ρ = 0 is exact for N = 6).
pub(crate) fn wide(depth: usize) -> Vec<usize> {
    let mut w = vec![20];
    w.extend((1..depth).map(|l| 18 + 3 * (l % 3)));
    w.push(1);
    w
}

/// Row-major Kronecker product B ⊗ A.
pub(crate) fn kron(b: &Mat<f64>, a: &Mat<f64>) -> Mat<f64> {
    let (p, q) = (a.nrows(), a.ncols());
    Mat::from_fn(b.nrows() * p, b.ncols() * q, |r, c| {
        b[(r / p, c / q)] * a[(r % p, c % q)]
    })
}

/// K-FAC with explicit factors and the explicit Kronecker inverse (eq. 20, MATH.md §8):
/// A = h̃ᵀh̃/N + ρ_A, B = δᵀΛδ/N + ρ_B (Λ: CN × CN, class-major), π from the traces,
/// vec_r(ΔW̃_l) = (B ⊗ A)⁻¹ vec_r(Σ_{c,n} g_{c,n} δ^{(c)}(n) ⊗ h̃(n) / N), as Δ(W_lᵀ | b_l).
pub(crate) fn kfac_explicit(f: &Factors, g: &[f64], lambda: &Mat<f64>, rho: f64) -> Vec<Mat<f64>> {
    let n = f.samples();
    let scale = Scale(1.0 / n as f64);
    f.layers
        .iter()
        .map(|layer: &LayerFactors| {
            let h = &layer.input;
            let d = &layer.delta;
            let mut a = h.transpose() * h * scale;
            let mut b = d.transpose() * lambda * d * scale;
            let tr =
                |m: &Mat<f64>| (0..m.nrows()).map(|i| m[(i, i)]).sum::<f64>() / m.nrows() as f64;
            let pi = (tr(&a) / tr(&b)).sqrt();
            add_to_diagonal(&mut a, rho.sqrt() * pi);
            add_to_diagonal(&mut b, rho.sqrt() / pi);
            let gd = Mat::from_fn(d.nrows(), d.ncols(), |k, j| g[k] * d[(k, j)]);
            let hs = Mat::from_fn(d.nrows(), h.ncols(), |k, j| h[(k % n, j)]);
            let grad = gd.transpose() * hs * scale; // M_l × (M_{l−1}+1)
            let (mo, mi) = (grad.nrows(), grad.ncols());
            let gv = Mat::from_fn(mo * mi, 1, |k, _| grad[(k / mi, k % mi)]);
            let x = solve_spd(kron(&b, &a).as_ref(), gv.as_ref(), "kron").unwrap();
            Mat::from_fn(mi, mo, |j, i| x[(i * mi + j, 0)])
        })
        .collect()
}

/// Asserts that every layer of `got` equals `want` to a relative 1e-8 (Frobenius).
pub(crate) fn assert_layers_close(got: &[Mat<f64>], want: &[Mat<f64>], what: &str) {
    for (l, (g, w)) in got.iter().zip(want).enumerate() {
        let err = max_abs_diff(g.as_ref(), w.as_ref()) / ngd_linalg::frobenius(w.as_ref());
        assert!(
            err < 1e-8,
            "{what}, layer {}: relative error {err:.2e}",
            l + 1
        );
    }
}

/// Synthetic ReLU-like factors: δ zeroed on a pseudo-random ~40 % of (sample, unit) pairs of
/// the hidden layers.
pub(crate) fn relu_like(n: usize, widths: &[usize], seed: u64) -> Factors {
    relu_like_outputs(n, 1, widths, seed)
}

/// [`relu_like`] with C outputs: a unit is off on a sample for every output at once (φ′ = 0).
pub(crate) fn relu_like_outputs(n: usize, c_out: usize, widths: &[usize], seed: u64) -> Factors {
    let mut f = synthetic_factors(n, c_out, widths, seed);
    let depth = f.depth();
    for (l, layer) in f.layers.iter_mut().enumerate().take(depth - 1) {
        for i in 0..layer.delta.nrows() {
            for j in 0..layer.delta.ncols() {
                if ((i % n) * 7 + j * 13 + l * 5) % 5 < 2 {
                    layer.delta[(i, j)] = 0.0;
                }
            }
        }
    }
    f
}

/// Unit i's explicit step (g_iᵀΛg_i/N + ρ)⁺ g_iᵀe/N with g_i = diag(δ_i) h̃ (eq. 23; Λ = I
/// for MSE), as columns of Δ(W_lᵀ | b_l); ρ = 0 uses the eigen-decomposition pseudo-inverse.
pub(crate) fn unit_wise_explicit(
    f: &Factors,
    e: &[f64],
    lambda: &Mat<f64>,
    rho: f64,
) -> Vec<Mat<f64>> {
    let n = f.samples();
    let scale = Scale(1.0 / n as f64);
    f.layers
        .iter()
        .map(|layer| {
            let h = &layer.input;
            let mut out = Mat::zeros(h.ncols(), layer.delta.ncols());
            for i in 0..layer.delta.ncols() {
                let g = Mat::from_fn(layer.delta.nrows(), h.ncols(), |a, b| {
                    layer.delta[(a, i)] * h[(a % n, b)]
                });
                let mut fisher = g.transpose() * lambda * &g * scale;
                add_to_diagonal(&mut fisher, rho);
                let grad = g.transpose() * col(e) * scale;
                let step =
                    solve_pseudo_inverse(fisher.as_ref(), grad.as_ref(), 1e-10, "F_i").unwrap();
                for j in 0..h.ncols() {
                    out[(j, i)] = step[(j, 0)];
                }
            }
            out
        })
        .collect()
}

/// Explicit F_l = J_lᵀJ_l/N, parameters ordered (unit i, input j) with the bias j = M_{l−1}.
pub(crate) fn explicit_fisher(f: &Factors, l: usize) -> Mat<f64> {
    let layer = &f.layers[l];
    let (m_in, n) = (layer.input.ncols(), f.samples());
    let j = Mat::from_fn(layer.delta.nrows(), m_in * layer.width(), |row, col| {
        layer.delta[(row, col / m_in)] * layer.input[(row % n, col % m_in)]
    });
    j.transpose() * &j * Scale(1.0 / n as f64)
}

/// Factors with non-trivial outputs f (so that p = softmax(f) is not uniform).
pub(crate) fn with_outputs(mut f: Factors) -> Factors {
    let (n, c) = (f.samples(), f.outputs_dim());
    f.outputs = Mat::from_fn(n, c, |i, j| ((i * 5 + j * 3) as f64 * 0.9).sin() * 1.5);
    f
}

pub(crate) use ngd_core::testing::targets;

/// Explicit Λ (CN × CN, class-major) of the likelihood at f.
pub(crate) fn explicit_lambda(f: &Factors) -> Mat<f64> {
    let (n, c) = (f.samples(), f.outputs_dim());
    let id = Mat::<f64>::identity(n * c, n * c);
    crate::Loss::CrossEntropy.weight_gram(&f.outputs, id)
}
