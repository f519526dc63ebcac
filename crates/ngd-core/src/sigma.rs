//! Layer-wise Σ matrices and the isotropy constant α = 1ᵀΣ⁻¹1 (Theorem 4.1, eq. 19, Lemma 4.3).

use faer::{Mat, MatRef};
use ngd_linalg::LinalgError;

/// An invalid layer-wise Σ (eq. 15–16).
#[derive(Debug, thiserror::Error)]
pub enum SigmaError {
    /// Σ is not a non-empty square matrix, or does not match the network's depth.
    #[error("layer-wise Σ: {0}")]
    Shape(String),
    /// Σ must be a symmetric L×L matrix with finite entries (eq. 15).
    #[error(
        "layer-wise Σ must be symmetric with finite entries (eq. 15); max |Σ − Σᵀ| = {asymmetry:e}"
    )]
    NotSymmetric {
        /// Largest entry of |Σ − Σᵀ| (NaN for non-finite entries).
        asymmetry: f64,
    },
    /// Σ is singular, so α = 1ᵀΣ⁻¹1 (Theorem 4.1) is undefined.
    #[error(
        "layer-wise Σ ({depth}×{depth}) is singular, so α = 1ᵀΣ⁻¹1 (Theorem 4.1) is undefined{hint}; \
         pseudo-inverse NGD with this Σ has no convergence guarantee as ρ → 0 — use damping \
         ρ > 0 in parameter space, or another depth / Σ"
    )]
    Singular {
        /// L, the size of Σ.
        depth: usize,
        /// Extra explanation (e.g. the L = 3s+2 rule of Lemma 4.3), possibly empty.
        hint: String,
    },
    /// The solve of Σv = 1 failed otherwise.
    #[error(transparent)]
    Linalg(#[from] LinalgError),
}

type Result<T> = std::result::Result<T, SigmaError>;

/// Σ = I_L: the block-diagonal layer-wise FIM (Section 4.1, α = L).
pub fn block_diagonal_sigma(depth: usize) -> Mat<f64> {
    Mat::identity(depth, depth)
}

/// The block tri-diagonal Σ of eq. (19): Σ_ij = 1 for |i − j| ≤ 1, else 0 (Section 4.2).
pub fn tridiagonal_sigma(depth: usize) -> Mat<f64> {
    Mat::from_fn(
        depth,
        depth,
        |i, j| if i.abs_diff(j) <= 1 { 1.0 } else { 0.0 },
    )
}

/// The layer weights Σ⁻¹1_L of eq. (16), by an LU solve of Σ v = 1_L.
///
/// Errors: [`SigmaError::NotSymmetric`] unless Σ is symmetric (eq. 15), and
/// [`SigmaError::Singular`] when Σ is singular — for the tri-diagonal Σ of eq. (19) that is
/// exactly the depths L = 3s + 2 (Lemma 4.3). Note that Σ need not be positive definite: the
/// tri-diagonal Σ is indefinite for every L ≥ 3 (eigenvalues 1 + 2cos(kπ/(L+1))), yet it is
/// invertible for L = 3s, 3s+1 and Theorem 4.1's α is still well defined.
pub fn layerwise_weights(sigma: MatRef<'_, f64>) -> Result<Vec<f64>> {
    let depth = sigma.nrows();
    check_square(sigma)?;
    check_symmetric(sigma)?;
    let ones = Mat::from_fn(depth, 1, |_, _| 1.0);
    match ngd_linalg::solve_general(sigma, ones.as_ref(), "layer-wise Σ") {
        Ok(v) => Ok((0..depth).map(|i| v[(i, 0)]).collect()),
        Err(LinalgError::Singular { .. }) => Err(SigmaError::Singular {
            depth,
            hint: singular_hint(sigma),
        }),
        Err(e) => Err(e.into()),
    }
}

/// α = 1_Lᵀ Σ⁻¹ 1_L, the isotropy constant of layer-wise NGD (Theorem 4.1), from
/// [`layerwise_weights`]. Block diagonal: α = L; tri-diagonal: L = 3s → s, L = 3s+1 → s+1,
/// L = 3s+2 → error (Lemma 4.3).
pub fn layerwise_alpha(sigma: MatRef<'_, f64>) -> Result<f64> {
    Ok(layerwise_weights(sigma)?.iter().sum())
}

