//! The output-side root of a layer's Fisher for K-FAC (MATH.md §8): B* = XᵀX/N.

use crate::Loss;
use faer::Mat;

/// The output side of the Fisher of one layer: rows x_k (K × M_l, K = C·N class-major) with
/// Σ_k x_k(n) x_k(n)ᵀ = Σ_{c,c′} Λ_n[c,c′] δ^{(c)}(n) δ^{(c′)}(n)ᵀ, and β (length K) with
/// Σ_c g_c(n) δ^{(c)}(n) = Σ_k β_k(n) x_k(n) for the output gradient g (MATH.md §8).
///
/// MSE: X = δ, β = g. Softmax cross-entropy: Λ_n = A_nA_nᵀ with A_n = diag(√p) − p√pᵀ, so
/// x_k = Σ_c A_n\[c,k\] δ^{(c)} and, as 1ᵀg = 0, β_k = g_k/√p_k. Logistic (C = 1):
/// x = √(p(1−p)) δ, β = g/√(p(1−p)).
#[derive(Debug, Clone)]
pub struct OutputRoot {
    /// X, K × M_l, class-major rows k = c·N + n.
    pub x: Mat<f64>,
    /// β, length K.
    pub beta: Vec<f64>,
}

impl OutputRoot {
    /// X and β from the layer's δ (CN × M_l), the outputs f (N × C) and g (length CN).
    pub fn new(loss: Loss, delta: &Mat<f64>, outputs: &Mat<f64>, g: &[f64]) -> Self {
        let (n, c_out) = (outputs.nrows(), outputs.ncols());
        if loss == Loss::Mse {
            return Self {
                x: delta.clone(),
                beta: g.to_vec(),
            };
        }
        // Per-sample √p (softmax) or √(p(1−p)) (logistic), floored so that β stays finite.
        let probs: Vec<Vec<f64>> = (0..n)
            .map(|i| crate::loss::probabilities_of(outputs, i))
            .collect();
        if c_out == 1 {
            let s: Vec<f64> = probs
                .iter()
                .map(|p| (p[0] * (1.0 - p[0])).max(1e-300).sqrt())
                .collect();
            return Self {
                x: Mat::from_fn(n, delta.ncols(), |i, j| s[i] * delta[(i, j)]),
                beta: (0..n).map(|i| g[i] / s[i]).collect(),
            };
        }
        let x = Mat::from_fn(c_out * n, delta.ncols(), |row, j| {
            let (k, i) = (row / n, row % n);
            let p = &probs[i];
            let sk = p[k].sqrt();
            // A[c,k] = [c = k]√p_k − p_c√p_k
            let mix: f64 = (0..c_out).map(|c| p[c] * delta[(c * n + i, j)]).sum();
            sk * (delta[(k * n + i, j)] - mix)
        });
        let beta = (0..c_out * n)
            .map(|row| g[row] / probs[row % n][row / n].max(1e-300).sqrt())
            .collect();
        Self { x, beta }
    }

    /// Bᵀ Y / N (N × cols): row n = Σ_c β_{c·N+n} Y[c·N+n, :] / N for a K × cols matrix Y.
    pub(super) fn combine(&self, y: &Mat<f64>, n: usize) -> Mat<f64> {
        let classes = self.x.nrows() / n;
        Mat::from_fn(n, y.ncols(), |i, j| {
            (0..classes)
                .map(|c| self.beta[c * n + i] * y[(c * n + i, j)])
                .sum::<f64>()
                / n as f64
        })
    }
}
