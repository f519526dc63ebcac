//! [`NgdConfig`]: the optimizer's options with their defaults, checked by [`NgdConfig::init`].

use super::{ConvFactors, Fisher, Ngd, NgdState};
use crate::curvature::{BlockKind, LocalSync};
use crate::{DualSolve, Loss, Method, MethodCurvature, OptimError, Precision};
use burn::config::Config;
use faer::Mat;

/// Configuration of [`Ngd`]: the method, the step (η, μ) and three groups of options —
/// [`DampingConfig`], [`ClippingConfig`] and, for the methods with per-layer state,
/// [`KfacConfig`].
#[derive(Config, Debug, PartialEq)]
pub struct NgdConfig {
    /// The Fisher approximation (`layer-wise` needs [`NgdConfig::sigma`]).
    pub method: Method,
    /// Learning rate η; `None`: the paper's optimum 1/α (Cor. 4.2) measured at the first batch.
    #[config(default = "None")]
    pub lr: Option<f64>,
    /// The training loss (MSE, eq. 3, or softmax cross-entropy).
    #[config(default = "Loss::CrossEntropy")]
    pub loss: Loss,
    /// Momentum μ on the step (0: none).
    #[config(default = 0.0)]
    pub momentum: f64,
    /// Damping ρ in G = F + ρI and its adaptation.
    #[config(default = "DampingConfig::new()")]
    pub damping: DampingConfig,
    /// Bounds on the step.
    #[config(default = "ClippingConfig::new()")]
    pub clipping: ClippingConfig,
    /// Per-layer curvature blocks with state (K-FAC's Kronecker factors, the diagonal Fisher's
    /// entries): running averages, intervals, the Fisher estimator. `None`: the paper's dual
    /// form, the exact Fisher of each batch solved afresh (which also takes ρ = 0).
    #[config(default = "None")]
    pub kfac: Option<KfacConfig>,
    /// Seed of the sampled labels ([`Fisher::Sampled`]).
    #[config(default = 0)]
    pub seed: u64,
    /// Arithmetic of the per-layer blocks on the device (statistics, inverses as used, step);
    /// the inversions themselves run on the host ([`KfacConfig::inverse_precision`]) and the
    /// running averages stay f64.
    #[config(default = "Precision::F32")]
    pub block_precision: Precision,
    /// Σ of the layer-wise method (MATH.md §3, eq. 16), L × L by rows; only `layer-wise` takes
    /// it.
    #[config(default = "None")]
    pub sigma: Option<Vec<Vec<f64>>>,
    /// Precision and damping convention of the layer-wise dual solve (the defaults: f64, Nρ).
    #[config(default = "DualSolve::default()")]
    pub dual: DualSolve,
}

/// Σ as a matrix from its rows (a missing entry is NaN, which Σ's check refuses).
pub fn sigma_matrix(rows: &[Vec<f64>]) -> Mat<f64> {
    Mat::from_fn(rows.len(), rows.len(), |i, j| {
        rows[i].get(j).copied().unwrap_or(f64::NAN)
    })
}

/// The damping ρ of G = F + ρI (MATH.md §8a).
#[derive(Config, Debug, PartialEq)]
pub struct DampingConfig {
    /// ρ (the starting value under [`DampingConfig::adaptive`]; the value in use once adapted).
    #[config(default = 1e-3)]
    pub value: f64,
    /// Levenberg–Marquardt adaptation of ρ (Martens & Grosse 2015, §6.5): after each step the
    /// reduction ratio r = (L(θ + d) − L(θ))/q(d) of the batch loss against the quadratic model
    /// q(d) = ∇Lᵀd + ½dᵀGd of the step actually taken (momentum, clipping included; G without
    /// damping, MATH.md §8a) sets ρ ← ωρ when r > ¾ and ρ ← ρ/ω when r < ¼ (ω = 0.95), within
    /// [1e-8, 1e4].
    #[config(default = false)]
    pub adaptive: bool,
}

/// Bounds on the step (both off by default; they combine).
#[derive(Config, Debug, PartialEq)]
pub struct ClippingConfig {
    /// The update η·v (after momentum) is scaled down to this L2 norm when longer; the momentum
    /// buffer itself is not scaled.
    #[config(default = "None")]
    pub max_step_norm: Option<f64>,
    /// KL clipping (Ba et al. 2017; kfac-jax's `norm_constraint`): the preconditioned gradient
    /// Δθ is scaled by ν = min(1, √(c/(η²Δθᵀ∇L))) before momentum, so that the step's
    /// predicted change of the KL divergence η²ν²Δθᵀ∇L stays ≤ c.
    #[config(default = "None")]
    pub kl: Option<f64>,
}

