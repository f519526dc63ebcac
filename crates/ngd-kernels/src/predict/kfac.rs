//! K-FAC's explicit Θ̄(x', x) (eq. 21) with its first-layer input factor inverted,
//! pseudo-inverted, or pseudo-inverted through the inputs (paper §4.3).

use faer::{Mat, MatRef};
use ngd_linalg::Cholesky;

use crate::analytic::LayerKernels;
use crate::{KernelError, LinalgError, Result};

/// How K-FAC treats the first layer's input factor Q_1 = σ_w²A_0 + σ_b² ∝ XXᵀ (+ bias).
#[derive(Clone, Copy)]
pub(super) enum FirstFactor<'x> {
    /// Cholesky, like every other factor (eq. 21 as printed; needs M_0 ≥ N).
    Invert,
    /// Cholesky, with the last layer weighted 1 instead of N (training's K-FAC, α = N(L−1)+1).
    InvertLastLayerOnce,
    /// Moore–Penrose pseudo-inverse through Q_1's eigen-decomposition (relative cut-off).
    PseudoInverse(f64),
    /// Pseudo-inverse through the inputs: Q_1'Q_1⁺ = X̃'(X̃ᵀX̃)⁺X̃ᵀ with the bias-augmented
    /// X̃ = [σ_w X/√M_0, σ_b 1] (train, test).
    FromInputs(MatRef<'x, f64>, MatRef<'x, f64>),
    /// [`FirstFactor::FromInputs`] with the last layer weighted 1 instead of N.
    FromInputsLastLayerOnce(MatRef<'x, f64>, MatRef<'x, f64>),
}

/// K-FAC's Θ̄(x', x)ᵀ (N×N', eq. 21):
/// N · [Σ_{l=1}^{L−1} (B_l⁻¹B_l'ᵀ) ⊙ (Q_l⁻¹Q_l'ᵀ) + Q_L⁻¹Q_L'ᵀ], Q_l = σ_w²A_{l−1} + σ_b².
/// With a pseudo-inverted Q_1 the diagonal of Θ̄(x, x) is returned too:
/// Θ̄(x,x)/N = (L−1)I + (B_1B_1⁻¹) ⊙ (Q_1Q_1⁺) = (L−1)I + diag(Q_1Q_1⁺) (paper §4.3).
pub(super) fn kfac_coefficient_transposed(
    train: &LayerKernels,
    test: &LayerKernels,
    first: FirstFactor<'_>,
) -> Result<(Mat<f64>, Option<Vec<f64>>)> {
    let depth = train.depth;
    let (n, n_test) = (train.shape().0, test.shape().0);
    let last_layer_once = matches!(
        first,
        FirstFactor::InvertLastLayerOnce | FirstFactor::FromInputsLastLayerOnce(..)
    );
    let mut ht = Mat::<f64>::zeros(n, n_test);
    let mut train_diag = None;
    for l in 1..=depth {
        // Input-factor term R_Q = Q_l⁻¹ Q_l'ᵀ (N×N').
        let (r_q, proj_diag) = match (l, first) {
            (1, FirstFactor::PseudoInverse(tol)) => {
                let q = train.input_factor(1);
                let q_test_t = test.input_factor(1).transpose().to_owned();
                let (r, d) = pinv_solve_with_projector_diag(q.as_ref(), q_test_t.as_ref(), tol)?;
                (r, Some(d))
            }
            (1, FirstFactor::FromInputs(x, x_test))
            | (1, FirstFactor::FromInputsLastLayerOnce(x, x_test)) => {
                let (r, d) = input_projection(train, test, x, x_test)?;
                (r, Some(d))
            }
            _ => (inverse_input_factor(train, test, l)?, None),
        };
        if l == depth {
            // Last layer: B_L = 1 (one output) contributes a scalar factor 1; training's K-FAC
            // has no N on it (its B*_L is 1 × 1, not pushed through), eq. 21 as printed does.
            if last_layer_once {
                ht += r_q * faer::Scale(1.0 / n as f64);
            } else {
                ht += &r_q;
            }
        } else {
            let what = format!("K-FAC backward factor B_{l}(x,x)");
            let b = Cholesky::new(train.b[l - 1].as_ref(), &what)?;
            let r_b = b.solve(test.b[l - 1].transpose());
            hadamard_accumulate(&mut ht, &r_b, &r_q);
        }
        if let Some(pd) = proj_diag {
            let lm1 = (depth - 1) as f64;
            let scale = n as f64;
            train_diag = Some(if last_layer_once {
                // N[(L−2) + p] + 1
                pd.iter().map(|&p| scale * (lm1 - 1.0 + p) + 1.0).collect()
            } else {
                pd.iter().map(|&p| scale * (lm1 + p)).collect()
            });
        }
    }
    ht *= faer::Scale(n as f64);
    Ok((ht, train_diag))
}

