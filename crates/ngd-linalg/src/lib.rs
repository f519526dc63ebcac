//! Dense f64 linear algebra shared by the optimizer and kernel crates.
//!
//! Everything here works on [`faer::Mat<f64>`]. Kernels, Gram matrices and the dual-form
//! solves of MATH.md §3 are done in double precision; a singular system is reported as
//! [`LinalgError::Singular`] (Cholesky first), never silently mis-solved.

#![warn(missing_docs)]

use faer::linalg::solvers::{DenseSolveCore, Solve};
use faer::{Mat, MatRef, Side};

pub use faer;

/// Errors from the dense solvers.
#[derive(Debug, thiserror::Error)]
pub enum LinalgError {
    /// The matrix is not (numerically) positive definite / invertible.
    #[error(
        "{what}: matrix of size {n}×{n} is singular or not positive definite \
         ({how}) at the damping it was given"
    )]
    Singular {
        /// What the matrix is (e.g. "exact NGD Gram JJᵀ").
        what: String,
        /// Its size.
        n: usize,
        /// How it showed: which factorisation failed, or which threshold it crossed.
        how: &'static str,
    },
    /// An eigen-decomposition did not converge.
    #[error("{what}: eigen-decomposition did not converge")]
    EigenFailed {
        /// What the matrix is.
        what: String,
    },
    /// A matrix or vector contains NaN or ±∞.
    #[error("{what}: matrix contains NaN or infinite entries")]
    NonFinite {
        /// What the matrix is.
        what: String,
    },
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, LinalgError>;

/// Row-major values of a matrix (the layout of `ngd_data` splits and metrics).
pub fn to_rows(m: &Mat<f64>) -> Vec<f64> {
    let (r, c) = (m.nrows(), m.ncols());
    (0..r * c).map(|k| m[(k / c, k % c)]).collect()
}

/// A rows × cols matrix from row-major values.
pub fn from_rows(v: &[f64], rows: usize, cols: usize) -> Mat<f64> {
    Mat::from_fn(rows, cols, |i, j| v[i * cols + j])
}

/// A ← A + c·I (in place).
pub fn add_to_diagonal(a: &mut Mat<f64>, c: f64) {
    for i in 0..a.nrows().min(a.ncols()) {
        a[(i, i)] += c;
    }
}

/// X Xᵀ for a row-major-sample matrix X (n × d): the Gram matrix of its rows.
pub fn gram(x: MatRef<'_, f64>) -> Mat<f64> {
    x * x.transpose()
}

/// A ⊙ B (Hadamard product of equally-shaped matrices).
pub fn hadamard(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> Mat<f64> {
    assert_eq!((a.nrows(), a.ncols()), (b.nrows(), b.ncols()));
    Mat::from_fn(a.nrows(), a.ncols(), |i, j| a[(i, j)] * b[(i, j)])
}

/// Column vector from a slice.
pub fn col(v: &[f64]) -> Mat<f64> {
    Mat::from_fn(v.len(), 1, |i, _| v[i])
}

/// The entries of an n × 1 matrix as a `Vec`.
pub fn to_vec(v: MatRef<'_, f64>) -> Vec<f64> {
    assert_eq!(v.ncols(), 1, "to_vec expects a column");
    (0..v.nrows()).map(|i| v[(i, 0)]).collect()
}

fn check_finite(a: MatRef<'_, f64>, what: &str) -> Result<()> {
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            if !a[(i, j)].is_finite() {
                return Err(LinalgError::NonFinite { what: what.into() });
            }
        }
    }
    Ok(())
}

/// Cholesky factor of a symmetric positive-definite matrix, kept for repeated solves.
pub struct Cholesky {
    llt: faer::linalg::solvers::Llt<f64>,
    n: usize,
}

impl Cholesky {
    /// Factorises A = L Lᵀ; [`LinalgError::Singular`] when A is not positive definite.
    pub fn new(a: MatRef<'_, f64>, what: &str) -> Result<Self> {
        check_finite(a, what)?;
        let n = a.nrows();
        let llt = a.llt(Side::Lower).map_err(|_| LinalgError::Singular {
            what: what.into(),
            n,
            how: "Cholesky failed",
        })?;
        let chol = Self { llt, n };
        chol.check_conditioning(what)?;
        Ok(chol)
    }

