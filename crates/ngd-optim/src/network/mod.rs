//! Network-level curvatures: GD, exact NGD and layer-wise NGD with a Σ coupling the layers
//! (block tri-diagonal, eq. 19, and any user Σ, eq. 15), with the dual solves they share.

mod block_tri_diagonal;
mod dual;
mod exact;
mod gd;
mod layer_wise;

pub use block_tri_diagonal::BlockTriDiagonal;
pub use dual::{DampingConvention, DualDiagnostics, DualSolve, Precision};
pub use exact::Exact;
pub use gd::Gd;
pub use layer_wise::LayerWise;

use crate::{Factors, Loss, OptimError, Result};
use faer::Mat;
use ngd_linalg::{Cholesky, add_to_diagonal, col, solve_general, to_vec};

/// v = (ΛK + NρI)⁻¹ g: Cholesky for MSE (Λ = I), LU for cross-entropy, which needs ρ > 0
/// (the softmax Λ_n is singular: Λ_n1 = 0).
pub(crate) fn dual_solve(
    gram: Mat<f64>,
    factors: &Factors,
    damping: f64,
    loss: Loss,
    g: &[f64],
    what: &str,
) -> Result<Vec<f64>> {
    let n = factors.samples();
    if loss == Loss::Mse {
        return damped_solve(gram, n, damping, g, what);
    }
    require_damping(loss, damping)?;
    let mut a = loss.weight_gram(&factors.outputs, gram);
    add_to_diagonal(&mut a, n as f64 * damping);
    Ok(to_vec(
        solve_general(a.as_ref(), col(g).as_ref(), what)?.as_ref(),
    ))
}

/// Cross-entropy NGD needs ρ > 0 (the likelihood's output Hessian Λ is singular for softmax).
pub(crate) fn require_damping(loss: Loss, damping: f64) -> Result<()> {
    if loss == Loss::CrossEntropy && damping <= 0.0 {
        return Err(OptimError::NeedsDamping);
    }
    Ok(())
}

/// v = (K + NρI)⁻¹ e by Cholesky (clear error when singular).
pub(crate) fn damped_solve(
    mut gram: Mat<f64>,
    n: usize,
    damping: f64,
    residual: &[f64],
    what: &str,
) -> Result<Vec<f64>> {
    add_to_diagonal(&mut gram, n as f64 * damping);
    let chol = Cholesky::new(gram.as_ref(), what)?;
    Ok(to_vec(chol.solve(col(residual).as_ref()).as_ref()))
}
