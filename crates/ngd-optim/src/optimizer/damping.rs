//! Adaptive damping's quadratic model and Levenberg–Marquardt rule, and KL clipping's factor
//! (MATH.md §8a).

use super::{LM_DECAY, LM_MAX_DAMPING, LM_MIN_DAMPING, Ngd, block_step};
use crate::Factors;
use burn::tensor::Tensor;
use faer::Mat;

impl Ngd {
    /// q(d) = ∇Lᵀd + ½dᵀGd for the step taken, d = −ηv with v the applied update (after KL
    /// clipping and momentum) and η the learning rate times the norm clip (MATH.md §8a). G is
    /// the batch's exact Fisher ‖Jv‖²_Λ/N for the dual forms (their factors hold J) and the
    /// blocks' own estimate (A ⊗ S, the diagonal F) on the block route, without damping in both.
    pub(super) fn predicted_change(
        &self,
        quadratic: &Quadratic,
        taken: &[(Tensor<2>, Tensor<1>)],
        eta: f64,
    ) -> f64 {
        let (slope, curvature) = match quadratic {
            Quadratic::Host(factors, g) => {
                let jv = crate::direction::jacobian_times_updates(factors, taken);
                let n = factors.samples();
                let slope = jv.iter().zip(g).map(|(a, b)| a * b).sum::<f64>() / n as f64;
                (
                    slope,
                    fisher_norm(self.config.loss, &factors.outputs, &jv) / n as f64,
                )
            }
            Quadratic::Blocks(layers) => {
                let dtype = self.config.block_precision.dtype();
                let mut terms = (0.0, 0.0);
                for ((block, layer), update) in self.blocks.iter().zip(layers).zip(taken) {
                    let v = crate::convert::join_bias(update.0.clone(), update.1.clone());
                    terms.0 += block_step::gradient_dot(layer, &v, dtype);
                    terms.1 += block.curvature_quadratic(&v);
                }
                terms
            }
        };
        -eta * slope + 0.5 * eta * eta * curvature
    }

    /// ρ ← ωρ when the reduction ratio r = (L(θ + d) − L(θ)) / q(d) > ¾, ρ ← ρ/ω when r < ¼ or
    /// the model predicts no decrease, kept within [[`LM_MIN_DAMPING`], [`LM_MAX_DAMPING`]].
    pub(super) fn adapt_damping(
        &mut self,
        before: f64,
        after: f64,
        predicted: f64,
    ) -> crate::Result<()> {
        let ratio = (after - before) / predicted;
        let predicts_decrease = predicted < 0.0; // false for NaN too
        let factor = if !predicts_decrease || !after.is_finite() || ratio < 0.25 {
            1.0 / LM_DECAY
        } else if ratio > 0.75 {
            LM_DECAY
        } else {
            return Ok(());
        };
        let damping = (self.config.damping.value * factor).clamp(LM_MIN_DAMPING, LM_MAX_DAMPING);
        if damping == self.config.damping.value {
            return Ok(());
        }
        self.set_damping(damping)
    }
}

/// Σ_n (Jv)_nᵀ Λ_n (Jv)_n of a class-major J v (N·C), Λ_n the loss's output Hessian at f(x_n).
fn fisher_norm(loss: crate::Loss, outputs: &Mat<f64>, jv: &[f64]) -> f64 {
    let (n, c_out) = (outputs.nrows(), outputs.ncols());
    (0..n)
        .map(|i| {
            let lambda = crate::loss::output_hessian(loss, outputs, i);
            let u: Vec<f64> = (0..c_out).map(|c| jv[c * n + i]).collect();
            (0..c_out)
                .flat_map(|a| (0..c_out).map(move |b| (a, b)))
                .map(|(a, b)| u[a] * lambda[(a, b)] * u[b])
                .sum::<f64>()
        })
        .sum()
}

/// What adaptive damping's quadratic model needs once the step is taken.
pub(super) enum Quadratic {
    /// The dual forms: the batch's factors and g = N∂L/∂f.
    Host(Box<Factors>, Vec<f64>),
    /// The block route: every layer's batch signals.
    Blocks(Vec<crate::curvature::LayerSignals>),
}

/// ν = min(1, √(c/(η²Δθᵀ∇L))) of KL clipping ([`ClippingConfig::kl`](super::ClippingConfig::kl)); 1 when Δθᵀ∇L ≤ 0.
pub(super) fn kl_factor(c: f64, lr: f64, slope: f64) -> f64 {
    let kl = lr * lr * slope;
    if kl > c { (c / kl).sqrt() } else { 1.0 }
}