/// The per-layer blocks' statistics and inverses (K-FAC, MATH.md §8; the diagonal Fisher uses
/// the estimator, averages and intervals too).
#[derive(Config, Debug, PartialEq)]
pub struct KfacConfig {
    /// The output-side Fisher (cross-entropy; MSE's Λ = I is exact).
    #[config(default = "Fisher::Exact")]
    pub fisher: Fisher,
    /// Decay β of the running averages of A and S (0: this batch's statistics only).
    #[config(default = 0.0)]
    pub decay: f64,
    /// Update the statistics every this many steps.
    #[config(default = 1)]
    pub stats_interval: usize,
    /// Recompute the damped inverses every this many steps (T).
    #[config(default = 1)]
    pub inverse_interval: usize,
    /// During the first this many steps, recompute the inverses with every statistics update
    /// too, so that a long interval T does not serve the first batches' curvature for T steps
    /// (`None`: off; absent in records that predate it).
    #[config(default = "None")]
    pub inverse_warmup: Option<usize>,
    /// Estimate the statistics from the first this many samples of each batch (`None`: the
    /// whole batch); the gradient always uses the whole batch.
    #[config(default = "None")]
    pub stats_batch: Option<usize>,
    /// Factors of a convolution: expand or reduce (MATH.md §8c).
    #[config(default = "ConvFactors::Reduce")]
    pub conv: ConvFactors,
    /// Arithmetic of the factor inversions on the host: f64, or f32 Cholesky (about twice as
    /// fast) where the damped factor's conditioning allows, κ ≥ (max Lᵢᵢ/min Lᵢᵢ)² < 1e4, and
    /// f64 otherwise.
    #[config(default = "Precision::F64")]
    pub inverse_precision: Precision,
}

impl KfacConfig {
    /// Checks the values.
    pub fn validate(&self) -> crate::Result<()> {
        let bad = |what: String| Err(OptimError::Invalid(what));
        if !(0.0..1.0).contains(&self.decay) {
            return bad(format!("kfac decay must be in [0, 1), got {}", self.decay));
        }
        if self.stats_interval == 0 || self.inverse_interval == 0 {
            return bad("the K-FAC intervals must be at least 1".into());
        }
        if self.stats_batch == Some(0) {
            return bad("the K-FAC statistics batch must hold at least 1 sample".into());
        }
        Ok(())
    }
}

impl NgdConfig {
    /// Checks the values and builds the optimizer.
    pub fn init(&self) -> crate::Result<Ngd> {
        let bad = |what: String| Err(OptimError::Invalid(what));
        if !(0.0..1.0).contains(&self.momentum) {
            return bad(format!("momentum must be in [0, 1), got {}", self.momentum));
        }
        for (name, bound) in [
            ("max_step_norm", self.clipping.max_step_norm),
            ("kl_clip", self.clipping.kl),
        ] {
            if let Some(c) = bound
                && !(c.is_finite() && c > 0.0)
            {
                return bad(format!("{name} must be finite and > 0, got {c}"));
            }
        }
        let rho = self.damping.value;
        if self.damping.adaptive && !(super::LM_MIN_DAMPING..=super::LM_MAX_DAMPING).contains(&rho)
        {
            return bad(format!(
                "adaptive damping keeps ρ within [{:e}, {:e}]; the starting damping {rho} lies \
                 outside",
                super::LM_MIN_DAMPING,
                super::LM_MAX_DAMPING,
            ));
        }
        if let Some(kfac) = &self.kfac {
            kfac.validate()?;
            // The K-FAC options have no meaning for the dual-form methods: refuse rather than
            // silently use the exact Fisher, every step's statistics and no averaging.
            if self.block_kind().is_none() {
                return bad(format!(
                    "the sampled/empirical Fisher, running averages, update intervals and f32 \
                     inversions are K-FAC options (and the diagonal Fisher's); {} solves the \
                     exact Fisher of each batch in dual form",
                    self.method
                ));
            }
            if kfac.inverse_precision == Precision::F32
                && self.block_kind() != Some(BlockKind::Kronecker)
            {
                return bad(format!(
                    "f32 inversions are a K-FAC option (its per-layer Kronecker blocks); {} \
                     inverts nothing there",
                    self.method
                ));
            }
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
        let curvature = self.dual_curvature(self.damping.value)?;
        Ok(Ngd {
            config: self.clone(),
            curvature,
            state: NgdState::default(),
            blocks: Vec::new(),
            sync: Box::new(LocalSync),
        })
    }

    /// The method's dual-form curvature at `damping` (the route without state, and the paper's
    /// 1/α). The diagonal Fisher's per-layer blocks take the cross-entropy loss, which its dual
    /// form does not: with blocks its dual curvature is built for MSE and never solves (an
    /// explicit learning rate is required, [`NgdConfig::init`]).
    pub fn dual_curvature(&self, damping: f64) -> crate::Result<Box<dyn crate::Curvature>> {
        let loss = if self.block_kind() == Some(BlockKind::Diagonal) {
            Loss::Mse
        } else {
            self.loss
        };
        let sigma = self.sigma.as_deref().map(sigma_matrix);
        self.method
            .curvature_dual(damping, sigma.as_ref(), loss, self.dual)
            .map_err(OptimError::from)
    }

    /// The per-layer block of a method with state (K-FAC: Kronecker; diagonal: entry-wise);
    /// `None` for the dual-form route ([`NgdConfig::kfac`] unset), which also handles ρ = 0.
    pub fn block_kind(&self) -> Option<BlockKind> {
        self.kfac.as_ref()?;
        match self.method {
            Method::Kfac => Some(BlockKind::Kronecker),
            Method::Diagonal => Some(BlockKind::Diagonal),
            _ => None,
        }
    }

    /// The K-FAC options, set to `f` of the current ones (or of the defaults when unset): the
    /// per-layer route with state.
    pub fn kfac_with(mut self, f: impl FnOnce(KfacConfig) -> KfacConfig) -> Self {
        self.kfac = Some(f(self.kfac.take().unwrap_or_else(KfacConfig::new)));
        self
    }

    /// The K-FAC options in force (the defaults on the dual-form route).
    pub fn kfac_or_default(&self) -> KfacConfig {
        self.kfac.clone().unwrap_or_else(KfacConfig::new)
    }
}
