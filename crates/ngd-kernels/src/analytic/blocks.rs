//! The block-parallel computation behind the analytic kernels: input checks, allocation,
//! column blocks, the layer recursion entry by entry, and the symmetric mirror.

use std::f64::consts::PI;

use faer::linalg::matmul::matmul;
use faer::prelude::{Reborrow, ReborrowMut};
use faer::{Accum, Mat, MatMut, MatRef, Par};
use rayon::prelude::*;

use crate::{KernelError, Result};

use super::{AnalyticConfig, KernelSet, LayerKernels};

/// Columns per parallel work block. The block's Gram tile (N'×BLOCK_COLS, one sequential matrix
/// product) runs at ~12 GFlop/s per core with 32 columns and ~23 with 256 (measured, D = 784).
pub(super) const BLOCK_COLS: usize = 256;
pub(super) fn check_inputs(
    cfg: &AnalyticConfig,
    x1: MatRef<'_, f64>,
    x2: MatRef<'_, f64>,
) -> Result<()> {
    cfg.validate()?;
    if x1.ncols() != x2.ncols() {
        return Err(KernelError::Shape(format!(
            "input sets have different dimensions M_0: {} vs {}",
            x1.ncols(),
            x2.ncols()
        )));
    }
    if x1.ncols() == 0 {
        return Err(KernelError::Shape(
            "inputs have zero columns (M_0 = 0)".into(),
        ));
    }
    for x in [x1, x2] {
        for j in 0..x.ncols() {
            for i in 0..x.nrows() {
                if !x[(i, j)].is_finite() {
                    return Err(KernelError::Config("inputs contain NaN or ±∞".into()));
                }
            }
        }
    }
    Ok(())
}

/// Zero-initialised outputs for the requested families.
pub(super) fn allocate(cfg: &AnalyticConfig, set: KernelSet, n1: usize, n2: usize) -> LayerKernels {
    let family = |wanted: bool| -> Vec<Mat<f64>> {
        if wanted {
            (0..cfg.depth).map(|_| zeros_parallel(n1, n2)).collect()
        } else {
            Vec::new()
        }
    };
    LayerKernels {
        theta: family(set.theta),
        a: family(set.a),
        b: family(set.b),
        depth: cfg.depth,
        sigma_w2: cfg.sigma_w2,
        sigma_b2: cfg.sigma_b2,
    }
}

/// An n1×n2 zero matrix whose memory is zeroed (and first touched) in parallel.
///
/// `Mat::zeros` fills serially, which for 10⁴×10⁴ matrices took longer than computing them.
fn zeros_parallel(n1: usize, n2: usize) -> Mat<f64> {
    /// The allocation's base pointer, shared by the workers (each writes disjoint columns).
    struct Base(*mut f64);
    // SAFETY: the pointer is only used to zero disjoint column ranges, one per worker.
    unsafe impl Send for Base {}
    unsafe impl Sync for Base {}
    let mut m = Mat::<f64>::with_capacity(n1, n2);
    let stride = m.col_stride() as usize;
    let base = Base(m.as_ptr_mut());
    let base = &base;
    (0..n2).into_par_iter().with_min_len(16).for_each(|j| {
        // SAFETY: `with_capacity(n1, n2)` allocated n2 columns of `stride ≥ n1` elements; column
        // j's first n1 elements lie inside the allocation and no other worker touches them.
        unsafe { std::ptr::write_bytes(base.0.add(j * stride), 0, n1) }
    });
    // SAFETY: every element inside the new dimensions was initialised (to 0.0) above.
    unsafe { m.set_dims(n1, n2) };
    m
}

