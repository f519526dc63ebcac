//! Empirical (finite-width) layer kernels from the Jacobian factors of a real network
//! (MATH.md §2), in the conventions of [`LayerKernels`] so that every predictor of
//! [`crate::predict`] runs on them unchanged.
//!
//! Per layer l the per-sample Jacobian is δ_l ⊗ h̃_{l−1} with the bias-augmented input
//! h̃_{l−1} = [σ_w h_{l−1}/√M_{l−1}; σ_b] (it already carries σ_w/√M and the σ_b column), so
//!
//! * Q_l(x', x) = h̃_{l−1}(x')·h̃_{l−1}(x) = σ_w²A_{l−1} + σ_b², hence
//!   **A_{l−1} = (h̃_{l−1}(x')·h̃_{l−1}(x) − σ_b²)/σ_w²** (A_0 = x'·x/M_0 for layer 1's input);
//! * **B_l(x', x) = δ_l(x')·δ_l(x)** (B_L = 1 for one output);
//! * **Θ_l(x', x) = B_l ⊙ Q_l** (no 1/N, as in [`LayerKernels`]).
//!
//! # Several outputs
//! The predictors use I_C ⊗ Θ (one N×N kernel shared by the C outputs), which is exact at
//! infinite width, where the cross-class blocks δ^{(c)}·δ^{(c')} (c ≠ c') vanish and the
//! diagonal blocks coincide. At finite width B_l is taken as the **class average of the
//! diagonal blocks**, B_l = (1/C) Σ_c δ_l^{(c)}(x')·δ_l^{(c)}(x) (B_L = 1 still), and the
//! cross-class blocks are dropped.

use faer::{Mat, MatRef};

use crate::analytic::{KernelSet, LayerKernels};
use crate::{KernelError, Result};

/// Jacobian factors of one layer l at a set of n samples (borrowed, e.g. from
/// `ngd_optim::LayerFactors`).
#[derive(Clone, Copy, Debug)]
pub struct FactorRef<'a> {
    /// h̃_{l−1}: n × (M_{l−1} + 1), with σ_w/√M_{l−1} applied and the last column σ_b.
    pub input: MatRef<'a, f64>,
    /// δ_l stacked class-major: row c·n + i holds δ_l^{(c)}(x_i); C·n × M_l.
    pub delta: MatRef<'a, f64>,
}

