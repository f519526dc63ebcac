//! [`NgdConfig`]: the optimizer's options with their defaults, checked by [`NgdConfig::init`].

use super::{ConvFactors, Fisher, Ngd, NgdState};
use crate::curvature::{BlockKind, LocalSync};
use crate::{Loss, Method, MethodCurvature, OptimError, Precision};
use burn::config::Config;

/// Configuration of [`Ngd`].
#[derive(Config, Debug)]
pub struct NgdConfig {
    /// The Fisher approximation (every [`Method`] but `layer-wise`, which needs Σ).
    pub method: Method,
    /// Damping ρ in G = F + ρI.
    #[config(default = 1e-3)]
    pub damping: f64,
    /// Learning rate η; `None`: the paper's optimum 1/α (Cor. 4.2) measured at the first batch.
    #[config(default = "None")]
    pub lr: Option<f64>,
    /// The training loss (MSE, eq. 3, or softmax cross-entropy).
    #[config(default = "Loss::CrossEntropy")]
    pub loss: Loss,
    /// Momentum μ on the step (0: none).
    #[config(default = 0.0)]
    pub momentum: f64,
    /// K-FAC's output-side Fisher.
    #[config(default = "Fisher::Exact")]
    pub fisher: Fisher,
    /// K-FAC: decay β of the running averages of A and S (0: this batch's statistics only).
    #[config(default = 0.0)]
    pub kfac_decay: f64,
    /// K-FAC: update the statistics every this many steps.
    #[config(default = 1)]
    pub kfac_stats_interval: usize,
    /// K-FAC: recompute the damped inverses every this many steps (T).
    #[config(default = 1)]
    pub kfac_inverse_interval: usize,
    /// K-FAC: estimate the factors' statistics from the first this many samples of each batch
    /// (`None`: the whole batch); the gradient always uses the whole batch.
    #[config(default = "None")]
    pub kfac_stats_batch: Option<usize>,
    /// K-FAC on a convolution: expand or reduce factors (MATH.md §8c).
    #[config(default = "ConvFactors::Reduce")]
    pub kfac_conv: ConvFactors,
    /// Levenberg–Marquardt adaptation of ρ (Martens & Grosse 2015, §6.5): after each step the
    /// reduction ratio r = (L(θ + d) − L(θ))/q(d) of the batch loss against the quadratic model
    /// q(d) = ∇Lᵀd + ½dᵀGd of the step actually taken (momentum, clipping included; G without
    /// damping, MATH.md §8a) sets ρ ← ωρ when r > ¾ and ρ ← ρ/ω when r < ¼ (ω = 0.95), within
    /// [1e-8, 1e4].
    #[config(default = false)]
    pub adaptive_damping: bool,
    /// Bound on the step: the update η·v (after momentum) is scaled down to this L2 norm when
    /// longer; the momentum buffer itself is not scaled.
    #[config(default = "None")]
    pub max_step_norm: Option<f64>,
    /// KL clipping (Ba et al. 2017; kfac-jax's `norm_constraint`): the preconditioned gradient
    /// Δθ is scaled by ν = min(1, √(c/(η²Δθᵀ∇L))) before momentum, so that the step's
    /// predicted change of the KL divergence η²ν²Δθᵀ∇L stays ≤ c. Combines with
    /// [`NgdConfig::max_step_norm`], which acts after momentum.
    #[config(default = "None")]
    pub kl_clip: Option<f64>,
    /// Seed of the sampled labels ([`Fisher::Sampled`]).
    #[config(default = 0)]
    pub seed: u64,
    /// Arithmetic of the per-layer blocks on the device (statistics, inverses as used, step);
    /// the inversions themselves run in f64 on the host and the running averages stay f64.
    #[config(default = "Precision::F32")]
    pub block_precision: Precision,
    /// Arithmetic of K-FAC's factor inversions on the host: f64, or f32 Cholesky (about twice
    /// as fast) where the damped factor's conditioning allows, κ ≥ (max Lᵢᵢ/min Lᵢᵢ)² < 1e4,
    /// and f64 otherwise.
    #[config(default = "Precision::F64")]
    pub inverse_precision: Precision,
}

