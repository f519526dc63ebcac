//! The Forster transform of the inputs (Section 4.3, used by K-FAC when M_0 < N), within the
//! span of the inputs: with r = rank(X) and V_r (M_0 × r) an orthonormal basis of the row span,
//! iterate Y ← normalise_rows(Y (YᵀY)^{-1/2}) on Y = X V_r until YᵀY ≈ (N/r) I_r, then map back,
//! Z = Y V_rᵀ. The rows of Z stay on the unit sphere and ZᵀZ = (N/r) V_rV_rᵀ, (N/r) times the
//! projector onto the span, so every row has the same leverage z_nᵀ(ZᵀZ)⁺z_n = r/N and the
//! first-layer K-FAC factor is isotropic on that span (MATH.md §3, "K-FAC on Forster inputs").
//!
//! Real images are not in general position in R^{M_0}: MNIST's border pixels are constant (after
//! the preprocessing of MATH.md §7 they carry one value per image and span a single direction
//! together), and a pixel that only a few images use is a direction carried by those images
//! alone. A sample alone in a direction has leverage 1 under any row scaling, so no Forster
//! position exists there (the iteration stalls; measured on MNIST '0' vs '7', N = 1000: the
//! numerical span has r = 537, and the iteration stalls at deviation ≈ 4e-2 for any cut of
//! 1e-7·λ_max or below). The transform therefore works on a principal span: the eigenvectors of
//! ZᵀZ (unit rows) with eigenvalue above `span_tol`·λ_max. [`forster`] starts at
//! [`SPAN_REL_TOL`] = 1e-5 (r = 471 on that data, 58 iterations) and, when the iteration stalls,
//! raises the cut tenfold up to [`SPAN_REL_TOL_MAX`]; [`forster_on_span`] takes one cut. For
//! inputs in general position of full rank this is the classical transform (V_r = I up to a
//! rotation). Test inputs lose their components outside the span.
//!
//! Each iteration uses a Cholesky factor L of YᵀY instead of the symmetric root: Y L⁻ᵀ and
//! Y (YᵀY)^{-1/2} differ by a rotation, which leaves the row norms, and so the iteration, unchanged.

use faer::{Mat, Par, Side};
use ngd_linalg::LinalgError;
use ngd_linalg::{frobenius, symmetric_eigen};

/// The first relative cut-off of the inputs' span tried by [`forster`]: eigenvalues of ZᵀZ (unit
/// rows) at or below `SPAN_REL_TOL`·λ_max are directions left out.
pub const SPAN_REL_TOL: f64 = 1e-5;

/// The largest cut [`forster`] tries before giving up.
pub const SPAN_REL_TOL_MAX: f64 = 1e-2;

/// The iteration counts as stalled when the deviation has not halved over this many iterations
/// (converging runs on MNIST halve it every ≤ 35 iterations; stalled ones plateau at 1e-2..1e-1).
const STALL_ITERATIONS: usize = 100;

/// Why the Forster transform could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum ForsterError {
    /// The iteration stalled on the inputs' principal span (a direction of it is carried by too
    /// few samples).
    #[error(
        "Forster transform stalled at ‖ZᵀZ − (N/r)P‖/‖(N/r)P‖ = {deviation:.3e} on a span of \
         r = {rank} dimensions (eigenvalue cut {span_tol:.0e}·λ_max): some direction of the \
         span is carried by too few samples"
    )]
    Stalled {
        /// The best relative deviation reached.
        deviation: f64,
        /// The span's dimension.
        rank: usize,
        /// The relative eigenvalue cut that defined the span.
        span_tol: f64,
    },
    /// The transform cannot be applied to these inputs (a zero sample, no convergence).
    #[error("Forster transform: {0}")]
    Invalid(String),
    /// An eigendecomposition of ZᵀZ failed.
    #[error("Forster transform: {0}")]
    Linalg(#[from] LinalgError),
}