    /// Rejects factors whose diagonal spread shows numerical singularity (κ(A) ≳ 1/ε).
    fn check_conditioning(&self, what: &str) -> Result<()> {
        let l = self.llt.L();
        // κ(A) ≥ (max Lᵢᵢ / min Lᵢᵢ)²; beyond ~1e15 the solve carries no digits.
        if self.n > 0 && diagonal_spread((0..self.n).map(|i| l[(i, i)])) >= 1e15 {
            return Err(LinalgError::Singular {
                what: what.into(),
                n: self.n,
                how: "Cholesky condition number above 1e15",
            });
        }
        Ok(())
    }

    /// Solves A X = B.
    pub fn solve(&self, b: MatRef<'_, f64>) -> Mat<f64> {
        self.llt.solve(b)
    }

    /// A⁻¹ (explicit inverse; only for small matrices).
    pub fn inverse(&self) -> Mat<f64> {
        self.llt.inverse()
    }

    /// Size n of the factorised n × n matrix.
    pub fn dim(&self) -> usize {
        self.n
    }
}

/// The largest lower bound (max Lᵢᵢ / min Lᵢᵢ)² of κ(A) at which [`spd_inverse_f32`] keeps its
/// f32 result: f32 carries ~7 digits, so the inverse keeps about three.
pub const F32_INVERSE_MAX_CONDITION: f64 = 1e4;

/// A⁻¹ of a symmetric positive-definite f32 matrix A by Cholesky in f32 (about twice as fast as
/// f64 on a CPU; `examples/inversion.rs`), exactly symmetric; `None` when A is too
/// ill-conditioned for f32: the factorisation fails or κ(A) ≥ (max Lᵢᵢ / min Lᵢᵢ)² reaches
/// [`F32_INVERSE_MAX_CONDITION`].
pub fn spd_inverse_f32(a: MatRef<'_, f32>) -> Option<Mat<f32>> {
    let n = a.nrows();
    // Reads A's lower triangle only, in whatever layout A has.
    let llt = a.llt(Side::Lower).ok()?;
    let l = llt.L();
    if diagonal_spread((0..n).map(|i| l[(i, i)] as f64)) >= F32_INVERSE_MAX_CONDITION {
        return None;
    }
    Some(llt.inverse())
}

/// (max Lᵢᵢ / min Lᵢᵢ)² of a Cholesky factor's diagonal, a lower bound of κ(A); ∞ when a
/// diagonal entry is not positive (never NaN).
fn diagonal_spread(diag: impl Iterator<Item = f64>) -> f64 {
    let (min, max) = diag.fold((f64::INFINITY, 0.0f64), |(lo, hi), d| {
        (lo.min(d), hi.max(d))
    });
    if min > 0.0 {
        (max / min).powi(2)
    } else {
        f64::INFINITY
    }
}

/// Solves the symmetric positive-definite system A X = B by Cholesky.
pub fn solve_spd(a: MatRef<'_, f64>, b: MatRef<'_, f64>, what: &str) -> Result<Mat<f64>> {
    Ok(Cholesky::new(a, what)?.solve(b))
}

/// Solves a general square system A X = B by LU with partial pivoting.
///
/// Singularity is detected from the pivots (|u_ii| ≤ 1e-13·max|u_ii|).
pub fn solve_general(a: MatRef<'_, f64>, b: MatRef<'_, f64>, what: &str) -> Result<Mat<f64>> {
    check_finite(a, what)?;
    let lu = a.partial_piv_lu();
    let u = lu.U();
    let n = a.nrows();
    let pivots: Vec<f64> = (0..n).map(|i| u[(i, i)].abs()).collect();
    let max = pivots.iter().cloned().fold(0.0f64, f64::max);
    if pivots.iter().any(|&p| p.is_nan() || p <= 1e-13 * max) {
        return Err(LinalgError::Singular {
            what: what.into(),
            n,
            how: "LU pivot below 1e-13 of the largest",
        });
    }
    Ok(lu.solve(b))
}

