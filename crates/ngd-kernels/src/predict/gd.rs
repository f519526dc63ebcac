//! Gradient descent in function space (eq. 5): the training-loss curve and λ_max(Θ).

use faer::MatRef;

use crate::{KernelError, Result};

/// Training loss of GD under eq. (5): loss_t = ½·(1/N)·‖(I − ηΘ)^t e_0‖²_F for t = 0..=steps,
/// through Θ's eigen-decomposition (MATH.md §4). `theta` is the N×N NTK in the paper's
/// normalisation of eq. (6) (e.g. [`LayerKernels::ntk_paper`](crate::LayerKernels::ntk_paper)); `e0` = f_0 − y is N×C.
pub fn gd_train_loss_curve(
    theta: MatRef<'_, f64>,
    e0: MatRef<'_, f64>,
    eta: f64,
    steps: usize,
) -> Result<Vec<f64>> {
    let n = theta.nrows();
    if theta.ncols() != n || e0.nrows() != n {
        return Err(KernelError::Shape(format!(
            "Θ must be N×N and e0 N×C; got Θ {}×{}, e0 {}×{}",
            theta.nrows(),
            theta.ncols(),
            e0.nrows(),
            e0.ncols()
        )));
    }
    let eig = ngd_linalg::symmetric_eigen(theta, "GD loss curve: NTK Θ(x,x)")?;
    let c = eig.vectors.transpose() * e0;
    let mut energy: Vec<f64> = (0..n)
        .map(|i| (0..c.ncols()).map(|j| c[(i, j)] * c[(i, j)]).sum())
        .collect();
    let decay: Vec<f64> = eig
        .values
        .iter()
        .map(|&l| (1.0 - eta * l).powi(2))
        .collect();
    let norm = 0.5 / n as f64;
    let mut out = Vec::with_capacity(steps + 1);
    for t in 0..=steps {
        if t > 0 {
            for (e, d) in energy.iter_mut().zip(&decay) {
                *e *= d;
            }
        }
        out.push(norm * energy.iter().sum::<f64>());
    }
    Ok(out)
}

/// λ_max of a symmetric matrix (e.g. Θ(x,x) of eq. 6, for GD's η = 1/λ_max, Fig. 1a).
pub fn max_eigenvalue(theta: MatRef<'_, f64>) -> Result<f64> {
    let v = ngd_linalg::symmetric_eigenvalues(theta, "λ_max")?;
    v.last()
        .copied()
        .ok_or_else(|| KernelError::Shape("empty matrix has no eigenvalues".into()))
}
