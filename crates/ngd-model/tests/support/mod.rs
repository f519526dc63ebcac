//! Helpers of the parameter-space reference tests: a tiny NTK `Mlp`, its explicit Jacobian
//! from the factors, flattened steps and eigen pseudo-inverses.
#![allow(dead_code)]

use faer::{Mat, Scale};
use ngd_linalg::{col, max_abs_diff, solve_pseudo_inverse};
use ngd_model::{Activation, Device, Mlp, MlpConfig};
use ngd_optim::Factors;
use ngd_optim::convert::tensor_from_rows;
use ngd_optim::{Direction, LayerStep};

/// The test device: burn's default CPU backend.
pub fn device() -> Device {
    Device::default()
}

/// N unit-norm inputs of dimension d (row-major), deterministic and in general position.
pub fn inputs(n: usize, d: usize, seed: usize) -> Vec<f64> {
    let mut state = (seed as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut x: Vec<f64> = (0..n * d)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        })
        .collect();
    for row in x.chunks_mut(d) {
        let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
        row.iter_mut().for_each(|v| *v /= norm);
    }
    x
}

/// A residual e (length CN, class-major), deterministic.
pub fn residual(cn: usize) -> Vec<f64> {
    (0..cn).map(|k| (k as f64 * 1.3 + 0.2).sin()).collect()
}

/// The network M_0 → width^{L−1} → C with σ_w² = 2 and σ_b² = 0.3 (with the default σ_b² = 0
/// the bias column of h̃ is zero, and K-FAC's explicit A*_0 is singular at ρ = 0 when N > M_0).
pub fn network(
    m0: usize,
    width: usize,
    depth: usize,
    c: usize,
    activation: Activation,
    seed: u64,
) -> Mlp {
    MlpConfig::new(m0, width, depth, c)
        .with_variances(2.0, 0.3)
        .with_activation(activation)
        .init(seed, &device())
        .unwrap()
}

pub fn factors_at(model: &Mlp, x: &[f64], n: usize) -> Factors {
    let d = model.config.widths[0];
    model.factors(tensor_from_rows(x, n, d, &device()))
}

/// Parameter count (M_{l−1}+1)·M_l of each layer.
pub fn layer_sizes(f: &Factors) -> Vec<usize> {
    f.layers
        .iter()
        .map(|l| l.input.ncols() * l.width())
        .collect()
}

/// Explicit J_l (CN × (M_{l−1}+1)M_l): row (c, n), column i·(M_{l−1}+1) + j (output unit i,
/// input j, the bias as j = M_{l−1}); J_l[(c,n), (i,j)] = δ_l^{(c)}(n)_i h̃_{l−1}(n)_j (MATH.md §2).
pub fn layer_jacobian(f: &Factors, l: usize) -> Mat<f64> {
    let layer = &f.layers[l];
    let (n, m_in) = (f.samples(), layer.input.ncols());
    Mat::from_fn(layer.delta.nrows(), m_in * layer.width(), |row, k| {
        layer.delta[(row, k / m_in)] * layer.input[(row % n, k % m_in)]
    })
}

/// The whole J = [J_1 … J_L], CN × P.
pub fn jacobian(f: &Factors) -> Mat<f64> {
    let blocks: Vec<Mat<f64>> = (0..f.depth()).map(|l| layer_jacobian(f, l)).collect();
    let p: usize = blocks.iter().map(|b| b.ncols()).sum();
    let mut j = Mat::zeros(blocks[0].nrows(), p);
    let mut off = 0;
    for b in &blocks {
        for r in 0..b.nrows() {
            for k in 0..b.ncols() {
                j[(r, off + k)] = b[(r, k)];
            }
        }
        off += b.ncols();
    }
    j
}

/// Δθ of a direction as one P-vector in the order of [`jacobian`]'s columns: the dense
/// Δ(W_lᵀ | b_l) = h̃_{l−1}ᵀR_l of dual coefficients, or the dense step itself.
pub fn flat_step(f: &Factors, d: &Direction) -> Mat<f64> {
    let mut out = Vec::new();
    for (layer, step) in f.layers.iter().zip(&d.layers) {
        let s = match step {
            LayerStep::Coefficients(r) => layer.input.transpose() * r,
            LayerStep::Dense(s) => s.clone(),
        };
        let m_in = layer.input.ncols();
        assert_eq!((s.nrows(), s.ncols()), (m_in, layer.width()));
        for k in 0..m_in * layer.width() {
            out.push(s[(k % m_in, k / m_in)]);
        }
    }
    col(&out)
}

/// ‖a − b‖_max / ‖b‖_max.
pub fn rel_max(a: &Mat<f64>, b: &Mat<f64>) -> f64 {
    let scale = (0..b.nrows())
        .flat_map(|i| (0..b.ncols()).map(move |j| (i, j)))
        .map(|(i, j)| b[(i, j)].abs())
        .fold(0.0f64, f64::max);
    max_abs_diff(a.as_ref(), b.as_ref()) / scale
}

/// A⁺b for a symmetric PSD A by eigen-decomposition, after checking that the spectrum has a
/// clear gap between the kept and the dropped eigenvalues (so the cut-off decides nothing).
pub fn pinv_solve(a: &Mat<f64>, b: &Mat<f64>, expected_rank: usize, what: &str) -> Mat<f64> {
    let values = ngd_linalg::symmetric_eigenvalues(a.as_ref(), what).unwrap();
    let lmax = values.last().copied().unwrap();
    let kept: Vec<f64> = values
        .iter()
        .copied()
        .filter(|v| v.abs() > 1e-10 * lmax)
        .collect();
    assert_eq!(
        kept.len(),
        expected_rank,
        "{what}: rank, spectrum {values:?}"
    );
    let smallest_kept = kept.iter().copied().fold(f64::INFINITY, f64::min);
    let largest_dropped = values
        .iter()
        .filter(|v| v.abs() <= 1e-10 * lmax)
        .fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(
        smallest_kept > 1e-9 * lmax && largest_dropped < 1e-13 * lmax,
        "{what}: no clear spectral gap ({smallest_kept:e} kept, {largest_dropped:e} dropped, \
         λ_max {lmax:e})"
    );
    solve_pseudo_inverse(a.as_ref(), b.as_ref(), 1e-10, what).unwrap()
}

/// ∇L = Jᵀe/N (MSE with residual e, MATH.md §3), P × 1.
pub fn gradient(j: &Mat<f64>, e: &[f64], n: usize) -> Mat<f64> {
    j.transpose() * col(e) * Scale(1.0 / n as f64)
}