/// Splits every output matrix into column blocks of `width`; returns, per block, its first
/// column and the block views of all outputs in the order θ…, A…, B….
pub(super) fn split_column_blocks(
    out: &mut LayerKernels,
    ncols: usize,
    width: usize,
) -> Vec<(usize, Vec<MatMut<'_, f64>>)> {
    let starts: Vec<usize> = (0..ncols).step_by(width.max(1)).collect();
    let mut blocks: Vec<(usize, Vec<MatMut<'_, f64>>)> =
        starts.iter().map(|&j0| (j0, Vec::new())).collect();
    for m in out
        .theta
        .iter_mut()
        .chain(out.a.iter_mut())
        .chain(out.b.iter_mut())
    {
        let mut rest = m.as_mut();
        for (k, &j0) in starts.iter().enumerate() {
            let w = width.min(ncols - j0);
            let (head, tail) = rest.split_at_col_mut(w);
            blocks[k].1.push(head);
            rest = tail;
        }
    }
    blocks
}

/// q_l(x) = Q_l(x, x) for every sample (rows of `x`) and l = 1..L−1: `chain[l−1][i]`.
///
/// Q_1(x,x) = σ_w²‖x‖²/M_0 + σ_b² and, since E[φ(u)²] = q/2 for ReLU,
/// q_{l+1} = σ_w² q_l / 2 + σ_b².
pub(super) fn diagonal_chain(cfg: &AnalyticConfig, x: MatRef<'_, f64>) -> Vec<Vec<f64>> {
    let m0 = x.ncols() as f64;
    let mut q: Vec<f64> = (0..x.nrows())
        .map(|i| {
            let n2: f64 = (0..x.ncols()).map(|j| x[(i, j)] * x[(i, j)]).sum();
            cfg.sigma_w2 * n2 / m0 + cfg.sigma_b2
        })
        .collect();
    let mut chain = Vec::with_capacity(cfg.depth.saturating_sub(1));
    for _ in 1..cfg.depth {
        let next = q
            .iter()
            .map(|&ql| cfg.sigma_w2 * ql / 2.0 + cfg.sigma_b2)
            .collect();
        chain.push(std::mem::replace(&mut q, next));
    }
    chain
}

/// Per-block scratch: one column of every family for rows r0..N'.
struct Scratch {
    /// `a[l]`: A_l, l = 0..L−1.
    a: Vec<Vec<f64>>,
    /// `b[l−1]`: first K'_l, then B_l (in place), l = 1..L.
    b: Vec<Vec<f64>>,
    /// `theta[l−1]`: Θ_l.
    theta: Vec<Vec<f64>>,
}

/// Computes one column block: columns j0.. of the outputs, rows r0..N' (r0 > 0 only for the
/// lower triangle of the symmetric case).
#[allow(clippy::too_many_arguments)]
pub(super) fn compute_block(
    cfg: &AnalyticConfig,
    set: KernelSet,
    x1: MatRef<'_, f64>,
    x2: MatRef<'_, f64>,
    chain1: &[Vec<f64>],
    chain2: &[Vec<f64>],
    r0: usize,
    j0: usize,
    symmetric: bool,
    mut outs: Vec<MatMut<'_, f64>>,
) {
    let l_depth = cfg.depth;
    let width = outs[0].ncols();
    let rows = x1.nrows() - r0;
    if rows == 0 || width == 0 {
        return;
    }
    // Gram tile x1[r0..] · x2[j0..j0+width]ᵀ, sequential inside the parallel block loop.
    let mut gram = Mat::<f64>::zeros(rows, width);
    matmul(
        gram.as_mut(),
        Accum::Replace,
        x1.subrows(r0, rows),
        x2.subrows(j0, width).transpose(),
        1.0,
        Par::Seq,
    );
    let inv_m0 = 1.0 / x1.ncols() as f64;
    let q_rows: Vec<&[f64]> = chain1.iter().map(|c| &c[r0..]).collect();
    let mut s = Scratch {
        a: vec![vec![0.0; rows]; l_depth],
        b: vec![vec![0.0; rows]; l_depth],
        theta: vec![vec![0.0; rows]; l_depth],
    };
    for jj in 0..width {
        let q_col: Vec<f64> = chain2.iter().map(|c| c[j0 + jj]).collect();
        let g = gram.col_as_slice(jj);
        // In the symmetric case the diagonal entry (sample j with itself) has P = 1 exactly.
        let diag_row = (symmetric && j0 + jj >= r0).then(|| j0 + jj - r0);
        fill_column(cfg, inv_m0, g, &q_rows, &q_col, diag_row, &mut s);
        // Write the requested families (order θ…, A…, B…, matching `split_column_blocks`).
        let mut k = 0;
        let families: [(bool, &Vec<Vec<f64>>); 3] =
            [(set.theta, &s.theta), (set.a, &s.a), (set.b, &s.b)];
        for (wanted, fam) in families {
            if !wanted {
                continue;
            }
            for col in fam {
                let dst = outs[k].rb_mut().col_mut(jj).subrows_mut(r0, rows);
                let dst = dst
                    .try_as_col_major_mut()
                    .expect("faer matrices are column-major")
                    .as_slice_mut();
                dst.copy_from_slice(col);
                k += 1;
            }
        }
    }
}

/// The layer recursion of MATH.md §5 for one column: `g[i]` = x1_i · x2_j, `q_rows[l−1][i]` =
/// q_l(x1_i), `q_col[l−1]` = q_l(x2_j). `diag_row` marks the entry pairing a sample with itself,
/// where P = 1 is imposed exactly: arcsin and √(1 − P²) have infinite slope at P = 1, so the
/// last-bit mismatch between the Gram entry ‖x‖² and the chain q_l would otherwise cost ~1e-8.
fn fill_column(
    cfg: &AnalyticConfig,
    inv_m0: f64,
    g: &[f64],
    q_rows: &[&[f64]],
    q_col: &[f64],
    diag_row: Option<usize>,
    s: &mut Scratch,
) {
    let (sw, sb) = (cfg.sigma_w2, cfg.sigma_b2);
    let depth = cfg.depth;
    for (a0, &gi) in s.a[0].iter_mut().zip(g) {
        *a0 = gi * inv_m0;
    }
    // Forward: A_l and K'_l (stored in b[l−1]) for l = 1..L−1.
    for l in 1..depth {
        let (prev, cur) = s.a.split_at_mut(l);
        let a_prev = &prev[l - 1];
        let a_cur = &mut cur[0];
        let kp = &mut s.b[l - 1];
        let qc = q_col[l - 1];
        let qr = q_rows[l - 1];
        for i in 0..a_prev.len() {
            let q_cross = sw * a_prev[i] + sb;
            let sqrt_qq = (qr[i] * qc).sqrt();
            let p = if sqrt_qq > 0.0 {
                (q_cross / sqrt_qq).clamp(-1.0, 1.0)
            } else {
                0.0
            };
            let asin_p = p.asin();
            a_cur[i] = sqrt_qq / (2.0 * PI) * ((1.0 - p * p).sqrt() + p * (PI / 2.0 + asin_p));
            kp[i] = (asin_p + PI / 2.0) / (2.0 * PI);
        }
        if let Some(d) = diag_row {
            // P = 1: A = √(q q)/2 = q/2, K' = 1/2.
            a_cur[d] = (qr[d] * qc).sqrt() / 2.0;
            kp[d] = 0.5;
        }
    }
    // Backward: B_L = 1, B_l = σ_w² B_{l+1} ⊙ K'_l (in place over K'_l).
    s.b[depth - 1].fill(1.0);
    for l in (1..depth).rev() {
        let (lo, hi) = s.b.split_at_mut(l);
        let b_next = &hi[0];
        for (bl, &bn) in lo[l - 1].iter_mut().zip(b_next) {
            *bl *= sw * bn;
        }
    }
    // Θ_l = B_l ⊙ (σ_w² A_{l−1} + σ_b²).
    for l in 1..=depth {
        let (th, b, a) = (&mut s.theta[l - 1], &s.b[l - 1], &s.a[l - 1]);
        for i in 0..th.len() {
            th[i] = b[i] * (sw * a[i] + sb);
        }
    }
}

/// Fills the strict upper triangle from the lower one (computed block-wise with rows ≥ j0),
/// making the matrix exactly symmetric.
pub(super) fn mirror_lower_blocks(mut m: MatMut<'_, f64>, width: usize) {
    let n = m.ncols();
    let mut j0 = 0;
    while j0 < n {
        let w = width.min(n - j0);
        // Upper-left of the block's columns (rows < j0) ← transpose of rows j0..j0+w, cols < j0.
        let (left, right) = m.rb_mut().split_at_col_mut(j0);
        let src = left.rb().subrows(j0, w);
        let mut dst = right.subcols_mut(0, w);
        transpose_into(dst.rb_mut().subrows_mut(0, j0), src);
        // Inside the diagonal block.
        for jj in 0..w {
            for ii in 0..jj {
                let v = dst[(j0 + jj, ii)];
                dst[(j0 + ii, jj)] = v;
            }
        }
        j0 += w;
    }
}

/// dst = srcᵀ for column-major matrices, in tiles of 32 destination rows (= source columns) so
/// that reads and writes both stay cache-friendly (faer's generic transposed `copy_from` took a
/// third of the run time of the symmetric 10⁴×10⁴ case).
fn transpose_into(mut dst: MatMut<'_, f64>, src: MatRef<'_, f64>) {
    const TILE: usize = 32;
    let (m, n) = (dst.nrows(), dst.ncols());
    debug_assert_eq!((src.nrows(), src.ncols()), (n, m));
    for i0 in (0..m).step_by(TILE) {
        let i1 = (i0 + TILE).min(m);
        let src_cols: Vec<&[f64]> = (i0..i1)
            .map(|i| {
                src.col(i)
                    .try_as_col_major()
                    .expect("column-major")
                    .as_slice()
            })
            .collect();
        for j in 0..n {
            let d = dst
                .rb_mut()
                .col_mut(j)
                .try_as_col_major_mut()
                .expect("column-major")
                .as_slice_mut();
            for (k, sc) in src_cols.iter().enumerate() {
                d[i0 + k] = sc[j];
            }
        }
    }
}