impl NgdConfig {
    /// Checks the values and builds the optimizer.
    pub fn init(&self) -> crate::Result<Ngd> {
        let bad = |what: String| Err(OptimError::Invalid(what));
        if !(0.0..1.0).contains(&self.kfac_decay) {
            return bad(format!(
                "kfac_decay must be in [0, 1), got {}",
                self.kfac_decay
            ));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return bad(format!("momentum must be in [0, 1), got {}", self.momentum));
        }
        if self.kfac_stats_interval == 0 || self.kfac_inverse_interval == 0 {
            return bad("the K-FAC intervals must be at least 1".into());
        }
        if self.kfac_stats_batch == Some(0) {
            return bad("the K-FAC statistics batch must hold at least 1 sample".into());
        }
        if let Some(c) = self.max_step_norm
            && !(c.is_finite() && c > 0.0)
        {
            return bad(format!("max_step_norm must be finite and > 0, got {c}"));
        }
        if let Some(c) = self.kl_clip
            && !(c.is_finite() && c > 0.0)
        {
            return bad(format!("kl_clip must be finite and > 0, got {c}"));
        }
        if self.adaptive_damping
            && !(super::LM_MIN_DAMPING..=super::LM_MAX_DAMPING).contains(&self.damping)
        {
            return bad(format!(
                "adaptive damping keeps ρ within [{:e}, {:e}]; the starting damping {} lies outside",
                super::LM_MIN_DAMPING,
                super::LM_MAX_DAMPING,
                self.damping
            ));
        }
        // The K-FAC options have no meaning for the dual-form methods: refuse rather than
        // silently use the exact Fisher, every step's statistics and no averaging.
        if self.kfac_state_options() && self.block_kind().is_none() {
            return bad(format!(
                "the sampled/empirical Fisher, running averages and update intervals are K-FAC \
                 options (and the diagonal Fisher's); {} solves the exact Fisher of each batch \
                 in dual form",
                self.method
            ));
        }
        if self.inverse_precision == Precision::F32
            && self.block_kind() != Some(BlockKind::Kronecker)
        {
            return bad(format!(
                "f32 inversions are a K-FAC option (its per-layer Kronecker blocks, with a sampled \
                 or empirical Fisher, running averages or intervals); {} inverts nothing there",
                self.method
            ));
        }
        if let Some(lr) = self.lr
            && !(lr.is_finite() && lr > 0.0)
        {
            return bad(format!(
                "the learning rate must be finite and > 0, got {lr}"
            ));
        }
        if self.block_kind() == Some(BlockKind::Diagonal)
            && self.loss == Loss::CrossEntropy
            && self.lr.is_none()
        {
            return bad(
                "the diagonal Fisher with the cross-entropy loss needs an explicit learning \
                 rate (the paper's 1/α is defined for its MSE dual form)"
                    .into(),
            );
        }
        let curvature = self.dual_curvature(self.damping)?;
        Ok(Ngd {
            config: self.clone(),
            curvature,
            state: NgdState::default(),
            blocks: Vec::new(),
            sync: Box::new(LocalSync),
        })
    }

    /// Whether any option asks for K-FAC state: running averages, sparse statistics or
    /// inversions, or a non-exact Fisher.
    fn kfac_state_options(&self) -> bool {
        self.kfac_decay > 0.0
            || self.kfac_stats_interval > 1
            || self.kfac_inverse_interval > 1
            || self.fisher != Fisher::Exact
            || self.kfac_stats_batch.is_some()
    }

    /// The method's dual-form curvature at `damping` (the route without state, and the paper's
    /// 1/α). The diagonal Fisher's per-layer blocks take the cross-entropy loss, which its dual
    /// form does not: with blocks its dual curvature is built for MSE and never solves (an
    /// explicit learning rate is required, [`NgdConfig::init`]).
    pub(super) fn dual_curvature(&self, damping: f64) -> crate::Result<Box<dyn crate::Curvature>> {
        let loss = if self.block_kind() == Some(BlockKind::Diagonal) {
            Loss::Mse
        } else {
            self.loss
        };
        self.method
            .curvature_for(damping, None, loss)
            .map_err(OptimError::from)
    }

    /// The per-layer block of a method with state (K-FAC: Kronecker; diagonal: entry-wise);
    /// `None` for the dual-form route, which also handles ρ = 0.
    pub fn block_kind(&self) -> Option<BlockKind> {
        if !self.kfac_state_options() {
            return None;
        }
        match self.method {
            Method::Kfac => Some(BlockKind::Kronecker),
            Method::Diagonal => Some(BlockKind::Diagonal),
            _ => None,
        }
    }
}
