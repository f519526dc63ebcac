//! Analytic infinite-width ReLU kernels of every layer (MATH.md §5, paper Section E).
//!
//! For inputs x (rows of the input matrices, M_0 = number of columns) the recursion is
//!
//! ```text
//! A_0(x',x) = x'·x / M_0
//! Q_l       = σ_w² A_{l−1} + σ_b²                         (pre-activation covariance of u_l)
//! q_l(x)    = Q_l(x,x),   P_l = Q_l(x',x)/√(q_l(x') q_l(x))  clipped to [−1, 1]
//! A_l       = √(q q')/(2π) · (√(1−P²) + (π/2)P + P arcsin P)   = E[φ(u)φ(u')]   (l = 1..L−1)
//! K'_l      = (arcsin P + π/2)/(2π)                            = E[φ'(u)φ'(u')]
//! B_L = 1,  B_l = σ_w² B_{l+1} ⊙ K'_l                            (back-propagated kernel)
//! Θ_l       = B_l ⊙ Q_l                                        (layer-l NTK)
//! ```
//!
//! Conventions (see the crate docs): Θ_l(x',x) = ∇_{θ_l}f(x')·∇_{θ_l}f(x) **without** the
//! paper's 1/N (use [`LayerKernels::ntk_paper`] for eq. 6's Θ = Σ_l Θ_l / N);
//! A_l = h_l(x')·h_l(x)/M_l; B_l = δ_l(x')·δ_l(x). The formulas hold for inputs of any norm
//! (q_1 uses the actual ‖x‖²); the paper normalises ‖x‖ = 1.
//!
//! Work is split into blocks of columns (= blocks of samples of the second input set, which are
//! contiguous in faer's column-major storage) processed in parallel with rayon; each block
//! computes its Gram tile with one sequential matrix product and then the whole layer
//! recursion entry by entry, writing every requested output exactly once. Besides the outputs
//! only per-block scratch (a few MB) is allocated.
mod blocks;
mod kernels;

pub use kernels::{AnalyticConfig, KernelSet, LayerKernels};

use blocks::*;

use std::f64::consts::PI;

use faer::{Mat, MatRef};
use rayon::prelude::*;

use crate::Result;

/// E[φ(u)φ(u')] for ReLU φ and a centred Gaussian pair with variances q, q' and correlation
/// p (MATH.md §5 "A_l"): √(q q')/(2π) · (√(1−p²) + (π/2)p + p arcsin p). `p` is clipped to [−1, 1].
pub fn relu_a(q: f64, q_prime: f64, p: f64) -> f64 {
    let p = p.clamp(-1.0, 1.0);
    (q * q_prime).sqrt() / (2.0 * PI) * ((1.0 - p * p).sqrt() + p * (PI / 2.0 + p.asin()))
}

/// E[φ'(u)φ'(u')] for ReLU (φ' = step) and correlation p (MATH.md §5 "K'_l"):
/// (arcsin p + π/2)/(2π). `p` is clipped to [−1, 1].
pub fn relu_k_prime(p: f64) -> f64 {
    (p.clamp(-1.0, 1.0).asin() + PI / 2.0) / (2.0 * PI)
}

/// All layer kernels Θ_l, A_l, B_l between x' = `x1` (N'×M_0, one sample per row) and
/// x = `x2` (N×M_0), each N'×N (MATH.md §5). Equivalent to
/// [`relu_layer_kernels_select`] with [`KernelSet::ALL`].
pub fn relu_layer_kernels(
    cfg: &AnalyticConfig,
    x1: MatRef<'_, f64>,
    x2: MatRef<'_, f64>,
) -> Result<LayerKernels> {
    relu_layer_kernels_select(cfg, x1, x2, KernelSet::ALL)
}

/// The symmetric case x' = x: all N×N layer kernels of one input set (MATH.md §5). Only the
/// lower triangle is evaluated and then mirrored, so the outputs are exactly symmetric.
pub fn relu_layer_kernels_sym(cfg: &AnalyticConfig, x: MatRef<'_, f64>) -> Result<LayerKernels> {
    relu_layer_kernels_sym_select(cfg, x, KernelSet::ALL)
}