/// Eigen-decomposition A = U diag(λ) Uᵀ of a symmetric matrix, λ ascending.
pub struct SymmetricEigen {
    /// Eigenvalues, ascending.
    pub values: Vec<f64>,
    /// Orthonormal eigenvectors as columns.
    pub vectors: Mat<f64>,
}

/// Eigen-decomposition of a symmetric matrix (eigenvalues ascending).
pub fn symmetric_eigen(a: MatRef<'_, f64>, what: &str) -> Result<SymmetricEigen> {
    check_finite(a, what)?;
    let evd = a
        .self_adjoint_eigen(Side::Lower)
        .map_err(|_| LinalgError::EigenFailed { what: what.into() })?;
    let s = evd.S();
    let values = (0..a.nrows()).map(|i| s[i]).collect();
    Ok(SymmetricEigen {
        values,
        vectors: evd.U().to_owned(),
    })
}

/// Eigenvalues of a symmetric matrix, ascending.
pub fn symmetric_eigenvalues(a: MatRef<'_, f64>, what: &str) -> Result<Vec<f64>> {
    check_finite(a, what)?;
    a.self_adjoint_eigenvalues(Side::Lower)
        .map_err(|_| LinalgError::EigenFailed { what: what.into() })
}

/// Moore–Penrose pseudo-inverse solve A⁺B of a symmetric PSD matrix, dropping eigenvalues
/// below `rel_tol`·λ_max.
pub fn solve_pseudo_inverse(
    a: MatRef<'_, f64>,
    b: MatRef<'_, f64>,
    rel_tol: f64,
    what: &str,
) -> Result<Mat<f64>> {
    let eig = symmetric_eigen(a, what)?;
    let lmax = eig
        .values
        .iter()
        .cloned()
        .fold(0.0f64, |m, v| m.max(v.abs()));
    let u = eig.vectors.as_ref();
    let mut coeff = u.transpose() * b;
    for (i, &l) in eig.values.iter().enumerate() {
        let inv = if l.abs() > rel_tol * lmax {
            1.0 / l
        } else {
            0.0
        };
        for j in 0..coeff.ncols() {
            coeff[(i, j)] *= inv;
        }
    }
    Ok(u * coeff)
}

/// Largest absolute entry-wise difference between two equally-shaped matrices.
pub fn max_abs_diff(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> f64 {
    assert_eq!((a.nrows(), a.ncols()), (b.nrows(), b.ncols()));
    let mut m = 0.0f64;
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            m = m.max((a[(i, j)] - b[(i, j)]).abs());
        }
    }
    m
}

/// Frobenius norm ‖A‖_F.
pub fn frobenius(a: MatRef<'_, f64>) -> f64 {
    a.norm_l2()
}

#[cfg(test)]
mod tests {

    /// The f32 inverse of a well-conditioned factor is the f64 one to f32's precision times κ;
    /// an ill-conditioned one is refused (the caller falls back to f64).
    #[test]
    fn f32_inverse_where_the_conditioning_allows() {
        let n = 60;
        let x = Mat::<f64>::from_fn(2 * n, n, |i, j| ((i * 7 + j * 13) % 17) as f64 / 17.0);
        let mut a = x.transpose() * &x / (2 * n) as f64;
        add_to_diagonal(&mut a, 0.1);
        let inv64 = Cholesky::new(a.as_ref(), "a").unwrap().inverse();
        let f32_of =
            |m: &Mat<f64>| Mat::<f32>::from_fn(m.nrows(), m.ncols(), |i, j| m[(i, j)] as f32);
        let inv32 = spd_inverse_f32(f32_of(&a).as_ref()).expect("well conditioned");
        let inv32 = Mat::<f64>::from_fn(n, n, |i, j| inv32[(i, j)] as f64);
        let err = max_abs_diff(inv32.as_ref(), inv64.as_ref())
            / max_abs_diff(inv64.as_ref(), Mat::<f64>::zeros(n, n).as_ref());
        // Measured 7.2e-7 (f32's 6e-8 times the conditioning).
        assert!(err < 5e-6 && err > 0.0, "{err}");

        let ill = Mat::<f64>::from_fn(3, 3, |i, j| if i == j { [1.0, 1.0, 1e-6][i] } else { 0.0 });
        assert!(spd_inverse_f32(f32_of(&ill).as_ref()).is_none());
        let indefinite =
            Mat::<f64>::from_fn(2, 2, |i, j| if i == j { [1.0, -1.0][i] } else { 0.0 });
        assert!(spd_inverse_f32(f32_of(&indefinite).as_ref()).is_none());
    }
    use super::*;

