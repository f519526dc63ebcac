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

use std::f64::consts::PI;

use faer::linalg::matmul::matmul;
use faer::prelude::{Reborrow, ReborrowMut};
use faer::{Accum, Mat, MatMut, MatRef, Par};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{KernelError, Result};

/// Columns per parallel work block. The block's Gram tile (N'×BLOCK_COLS, one sequential matrix
/// product) runs at ~12 GFlop/s per core with 32 columns and ~23 with 256 (measured, D = 784).
const BLOCK_COLS: usize = 256;

/// Architecture of the infinite-width ReLU network (eq. 1): depth L and the variances σ_w², σ_b².
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnalyticConfig {
    /// Number of layers L (L − 1 hidden ReLU layers and one linear output layer), L ≥ 1.
    pub depth: usize,
    /// Weight variance σ_w² (eq. 1); the paper uses 2.
    pub sigma_w2: f64,
    /// Bias variance σ_b² (eq. 1); the paper's figures use 0.
    pub sigma_b2: f64,
}

impl AnalyticConfig {
    /// The paper's setting for Figures 1–2: σ_w² = 2, σ_b² = 0 (MATH.md §6).
    pub fn paper(depth: usize) -> Self {
        Self {
            depth,
            sigma_w2: 2.0,
            sigma_b2: 0.0,
        }
    }

    /// Checks L ≥ 1, σ_w² > 0 and σ_b² ≥ 0 (all finite), as eq. (1) requires.
    pub fn validate(&self) -> Result<()> {
        if self.depth == 0 {
            return Err(KernelError::Config("depth L must be at least 1".into()));
        }
        if !(self.sigma_w2.is_finite() && self.sigma_w2 > 0.0) {
            return Err(KernelError::Config(format!(
                "σ_w² must be finite and > 0, got {}",
                self.sigma_w2
            )));
        }
        if !(self.sigma_b2.is_finite() && self.sigma_b2 >= 0.0) {
            return Err(KernelError::Config(format!(
                "σ_b² must be finite and ≥ 0, got {}",
                self.sigma_b2
            )));
        }
        Ok(())
    }
}

/// Which families of kernels to materialise (each costs L full N'×N matrices).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelSet {
    /// Per-layer NTKs Θ_l, l = 1..L (needed by GD, exact and layer-wise NGD).
    pub theta: bool,
    /// Forward kernels A_l, l = 0..L−1 (needed by K-FAC, eq. 21).
    pub a: bool,
    /// Backward kernels B_l, l = 1..L (needed by K-FAC, eq. 21).
    pub b: bool,
}

impl KernelSet {
    /// Θ_l, A_l and B_l.
    pub const ALL: Self = Self {
        theta: true,
        a: true,
        b: true,
    };
    /// Only the per-layer NTKs Θ_l (GD, exact, layer-wise predictors).
    pub const THETA: Self = Self {
        theta: true,
        a: false,
        b: false,
    };
    /// Only A_l and B_l (the K-FAC predictor, eq. 21).
    pub const KFAC: Self = Self {
        theta: false,
        a: true,
        b: true,
    };

    /// Union of two selections.
    pub fn union(self, other: Self) -> Self {
        Self {
            theta: self.theta || other.theta,
            a: self.a || other.a,
            b: self.b || other.b,
        }
    }
}

/// The per-layer kernels between two input sets x' (N' rows) and x (N rows), each N'×N
/// (MATH.md §5, Theorem 4.1's Θ_l and eq. 21's A_l, B_l).
///
/// Families that were not requested (see [`KernelSet`]) are empty vectors.
#[derive(Clone, Debug)]
pub struct LayerKernels {
    /// `theta[l−1]` = Θ_l(x', x) = ∇_{θ_l}f(x')·∇_{θ_l}f(x), l = 1..L (no 1/N factor).
    pub theta: Vec<Mat<f64>>,
    /// `a[l]` = A_l(x', x) = h_l(x')·h_l(x)/M_l, l = 0..L−1 (A_0 = x'·x/M_0).
    pub a: Vec<Mat<f64>>,
    /// `b[l−1]` = B_l(x', x) = δ_l(x')·δ_l(x), l = 1..L (B_L = 1, the single output).
    pub b: Vec<Mat<f64>>,
    /// Depth L.
    pub depth: usize,
    /// σ_w² used to build Q_l = σ_w² A_{l−1} + σ_b² (the K-FAC input factor).
    pub sigma_w2: f64,
    /// σ_b² used to build Q_l = σ_w² A_{l−1} + σ_b².
    pub sigma_b2: f64,
}