/// Checks that Σ is a non-empty square L×L matrix ([`SigmaError::Shape`] otherwise).
pub fn check_square(sigma: MatRef<'_, f64>) -> Result<()> {
    if sigma.nrows() == 0 || sigma.ncols() != sigma.nrows() {
        return Err(SigmaError::Shape(format!(
            "Σ must be a non-empty square L×L matrix, got {}×{}",
            sigma.nrows(),
            sigma.ncols()
        )));
    }
    Ok(())
}

/// Checks that Σ is symmetric with finite entries (to 1e-12 of its largest entry).
pub fn check_symmetric(sigma: MatRef<'_, f64>) -> Result<()> {
    let depth = sigma.nrows();
    let mut asym = 0.0f64;
    let mut scale = 0.0f64;
    let mut finite = true;
    for i in 0..depth {
        for j in 0..depth {
            let (a, b) = (sigma[(i, j)], sigma[(j, i)]);
            finite &= a.is_finite();
            asym = asym.max((a - b).abs());
            scale = scale.max(a.abs());
        }
    }
    if !finite {
        return Err(SigmaError::NotSymmetric {
            asymmetry: f64::NAN,
        });
    }
    if asym > 1e-12 * scale {
        return Err(SigmaError::NotSymmetric { asymmetry: asym });
    }
    Ok(())
}

fn singular_hint(sigma: MatRef<'_, f64>) -> String {
    let depth = sigma.nrows();
    let tri = tridiagonal_sigma(depth);
    if ngd_linalg::max_abs_diff(sigma, tri.as_ref()) == 0.0 {
        format!(
            ": the block tri-diagonal Σ of eq. (19) is singular for every depth L = 3s+2 \
             (Lemma 4.3), and L = {depth} = 3·{}+2",
            depth / 3
        )
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lemma 4.3: L = 3s → α = s, L = 3s+1 → α = s+1 (exact small integers; tolerance 1e-12).
    #[test]
    fn tridiagonal_alpha_follows_lemma_4_3() {
        for (depth, expect) in [(3, 1.0), (4, 2.0), (6, 2.0), (7, 3.0), (9, 3.0), (10, 4.0)] {
            let a = layerwise_alpha(tridiagonal_sigma(depth).as_ref()).unwrap();
            assert!(
                (a - expect).abs() < 1e-12,
                "L = {depth}: α = {a}, want {expect}"
            );
        }
    }

    /// L = 3s+2 (5, 8, 11): Σ singular, reported with the Lemma 4.3 hint and damping advice.
    #[test]
    fn tridiagonal_sigma_singular_for_3s_plus_2() {
        for depth in [2, 5, 8, 11] {
            let err = layerwise_alpha(tridiagonal_sigma(depth).as_ref()).unwrap_err();
            assert!(
                matches!(err, SigmaError::Singular { .. }),
                "L = {depth}: {err}"
            );
            let msg = err.to_string();
            assert!(msg.contains("singular") && msg.contains("3s+2"), "{msg}");
            assert!(msg.contains("damping"), "{msg}");
        }
    }

    /// Block diagonal Σ = I: weights 1, α = L.
    #[test]
    fn block_diagonal_alpha_is_depth() {
        for depth in 1..6 {
            let w = layerwise_weights(block_diagonal_sigma(depth).as_ref()).unwrap();
            assert_eq!(w, vec![1.0; depth]);
        }
    }

    /// The weights are a genuine solve: Σ v = 1 to rounding (1e-12) for a generic symmetric Σ.
    #[test]
    fn weights_solve_the_system() {
        let s = Mat::from_fn(4, 4, |i, j| {
            if i == j {
                3.0
            } else {
                1.0 / (1.0 + (i + j) as f64)
            }
        });
        let w = layerwise_weights(s.as_ref()).unwrap();
        for i in 0..4 {
            let r: f64 = (0..4).map(|j| s[(i, j)] * w[j]).sum();
            assert!((r - 1.0).abs() < 1e-12);
        }
        let asym = Mat::from_fn(2, 2, |i, j| if i < j { 1.0 } else { 0.5 });
        assert!(matches!(
            layerwise_weights(asym.as_ref()),
            Err(SigmaError::NotSymmetric { .. })
        ));
    }
}