    fn spd(n: usize) -> Mat<f64> {
        let x = Mat::from_fn(n, n + 3, |i, j| ((i * 7 + j * 3) % 11) as f64 / 11.0 - 0.4);
        let mut a = gram(x.as_ref());
        add_to_diagonal(&mut a, 0.1);
        a
    }

    #[test]
    fn cholesky_solve_recovers_rhs() {
        let a = spd(6);
        let b = Mat::from_fn(6, 2, |i, j| (i + 2 * j) as f64);
        let x = solve_spd(a.as_ref(), b.as_ref(), "test").unwrap();
        let r = &a * &x;
        assert!(max_abs_diff(r.as_ref(), b.as_ref()) < 1e-10);
    }

    #[test]
    fn singular_matrix_is_reported() {
        let x = Mat::from_fn(5, 2, |i, j| (i + j) as f64);
        let a = gram(x.as_ref()); // rank 2, 5 × 5
        let err = solve_spd(a.as_ref(), col(&[1.0; 5]).as_ref(), "rank-deficient").unwrap_err();
        assert!(err.to_string().contains("singular"), "{err}");
        let err = solve_general(a.as_ref(), col(&[1.0; 5]).as_ref(), "lu").unwrap_err();
        assert!(matches!(err, LinalgError::Singular { .. }));
    }

    #[test]
    fn pseudo_inverse_matches_inverse_on_full_rank_and_projects_otherwise() {
        let a = spd(5);
        let b = col(&[1.0, -2.0, 0.5, 3.0, 0.0]);
        let x1 = solve_spd(a.as_ref(), b.as_ref(), "a").unwrap();
        let x2 = solve_pseudo_inverse(a.as_ref(), b.as_ref(), 1e-12, "a").unwrap();
        assert!(max_abs_diff(x1.as_ref(), x2.as_ref()) < 1e-9);
        // rank-1: A = v vᵀ, A⁺ v = v / |v|²
        let v = col(&[1.0, 2.0, 2.0]);
        let a = &v * v.transpose();
        let x = solve_pseudo_inverse(a.as_ref(), v.as_ref(), 1e-12, "r1").unwrap();
        let expect = &v * faer::Scale(1.0 / 9.0);
        assert!(max_abs_diff(x.as_ref(), expect.as_ref()) < 1e-12);
    }

    #[test]
    fn eigenvalues_of_diagonal() {
        let a = Mat::from_fn(3, 3, |i, j| if i == j { (3 - i) as f64 } else { 0.0 });
        let v = symmetric_eigenvalues(a.as_ref(), "d").unwrap();
        assert_eq!(v, vec![1.0, 2.0, 3.0]);
    }

    #[test]
    fn general_solve_handles_nonsymmetric() {
        let a = Mat::from_fn(3, 3, |i, j| {
            [[2.0, 1.0, 0.0], [0.0, 1.0, 3.0], [1.0, 0.0, 1.0]][i][j]
        });
        let b = col(&[1.0, 2.0, 3.0]);
        let x = solve_general(a.as_ref(), b.as_ref(), "g").unwrap();
        let r = &a * &x;
        assert!(max_abs_diff(r.as_ref(), b.as_ref()) < 1e-12);
    }
}