/// Empirical layer kernels between the sample set of `rows` (x', N' samples) and of `cols`
/// (x, N samples): every family in `set`, each N'×N, in [`LayerKernels`]' conventions
/// (module docs). `rows`/`cols` hold one [`FactorRef`] per layer l = 1..L of the same network;
/// `outputs` is C. Pass the same factors twice for the training kernels (the result is then
/// symmetric up to rounding; it is symmetrised exactly).
pub fn empirical_layer_kernels(
    set: KernelSet,
    rows: &[FactorRef<'_>],
    cols: &[FactorRef<'_>],
    outputs: usize,
    sigma_w2: f64,
    sigma_b2: f64,
) -> Result<LayerKernels> {
    let depth = rows.len();
    if depth == 0 || cols.len() != depth {
        return Err(KernelError::Shape(format!(
            "need one factor per layer for both sample sets, got {} and {}",
            rows.len(),
            cols.len()
        )));
    }
    if outputs == 0 {
        return Err(KernelError::Config(
            "number of outputs C must be ≥ 1".into(),
        ));
    }
    if !(sigma_w2.is_finite() && sigma_w2 > 0.0 && sigma_b2.is_finite() && sigma_b2 >= 0.0) {
        return Err(KernelError::Config(format!(
            "need σ_w² > 0 and σ_b² ≥ 0, got {sigma_w2}, {sigma_b2}"
        )));
    }
    let (n_rows, n_cols) = (rows[0].input.nrows(), cols[0].input.nrows());
    for (l, (r, c)) in rows.iter().zip(cols).enumerate() {
        let l = l + 1;
        if r.input.nrows() != n_rows || c.input.nrows() != n_cols {
            return Err(KernelError::Shape(format!(
                "layer {l}: inputs have {} and {} rows, expected {n_rows} and {n_cols}",
                r.input.nrows(),
                c.input.nrows()
            )));
        }
        if r.delta.nrows() != outputs * n_rows || c.delta.nrows() != outputs * n_cols {
            return Err(KernelError::Shape(format!(
                "layer {l}: δ has {} and {} rows, expected C·n = {} and {}",
                r.delta.nrows(),
                c.delta.nrows(),
                outputs * n_rows,
                outputs * n_cols
            )));
        }
        if r.input.ncols() != c.input.ncols() || r.delta.ncols() != c.delta.ncols() {
            return Err(KernelError::Shape(format!(
                "layer {l}: the two sample sets have different widths ({}/{} vs {}/{})",
                r.input.ncols(),
                r.delta.ncols(),
                c.input.ncols(),
                c.delta.ncols()
            )));
        }
    }
    let symmetric = n_rows == n_cols
        && rows.iter().zip(cols).all(|(r, c)| {
            std::ptr::eq(r.input.as_ptr(), c.input.as_ptr())
                && std::ptr::eq(r.delta.as_ptr(), c.delta.as_ptr())
        });

    let mut out = LayerKernels {
        theta: Vec::new(),
        a: Vec::new(),
        b: Vec::new(),
        depth,
        sigma_w2,
        sigma_b2,
    };
    for l in 1..=depth {
        let (r, c) = (rows[l - 1], cols[l - 1]);
        // Q_l = h̃'h̃ᵀ, needed by Θ_l and A_{l−1} (only).
        let q = (set.theta || set.a).then(|| {
            let mut q = r.input * c.input.transpose();
            if symmetric {
                symmetrise(&mut q);
            }
            q
        });
        let need_b = set.theta || set.b;
        let b = if need_b {
            let mut b = if l == depth && outputs == 1 {
                // δ_L = 1 for the single output: B_L = 1 exactly.
                Mat::from_fn(n_rows, n_cols, |_, _| 1.0)
            } else {
                class_averaged_gram(r.delta, c.delta, outputs, n_rows, n_cols)
            };
            if symmetric {
                symmetrise(&mut b);
            }
            Some(b)
        } else {
            None
        };
        if set.theta {
            let (b, q) = (
                b.as_ref().expect("B_l computed"),
                q.as_ref().expect("Q_l computed"),
            );
            out.theta
                .push(Mat::from_fn(n_rows, n_cols, |i, j| b[(i, j)] * q[(i, j)]));
        }
        if set.a {
            let (w, bb, q) = (sigma_w2, sigma_b2, q.as_ref().expect("Q_l computed"));
            out.a
                .push(Mat::from_fn(n_rows, n_cols, |i, j| (q[(i, j)] - bb) / w));
        }
        if set.b {
            out.b.push(b.expect("B_l computed"));
        }
    }
    Ok(out)
}

/// (1/C) Σ_c δ^{(c)}(rows)·δ^{(c)}(cols), from class-major stacked δ.
fn class_averaged_gram(
    rows: MatRef<'_, f64>,
    cols: MatRef<'_, f64>,
    outputs: usize,
    n_rows: usize,
    n_cols: usize,
) -> Mat<f64> {
    let mut b = Mat::<f64>::zeros(n_rows, n_cols);
    for c in 0..outputs {
        let dr = rows.subrows(c * n_rows, n_rows);
        let dc = cols.subrows(c * n_cols, n_cols);
        b += dr * dc.transpose();
    }
    if outputs > 1 {
        b *= faer::Scale(1.0 / outputs as f64);
    }
    b
}

/// m ← (m + mᵀ)/2 (square m).
fn symmetrise(m: &mut Mat<f64>) {
    let n = m.nrows();
    for j in 0..n {
        for i in (j + 1)..n {
            let v = 0.5 * (m[(i, j)] + m[(j, i)]);
            m[(i, j)] = v;
            m[(j, i)] = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mat(rows: usize, cols: usize, seed: u64) -> Mat<f64> {
        // Small deterministic pseudo-random entries in [−1, 1).
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        Mat::from_fn(rows, cols, |_, _| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
    }

    /// Θ_l, A_l, B_l entry by entry from the definitions (C = 2, class-averaged B), train and
    /// test blocks, to 1e-12; a δ with the wrong number of rows is a shape error.
    #[test]
    fn kernels_follow_the_definitions() {
        let (n, nt, c, m0, m) = (5, 3, 2, 4, 6);
        let (sw2, sb2): (f64, f64) = (2.0, 0.25);
        let set = |n: usize, seed: u64| {
            let mut x = mat(n, m0 + 1, seed);
            let mut h = mat(n, m + 1, seed + 1);
            for i in 0..n {
                x[(i, m0)] = sb2.sqrt();
                h[(i, m)] = sb2.sqrt();
            }
            (
                x,
                h,
                mat(c * n, m, seed + 2),
                mat(c * n, m, seed + 3),
                mat(c * n, c, seed + 4),
            )
        };
        let tr = set(n, 10);
        let te = set(nt, 20);
        type Set = (Mat<f64>, Mat<f64>, Mat<f64>, Mat<f64>, Mat<f64>);
        fn refs(s: &Set) -> Vec<FactorRef<'_>> {
            vec![
                FactorRef {
                    input: s.0.as_ref(),
                    delta: s.2.as_ref(),
                },
                FactorRef {
                    input: s.1.as_ref(),
                    delta: s.3.as_ref(),
                },
                FactorRef {
                    input: s.1.as_ref(),
                    delta: s.4.as_ref(),
                },
            ]
        }
        let (rt, re) = (refs(&tr), refs(&te));
        let k = empirical_layer_kernels(KernelSet::ALL, &re, &rt, c, sw2, sb2).unwrap();
        assert_eq!(k.shape(), (nt, n));
        for l in 0..3 {
            for i in 0..nt {
                for j in 0..n {
                    let hi = re[l].input.row(i);
                    let hj = rt[l].input.row(j);
                    let q: f64 = (0..hi.ncols()).map(|a| hi[a] * hj[a]).sum();
                    let b: f64 = (0..c)
                        .map(|cc| {
                            let (di, dj) =
                                (re[l].delta.row(cc * nt + i), rt[l].delta.row(cc * n + j));
                            (0..di.ncols()).map(|a| di[a] * dj[a]).sum::<f64>()
                        })
                        .sum::<f64>()
                        / c as f64;
                    assert!((k.theta[l][(i, j)] - b * q).abs() < 1e-12);
                    assert!((k.b[l][(i, j)] - b).abs() < 1e-12);
                    assert!((k.a[l][(i, j)] - (q - sb2) / sw2).abs() < 1e-12);
                }
            }
        }
        let sym = empirical_layer_kernels(KernelSet::THETA, &rt, &rt, c, sw2, sb2).unwrap();
        for l in 0..3 {
            let t = &sym.theta[l];
            for i in 0..n {
                for j in 0..n {
                    assert_eq!(t[(i, j)], t[(j, i)]);
                }
            }
        }
        let bad = vec![FactorRef {
            input: tr.0.as_ref(),
            delta: tr.2.as_ref().subrows(0, n),
        }];
        assert!(matches!(
            empirical_layer_kernels(KernelSet::THETA, &bad, &bad, c, sw2, sb2),
            Err(KernelError::Shape(_))
        ));
    }
}