/// Like [`relu_layer_kernels`], materialising only the families in `set` (MATH.md §5).
pub fn relu_layer_kernels_select(
    cfg: &AnalyticConfig,
    x1: MatRef<'_, f64>,
    x2: MatRef<'_, f64>,
    set: KernelSet,
) -> Result<LayerKernels> {
    check_inputs(cfg, x1, x2)?;
    let chain1 = diagonal_chain(cfg, x1);
    let chain2 = diagonal_chain(cfg, x2);
    let (n1, n2) = (x1.nrows(), x2.nrows());
    let mut out = allocate(cfg, set, n1, n2);
    {
        let blocks = split_column_blocks(&mut out, n2, BLOCK_COLS);
        blocks.into_par_iter().for_each(|(j0, outs)| {
            compute_block(cfg, set, x1, x2, &chain1, &chain2, 0, j0, false, outs)
        });
    }
    Ok(out)
}

/// Like [`relu_layer_kernels_sym`], materialising only the families in `set` (MATH.md §5).
pub fn relu_layer_kernels_sym_select(
    cfg: &AnalyticConfig,
    x: MatRef<'_, f64>,
    set: KernelSet,
) -> Result<LayerKernels> {
    check_inputs(cfg, x, x)?;
    let chain = diagonal_chain(cfg, x);
    let n = x.nrows();
    let mut out = allocate(cfg, set, n, n);
    {
        // Lower triangle (rows ≥ the block's first column) of every column block.
        let blocks = split_column_blocks(&mut out, n, BLOCK_COLS);
        blocks.into_par_iter().for_each(|(j0, outs)| {
            compute_block(cfg, set, x, x, &chain, &chain, j0, j0, true, outs)
        });
    }
    let mut all: Vec<&mut Mat<f64>> = out
        .theta
        .iter_mut()
        .chain(out.a.iter_mut())
        .chain(out.b.iter_mut())
        .collect();
    all.par_iter_mut()
        .for_each(|m| mirror_lower_blocks(m.as_mut(), BLOCK_COLS));
    Ok(out)
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::KernelError;

    /// Deterministic pseudo-random unit-norm rows (no RNG dependency).
    fn unit_rows(n: usize, d: usize, salt: u64) -> Mat<f64> {
        let mut m = Mat::from_fn(n, d, |i, j| {
            let h = (i as u64 * 0x9E37_79B9_7F4A_7C15) ^ (j as u64 * 0xC2B2_AE3D_27D4_EB4F) ^ salt;
            let h = h.wrapping_mul(0x2545_F491_4F6C_DD1D);
            (h >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        });
        for i in 0..n {
            let norm: f64 = (0..d).map(|j| m[(i, j)] * m[(i, j)]).sum::<f64>().sqrt();
            for j in 0..d {
                m[(i, j)] /= norm;
            }
        }
        m
    }

    /// The symmetric path (lower triangle + mirror, several blocks incl. a partial one) equals
    /// the general path to rounding (1e-14 relative) off the diagonal and is exactly symmetric.
    /// On the diagonal the general path sees P = 1 − O(ε) and, since arcsin has infinite slope at
    /// 1, is only accurate to ~√ε ≈ 1e-8 (tolerance 1e-7); the symmetric path imposes P = 1.
    #[test]
    fn symmetric_path_matches_general_path() {
        let x = unit_rows(3 * BLOCK_COLS + 5, 7, 1);
        for depth in [1, 2, 4] {
            let cfg = AnalyticConfig {
                depth,
                sigma_w2: 1.7,
                sigma_b2: 0.2,
            };
            let s = relu_layer_kernels_sym(&cfg, x.as_ref()).unwrap();
            let g = relu_layer_kernels(&cfg, x.as_ref(), x.as_ref()).unwrap();
            for (ms, mg) in s
                .theta
                .iter()
                .chain(&s.a)
                .chain(&s.b)
                .zip(g.theta.iter().chain(&g.a).chain(&g.b))
            {
                let scale = ngd_linalg::max_abs_diff(
                    mg.as_ref(),
                    Mat::<f64>::zeros(mg.nrows(), mg.ncols()).as_ref(),
                );
                for j in 0..mg.ncols() {
                    for i in 0..mg.nrows() {
                        let tol = if i == j { 1e-7 } else { 1e-14 } * scale;
                        assert!((ms[(i, j)] - mg[(i, j)]).abs() <= tol, "({i},{j})");
                    }
                }
                assert_eq!(ngd_linalg::max_abs_diff(ms.as_ref(), ms.transpose()), 0.0);
            }
        }
    }

    /// Selecting a subset gives the same matrices as computing all; the swapped argument order
    /// gives the transpose (1e-14 relative); diagonal A_l = q_l/2 (ReLU second moment).
    #[test]
    fn selection_transpose_and_diagonal() {
        let x1 = unit_rows(2 * BLOCK_COLS + 3, 5, 2);
        let x2 = unit_rows(BLOCK_COLS + 9, 5, 3);
        let cfg = AnalyticConfig {
            depth: 3,
            sigma_w2: 2.0,
            sigma_b2: 0.1,
        };
        let all = relu_layer_kernels(&cfg, x1.as_ref(), x2.as_ref()).unwrap();
        let th =
            relu_layer_kernels_select(&cfg, x1.as_ref(), x2.as_ref(), KernelSet::THETA).unwrap();
        let kf =
            relu_layer_kernels_select(&cfg, x1.as_ref(), x2.as_ref(), KernelSet::KFAC).unwrap();
        assert!(th.a.is_empty() && th.b.is_empty() && kf.theta.is_empty());
        for l in 0..3 {
            assert_eq!(
                ngd_linalg::max_abs_diff(th.theta[l].as_ref(), all.theta[l].as_ref()),
                0.0
            );
            assert_eq!(
                ngd_linalg::max_abs_diff(kf.a[l].as_ref(), all.a[l].as_ref()),
                0.0
            );
            assert_eq!(
                ngd_linalg::max_abs_diff(kf.b[l].as_ref(), all.b[l].as_ref()),
                0.0
            );
        }
        let swapped = relu_layer_kernels(&cfg, x2.as_ref(), x1.as_ref()).unwrap();
        for l in 0..3 {
            let d = ngd_linalg::max_abs_diff(swapped.theta[l].as_ref(), all.theta[l].transpose());
            assert!(d < 1e-14, "Θ_{} transpose mismatch {d}", l + 1);
        }
        // Diagonal: q_1 = σ_w²/M_0 + σ_b² for unit inputs, A_1(x,x) = q_1/2.
        let s = relu_layer_kernels_sym(&cfg, x1.as_ref()).unwrap();
        let q1 = 2.0 / 5.0 + 0.1;
        let q2 = 2.0 * q1 / 2.0 + 0.1;
        for i in 0..x1.nrows() {
            assert!((s.a[1][(i, i)] - q1 / 2.0).abs() < 1e-14);
            assert!((s.a[2][(i, i)] - q2 / 2.0).abs() < 1e-14);
            assert_eq!(s.b[2][(i, i)], 1.0);
            // K'(P = 1) = 1/2 ⇒ B_2 = σ_w²/2 = 1, B_1 = σ_w²·B_2/2 = 1.
            assert!((s.b[1][(i, i)] - 1.0).abs() < 1e-14 && (s.b[0][(i, i)] - 1.0).abs() < 1e-14);
        }
    }

    /// Invalid configurations are errors, not panics.
    #[test]
    fn invalid_inputs_are_rejected() {
        let x = unit_rows(4, 3, 4);
        let y = unit_rows(4, 2, 5);
        let bad = AnalyticConfig {
            depth: 0,
            sigma_w2: 2.0,
            sigma_b2: 0.0,
        };
        assert!(relu_layer_kernels_sym(&bad, x.as_ref()).is_err());
        let bad = AnalyticConfig {
            depth: 2,
            sigma_w2: -1.0,
            sigma_b2: 0.0,
        };
        assert!(relu_layer_kernels_sym(&bad, x.as_ref()).is_err());
        let ok = AnalyticConfig::paper(2);
        assert!(matches!(
            relu_layer_kernels(&ok, x.as_ref(), y.as_ref()),
            Err(KernelError::Shape(_))
        ));
    }
}