impl LayerKernels {
    /// Which families are present.
    pub fn available(&self) -> KernelSet {
        KernelSet {
            theta: !self.theta.is_empty(),
            a: !self.a.is_empty(),
            b: !self.b.is_empty(),
        }
    }

    /// (N', N): rows (first input set x') and columns (second input set x); (0, 0) when empty.
    pub fn shape(&self) -> (usize, usize) {
        self.theta
            .iter()
            .chain(&self.a)
            .chain(&self.b)
            .next()
            .map_or((0, 0), |m| (m.nrows(), m.ncols()))
    }

    /// Θ_l(x', x) for l = 1..=L (1-based as in the paper).
    pub fn layer_theta(&self, l: usize) -> &Mat<f64> {
        &self.theta[l - 1]
    }

    /// A_l(x', x) for l = 0..L−1 (0-based as in the paper).
    pub fn layer_a(&self, l: usize) -> &Mat<f64> {
        &self.a[l]
    }

    /// B_l(x', x) for l = 1..=L (1-based as in the paper).
    pub fn layer_b(&self, l: usize) -> &Mat<f64> {
        &self.b[l - 1]
    }

    /// The NTK Σ_l Θ_l(x', x) in the per-sample convention ∇f(x')·∇f(x) (MATH.md §5).
    ///
    /// # Panics
    /// If Θ_l were not computed.
    pub fn ntk(&self) -> Mat<f64> {
        assert!(
            !self.theta.is_empty(),
            "LayerKernels::ntk: Θ_l were not computed"
        );
        let mut sum = self.theta[0].clone();
        for t in &self.theta[1..] {
            sum += t;
        }
        sum
    }

    /// The paper's NTK of eq. (6), Θ(x', x) = J(x')J(x)ᵀ/N = [`Self::ntk`] / N, where N is the
    /// number of *training* samples (the N of the loss (3)), which drives GD's eq. (5).
    pub fn ntk_paper(&self, n_train: usize) -> Mat<f64> {
        let mut k = self.ntk();
        k *= faer::Scale(1.0 / n_train as f64);
        k
    }

    /// Q_l(x', x) = σ_w² A_{l−1} + σ_b² = h̃_{l−1}(x')·h̃_{l−1}(x) for l = 1..=L: the Gram of the
    /// bias-augmented input of layer l (MATH.md §2), i.e. K-FAC's input factor.
    ///
    /// # Panics
    /// If A_l were not computed.
    pub fn input_factor(&self, l: usize) -> Mat<f64> {
        let a = &self.a[l - 1];
        let (w, b) = (self.sigma_w2, self.sigma_b2);
        Mat::from_fn(a.nrows(), a.ncols(), |i, j| w * a[(i, j)] + b)
    }
}

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

fn check_inputs(cfg: &AnalyticConfig, x1: MatRef<'_, f64>, x2: MatRef<'_, f64>) -> Result<()> {
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
fn allocate(cfg: &AnalyticConfig, set: KernelSet, n1: usize, n2: usize) -> LayerKernels {
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
fn split_column_blocks(
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
fn diagonal_chain(cfg: &AnalyticConfig, x: MatRef<'_, f64>) -> Vec<Vec<f64>> {
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
fn compute_block(
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
fn mirror_lower_blocks(mut m: MatMut<'_, f64>, width: usize) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