/// Q_l⁻¹ Q_l'ᵀ by Cholesky (N×N'); a singular Q_1 becomes [`KernelError::KfacSingularInput`].
pub(super) fn inverse_input_factor(
    train: &LayerKernels,
    test: &LayerKernels,
    l: usize,
) -> Result<Mat<f64>> {
    let n = train.shape().0;
    let q = train.input_factor(l);
    let what = format!(
        "K-FAC input factor Q_{l}(x,x) = σ_w²A_{}(x,x) + σ_b²",
        l - 1
    );
    let chol = match Cholesky::new(q.as_ref(), &what) {
        Ok(c) => c,
        Err(e @ LinalgError::Singular { .. }) if l == 1 => {
            return Err(KernelError::KfacSingularInput { n, source: e });
        }
        Err(e) => return Err(e.into()),
    };
    drop(q);
    Ok(chol.solve(test.input_factor(l).transpose()))
}

/// The bias-augmented layer-1 input X̃ = [σ_w X/√M_0, σ_b 1] (bias column only when σ_b² > 0).
pub(super) fn augmented_inputs(x: MatRef<'_, f64>, sigma_w2: f64, sigma_b2: f64) -> Mat<f64> {
    let m0 = x.ncols();
    let w = (sigma_w2 / m0 as f64).sqrt();
    let cols = if sigma_b2 > 0.0 { m0 + 1 } else { m0 };
    let b = sigma_b2.sqrt();
    Mat::from_fn(
        x.nrows(),
        cols,
        |i, j| if j < m0 { w * x[(i, j)] } else { b },
    )
}

/// (X̃(X̃ᵀX̃)⁻¹X̃'ᵀ, diag(X̃(X̃ᵀX̃)⁻¹X̃ᵀ)) = (Q_1⁺Q_1'ᵀ, diag(Q_1Q_1⁺)) computed from the inputs,
/// after checking that X̃X̃ᵀ reproduces the kernels' Q_1 (so the inputs match the kernels).
pub(super) fn input_projection(
    train: &LayerKernels,
    test: &LayerKernels,
    x: MatRef<'_, f64>,
    x_test: MatRef<'_, f64>,
) -> Result<(Mat<f64>, Vec<f64>)> {
    let (n, n_test) = (train.shape().0, test.shape().0);
    if x.nrows() != n || x_test.nrows() != n_test || x.ncols() != x_test.ncols() {
        return Err(KernelError::Shape(format!(
            "inputs {}×{} / {}×{} do not match the kernels' N = {n}, N' = {n_test}",
            x.nrows(),
            x.ncols(),
            x_test.nrows(),
            x_test.ncols()
        )));
    }
    let xa = augmented_inputs(x, train.sigma_w2, train.sigma_b2);
    let xa_test = augmented_inputs(x_test, train.sigma_w2, train.sigma_b2);
    check_inputs_match(xa.as_ref(), xa.as_ref(), &train.a[0], train)?;
    check_inputs_match(xa_test.as_ref(), xa.as_ref(), &test.a[0], train)?;
    let gram = xa.transpose() * &xa;
    // (X̃ᵀX̃)⁺X̃ᵀ, r×N: Cholesky when X̃ has full column rank, else the pseudo-inverse (inputs that
    // span fewer than M_0 dimensions: constant pixels, a Forster span), eigenvalues at or below
    // 1e-12·λ_max dropped like training's first input factor (ngd_optim::blocks PINV_REL_TOL).
    let z = match Cholesky::new(gram.as_ref(), "K-FAC layer-1 input Gram X̃ᵀX̃") {
        Ok(chol) => chol.solve(xa.transpose()),
        Err(LinalgError::Singular { .. }) => ngd_linalg::solve_pseudo_inverse(
            gram.as_ref(),
            xa.transpose(),
            1e-12,
            "K-FAC layer-1 input Gram X̃ᵀX̃ (pseudo-inverse)",
        )?,
        Err(e) => return Err(e.into()),
    };
    let diag = (0..n)
        .map(|i| (0..xa.ncols()).map(|k| xa[(i, k)] * z[(k, i)]).sum())
        .collect();
    let r = z.transpose() * xa_test.transpose(); // X̃(X̃ᵀX̃)⁻¹X̃'ᵀ, N×N'
    Ok((r, diag))
}

