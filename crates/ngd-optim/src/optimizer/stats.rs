//! What one optimizer step measured.

use serde::{Deserialize, Serialize};

/// Wall time of one step by phase, seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct PhaseTimes {
    /// Forward and backward passes (Jacobian factors, loss signals).
    pub forward_backward: f64,
    /// Curvature statistics and the direction's solves (dual methods: all of the direction).
    pub curvature: f64,
    /// K-FAC's factor inversions.
    pub inversion: f64,
    /// Momentum and the parameter update.
    pub update: f64,
}

/// What one step measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StepStats {
    /// L(θ) on the batch before the step.
    pub loss: f64,
    /// The learning rate used.
    pub lr: f64,
    /// The damping ρ used (it moves with [`DampingConfig::adaptive`](super::DampingConfig::adaptive)).
    pub damping: f64,
    /// The factor ν ≤ 1 the step was scaled by ([`ClippingConfig::max_step_norm`](super::ClippingConfig::max_step_norm); 1: unclipped).
    pub clip: f64,
    /// The factor ν ≤ 1 KL clipping scaled the preconditioned gradient by
    /// ([`ClippingConfig::kl`](super::ClippingConfig::kl); 1: unclipped).
    pub kl_clip: f64,
    /// The reduction ratio r = (L(θ + d) − L(θ))/q(d) of adaptive damping (`None` without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reduction_ratio: Option<f64>,
    /// Time by phase.
    pub seconds: PhaseTimes,
}