/// Outcome of [`forster`]: iterations, final deviation, the span's dimension and the linear map.
#[derive(Debug, Clone)]
pub struct ForsterReport {
    /// Iterations performed.
    pub iterations: usize,
    /// ‖ZᵀZ − (N/r)P‖_F / ‖(N/r)P‖_F after the last iteration (P the projector onto the span).
    pub deviation: f64,
    /// r: the dimension of the (principal) span the transform works on.
    pub rank: usize,
    /// The relative eigenvalue cut that defined the span.
    pub span_tol: f64,
    /// T (M_0 × M_0, rank r) with Z = normalise_rows(X T): apply it to test inputs with
    /// [`forster_apply`] (their components outside the training span are dropped).
    pub transform: Mat<f64>,
}

/// Forster-transforms the row-major n × dim inputs in place within their principal span, the
/// cut starting at [`SPAN_REL_TOL`] and raised tenfold (up to [`SPAN_REL_TOL_MAX`]) while the
/// iteration stalls; each try is [`forster_on_span`] with `tol` and `max_iter`.
pub fn forster(
    x: &mut [f64],
    n: usize,
    dim: usize,
    tol: f64,
    max_iter: usize,
) -> Result<ForsterReport, ForsterError> {
    let mut span_tol = SPAN_REL_TOL;
    loop {
        match forster_on_span(x, n, dim, span_tol, tol, max_iter) {
            Err(ForsterError::Stalled { .. }) if span_tol * 10.0 <= SPAN_REL_TOL_MAX * 1.0001 => {
                span_tol *= 10.0;
            }
            other => return other,
        }
    }
}

/// Forster-transforms the row-major n × dim inputs in place within the span of the
/// eigenvectors of ZᵀZ (unit rows) whose eigenvalue exceeds `span_tol`·λ_max (r ≤ min(N, M_0)
/// dimensions); errors on a zero sample, when the iteration stalls (no new best deviation in
/// 100 iterations: a direction of the span is carried by too few samples), or unless it reaches
/// relative deviation `tol` within `max_iter` steps. The inputs are left unchanged on error.
pub fn forster_on_span(
    x: &mut [f64],
    n: usize,
    dim: usize,
    span_tol: f64,
    tol: f64,
    max_iter: usize,
) -> Result<ForsterReport, ForsterError> {
    let x0 = Mat::from_fn(n, dim, |i, j| x[i * dim + j]);
    if let Some(i) = (0..n).find(|&i| (0..dim).all(|j| x0[(i, j)] == 0.0)) {
        return Err(ForsterError::Invalid(format!(
            "sample {i} is zero and cannot be put on the unit sphere"
        )));
    }
    let basis = span_basis(&normalise_rows(x0.clone()), span_tol)?;
    // r ≤ N always (the span of N rows); r = N needs a single step (rows orthonormal).
    let rank = basis.ncols();
    let y = &x0 * &basis;
    let target = n as f64 / rank as f64;
    let mut t = Mat::<f64>::identity(rank, rank);
    let mut w = normalise_rows(y.clone());
    let mut g = w.transpose() * &w;
    let mut deviation = deviation_of(&g, target);
    let mut iterations = 0;
    let mut history = vec![deviation];
    while deviation > tol {
        if iterations >= STALL_ITERATIONS
            && deviation > 0.5 * history[iterations - STALL_ITERATIONS]
        {
            return Err(ForsterError::Stalled {
                deviation,
                rank,
                span_tol,
            });
        }
        if iterations == max_iter {
            return Err(ForsterError::Invalid(format!(
                "did not converge: ‖ZᵀZ − (N/r)P‖/‖(N/r)P‖ = {deviation:.3e} after {max_iter} \
                 iterations (tolerance {tol:.1e}, r = {rank}); some direction of the span is \
                 carried by too few samples"
            )));
        }
        // T ← T L⁻ᵀ with YᵀY = LLᵀ: solve L Xᵀ = Tᵀ.
        // A singular YᵀY: the iteration has collapsed onto fewer directions (stalled).
        let llt = g.llt(Side::Lower).map_err(|_| ForsterError::Stalled {
            deviation,
            rank,
            span_tol,
        })?;
        let mut tt = t.transpose().to_owned();
        faer::linalg::triangular_solve::solve_lower_triangular_in_place(
            llt.L(),
            tt.as_mut(),
            Par::rayon(0),
        );
        t = tt.transpose().to_owned();
        w = normalise_rows(&y * &t);
        g = w.transpose() * &w;
        deviation = deviation_of(&g, target);
        if !deviation.is_finite() {
            return Err(ForsterError::Invalid(
                "the iteration produced non-finite values".into(),
            ));
        }
        iterations += 1;
        history.push(deviation);
    }
    let report = ForsterReport {
        iterations,
        deviation,
        rank,
        span_tol,
        transform: &(&basis * &t) * basis.transpose(),
    };
    forster_apply(x, n, dim, &report);
    Ok(report)
}

