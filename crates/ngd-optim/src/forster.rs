//! The Forster transform of the inputs (Section 4.3, used by K-FAC when M_0 < N): iterate
//! Z ← normalise_rows(Z (ZᵀZ)^{-1/2}) until ZᵀZ ≈ (N/M_0) I, so that the rows stay on the unit
//! sphere and the input factor A*_0 ∝ I.

use crate::{OptimError, Result};
use faer::Mat;
use ngd_linalg::{frobenius, symmetric_eigen};

/// Outcome of [`forster`]: iterations, final deviation and the accumulated linear map.
#[derive(Debug, Clone)]
pub struct ForsterReport {
    /// Iterations performed.
    pub iterations: usize,
    /// ‖ZᵀZ − (N/M_0)I‖_F / ‖(N/M_0)I‖_F after the last iteration.
    pub deviation: f64,
    /// T (M_0 × M_0) with Z = normalise_rows(X T): apply it to test inputs with [`forster_apply`].
    pub transform: Mat<f64>,
}

/// Forster-transforms the row-major n × dim inputs in place; errors unless N ≥ M_0 and the
/// iteration reaches relative deviation `tol` within `max_iter` steps.
pub fn forster(
    x: &mut [f64],
    n: usize,
    dim: usize,
    tol: f64,
    max_iter: usize,
) -> Result<ForsterReport> {
    if n < dim {
        return Err(OptimError::Forster(format!(
            "needs at least as many samples as input dimensions (N = {n} < M_0 = {dim}); \
             with M_0 ≥ N the input Gram is already invertible and no transform is needed"
        )));
    }
    let x0 = Mat::from_fn(n, dim, |i, j| x[i * dim + j]);
    let mut z = normalise_rows(x0.clone());
    let mut transform = Mat::<f64>::identity(dim, dim);
    let target = n as f64 / dim as f64;
    let mut deviation = deviation_of(&z, target);
    let mut iterations = 0;
    while deviation > tol {
        if iterations == max_iter {
            return Err(OptimError::Forster(format!(
                "did not converge: ‖ZᵀZ − (N/M_0)I‖/‖(N/M_0)I‖ = {deviation:.3e} \
                 after {max_iter} iterations (tolerance {tol:.1e}); the inputs may lie in a \
                 lower-dimensional subspace"
            )));
        }
        let root = inverse_sqrt(&(z.transpose() * &z))?;
        transform = &transform * &root;
        z = normalise_rows(&x0 * &transform);
        deviation = deviation_of(&z, target);
        iterations += 1;
    }
    for i in 0..n {
        for j in 0..dim {
            x[i * dim + j] = z[(i, j)];
        }
    }
    Ok(ForsterReport {
        iterations,
        deviation,
        transform,
    })
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

fn deviation_of(z: &Mat<f64>, target: f64) -> f64 {
    let mut g = z.transpose() * z;
    ngd_linalg::add_to_diagonal(&mut g, -target);
    frobenius(g.as_ref()) / (target * (z.ncols() as f64).sqrt())
}

/// A^{-1/2} of a symmetric positive-definite matrix; an error when A is singular.
fn inverse_sqrt(a: &Mat<f64>) -> Result<Mat<f64>> {
    let eig = symmetric_eigen(a.as_ref(), "Forster transform ZᵀZ")?;
    let max = eig.values.iter().cloned().fold(0.0f64, f64::max);
    if eig.values.iter().any(|&v| v.is_nan() || v <= 1e-12 * max) {
        return Err(OptimError::Forster(
            "ZᵀZ is singular (the inputs span fewer than M_0 dimensions)".into(),
        ));
    }
    let u = &eig.vectors;
    let scaled = Mat::from_fn(u.nrows(), u.ncols(), |i, k| {
        u[(i, k)] / eig.values[k].sqrt()
    });
    Ok(&scaled * u.transpose())
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
        assert!(deviation_of(&z, n as f64 / dim as f64) <= 1e-8);
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

    #[test]
    fn forster_refuses_degenerate_inputs() {
        // N < M_0
        let mut x = vec![1.0; 3 * 5];
        assert!(
            forster(&mut x, 3, 5, 1e-8, 50)
                .unwrap_err()
                .to_string()
                .contains("N = 3")
        );
        // all rows on a line: ZᵀZ singular
        let mut x: Vec<f64> = (0..10)
            .flat_map(|i| [i as f64 + 1.0, 2.0 * (i as f64 + 1.0)])
            .collect();
        assert!(
            forster(&mut x, 10, 2, 1e-8, 50)
                .unwrap_err()
                .to_string()
                .contains("singular")
        );
    }
}