/// Checks σ_w²A_0 + σ_b² = X̃_rows X̃_colsᵀ on a few entries (relative 1e-8).
pub(super) fn check_inputs_match(
    rows: MatRef<'_, f64>,
    cols: MatRef<'_, f64>,
    a0: &Mat<f64>,
    k: &LayerKernels,
) -> Result<()> {
    let (nr, nc) = (a0.nrows(), a0.ncols());
    for s in 0..16usize {
        let (i, j) = ((s * 7919) % nr, (s * 104_729 + s / 2) % nc);
        let from_inputs: f64 = (0..rows.ncols()).map(|c| rows[(i, c)] * cols[(j, c)]).sum();
        let from_kernel = k.sigma_w2 * a0[(i, j)] + k.sigma_b2;
        let scale = from_kernel.abs().max(k.sigma_w2 / rows.ncols() as f64);
        if (from_inputs - from_kernel).abs() > 1e-8 * scale {
            return Err(KernelError::Shape(format!(
                "inputs do not reproduce the kernels' A_0 (entry ({i},{j}): {from_inputs} vs {from_kernel})"
            )));
        }
    }
    Ok(())
}

/// dst += a ⊙ b (equal shapes).
pub(super) fn hadamard_accumulate(dst: &mut Mat<f64>, a: &Mat<f64>, b: &Mat<f64>) {
    for j in 0..dst.ncols() {
        let (a, b) = (a.col_as_slice(j), b.col_as_slice(j));
        for (i, d) in dst.col_as_slice_mut(j).iter_mut().enumerate() {
            *d += a[i] * b[i];
        }
    }
}

/// Q⁺ R (through Q's eigen-decomposition, eigenvalues ≤ rel_tol·λ_max dropped) and the
/// diagonal of the projector Q Q⁺ = U_r U_rᵀ.
pub(super) fn pinv_solve_with_projector_diag(
    q: MatRef<'_, f64>,
    rhs: MatRef<'_, f64>,
    rel_tol: f64,
) -> Result<(Mat<f64>, Vec<f64>)> {
    let eig = ngd_linalg::symmetric_eigen(q, "K-FAC input factor Q_1(x,x) (pseudo-inverse)")?;
    let lmax = eig.values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let keep: Vec<usize> = (0..eig.values.len())
        .filter(|&k| eig.values[k] > rel_tol * lmax)
        .collect();
    let u = eig.vectors.as_ref();
    let ur = Mat::from_fn(u.nrows(), keep.len(), |i, k| u[(i, keep[k])]);
    let mut coeff = ur.transpose() * rhs;
    for (k, &idx) in keep.iter().enumerate() {
        let inv = 1.0 / eig.values[idx];
        for j in 0..coeff.ncols() {
            coeff[(k, j)] *= inv;
        }
    }
    let diag = (0..ur.nrows())
        .map(|i| (0..ur.ncols()).map(|k| ur[(i, k)] * ur[(i, k)]).sum())
        .collect();
    Ok((&ur * coeff, diag))
}