/// normalise_rows(X T) for other inputs (row-major n × dim, in place) with a report's T.
pub fn forster_apply(x: &mut [f64], n: usize, dim: usize, report: &ForsterReport) {
    let x0 = Mat::from_fn(n, dim, |i, j| x[i * dim + j]);
    let z = normalise_rows(&x0 * &report.transform);
    for i in 0..n {
        for j in 0..dim {
            x[i * dim + j] = z[(i, j)];
        }
    }
}

/// An orthonormal basis (dim × r) of the principal row span of `z`: eigenvectors of ZᵀZ whose
/// eigenvalue exceeds `span_tol`·λ_max, taken from the smaller of ZᵀZ and ZZᵀ (v = Zᵀu/√λ).
fn span_basis(z: &Mat<f64>, span_tol: f64) -> Result<Mat<f64>, ForsterError> {
    let small = z.nrows() < z.ncols();
    let g = if small {
        z * z.transpose()
    } else {
        z.transpose() * z
    };
    let eig = symmetric_eigen(g.as_ref(), "Forster transform ZᵀZ")?;
    let max = eig.values.iter().cloned().fold(0.0f64, f64::max);
    let keep: Vec<usize> = (0..eig.values.len())
        .filter(|&k| eig.values[k] > span_tol * max)
        .collect();
    if keep.is_empty() {
        return Err(ForsterError::Invalid("the inputs are all zero".into()));
    }
    let u = &eig.vectors;
    let u_r = Mat::from_fn(u.nrows(), keep.len(), |i, k| u[(i, keep[k])]);
    if !small {
        return Ok(u_r);
    }
    let mut v = z.transpose() * &u_r;
    for (k, &idx) in keep.iter().enumerate() {
        let s = 1.0 / eig.values[idx].sqrt();
        for i in 0..v.nrows() {
            v[(i, k)] *= s;
        }
    }
    Ok(v)
}

fn normalise_rows(mut z: Mat<f64>) -> Mat<f64> {
    for i in 0..z.nrows() {
        let norm = (0..z.ncols())
            .map(|j| z[(i, j)].powi(2))
            .sum::<f64>()
            .sqrt();
        if norm > 0.0 {
            for j in 0..z.ncols() {
                z[(i, j)] /= norm;
            }
        }
    }
    z
}

/// ‖G − target·I‖_F / ‖target·I‖_F for the r × r Gram G of the span coordinates.
fn deviation_of(g: &Mat<f64>, target: f64) -> f64 {
    let mut g = g.clone();
    ngd_linalg::add_to_diagonal(&mut g, -target);
    frobenius(g.as_ref()) / (target * (g.ncols() as f64).sqrt())
}
#[cfg(test)]
mod tests {
    use super::*;

    /// Gaussian-like inputs in general position converge; rows stay unit and ZᵀZ → (N/M_0)I
    /// (tolerance 1e-8, linear convergence: ≈ 200 iterations); test inputs get the same map.
    #[test]
    fn forster_converges_to_scaled_identity() {
        let (n, dim) = (40, 5);
        let mut x: Vec<f64> = (0..n * dim)
            .map(|k| {
                ((k * 7919 % 1009) as f64 / 1009.0 - 0.5) + if k % dim == 0 { 1.0 } else { 0.0 }
            })
            .collect();
        let report = forster(&mut x, n, dim, 1e-8, 500).unwrap();
        assert!(
            report.iterations > 0 && report.deviation <= 1e-8,
            "{report:?}"
        );
        let z = Mat::from_fn(n, dim, |i, j| x[i * dim + j]);
        assert_eq!(report.rank, dim);
        assert!(deviation_of(&(z.transpose() * &z), n as f64 / dim as f64) <= 1e-8);
        for i in 0..n {
            let norm: f64 = (0..dim).map(|j| z[(i, j)].powi(2)).sum();
            assert!((norm - 1.0).abs() < 1e-12);
        }
        let mut again: Vec<f64> = (0..n * dim)
            .map(|k| {
                ((k * 7919 % 1009) as f64 / 1009.0 - 0.5) + if k % dim == 0 { 1.0 } else { 0.0 }
            })
            .collect();
        forster_apply(&mut again, n, dim, &report);
        for (a, b) in again.iter().zip(&x) {
            assert!((a - b).abs() < 1e-12);
        }
    }

    /// Inputs that span fewer than M_0 dimensions, like MNIST's constant border pixels (three
    /// equal constant columns) and a dependent pixel (a sum of two others): r = 8 − 3 + 1 − 1 = 5.
    /// The transform works on the span: rows unit, ZᵀZ = (N/r)P with P the projector onto the
    /// span, so every leverage z_nᵀ(ZᵀZ)⁺z_n = ‖z_n‖²·r/N = r/N (tolerance 1e-9); test inputs
    /// inside the span get the same map.
    #[test]
    fn forster_works_within_the_span_of_rank_deficient_inputs() {
        let (n, dim) = (30, 8);
        let raw = |n: usize, salt: u64| -> Vec<f64> {
            let mut state = salt.wrapping_mul(6364136223846793005).wrapping_add(1);
            let mut next = move || {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 33) as f64 / (1u64 << 31) as f64) - 0.3
            };
            (0..n)
                .flat_map(|_| {
                    let v: Vec<f64> = (0..4).map(|_| next()).collect();
                    [v[0], v[1], v[2], v[3], v[1] + v[2], -0.5, -0.5, -0.5]
                })
                .collect()
        };
        let mut x = raw(n, 1);
        let report = forster(&mut x, n, dim, 1e-10, 2000).unwrap();
        assert_eq!(report.rank, 5, "{report:?}");
        assert!(report.deviation <= 1e-10);
        let z = Mat::from_fn(n, dim, |i, j| x[i * dim + j]);
        let g = z.transpose() * &z;
        // ZᵀZ (r/N) is a projector: idempotent, trace r.
        let p = &g * faer::Scale(report.rank as f64 / n as f64);
        let p2 = &p * &p;
        let trace: f64 = (0..dim).map(|k| p[(k, k)]).sum();
        assert!((trace - 5.0).abs() < 1e-9, "tr P = {trace}");
        assert!(ngd_linalg::max_abs_diff(p.as_ref(), p2.as_ref()) < 1e-9);
        for i in 0..n {
            let norm: f64 = (0..dim).map(|j| z[(i, j)].powi(2)).sum();
            assert!((norm - 1.0).abs() < 1e-12);
        }
        // Test inputs from the same span: unit rows whose Gram with the span is consistent.
        let mut test = raw(5, 100);
        forster_apply(&mut test, 5, dim, &report);
        for i in 0..5 {
            let row = Mat::from_fn(dim, 1, |j, _| test[i * dim + j]);
            let norm: f64 = (0..dim).map(|j| row[(j, 0)].powi(2)).sum();
            assert!((norm - 1.0).abs() < 1e-12);
            let projected = &p * &row;
            assert!(ngd_linalg::max_abs_diff(projected.as_ref(), row.as_ref()) < 1e-9);
        }
    }

    #[test]
    fn forster_refuses_degenerate_inputs() {
        // a zero sample
        let mut x = vec![1.0, 2.0, 0.0, 0.0, 3.0, 1.0];
        let err = forster(&mut x, 3, 2, 1e-8, 50).unwrap_err().to_string();
        assert!(err.contains("sample 1 is zero"), "{err}");
        // one sample alone in a direction: no Forster position exists (its leverage is 1)
        let mut x: Vec<f64> = (0..10)
            .flat_map(|i| {
                [
                    1.0 + (i as f64 * 0.37).sin(),
                    1.0 + (i as f64 * 0.91).cos(),
                    if i == 0 { 1.0 } else { 0.0 },
                ]
            })
            .collect();
        let err = forster(&mut x, 10, 3, 1e-8, 200).unwrap_err().to_string();
        assert!(err.contains("stalled"), "{err}");
    }
}
