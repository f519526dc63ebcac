//! Natural-gradient descent with the exact Fisher and its approximations for any burn network
//! of linear layers, from factored per-sample Jacobians (docs/MATH.md §2–3, §8). The N × P
//! Jacobian is never built.
//!
//! * **Model side** — [`FactoredModel`]: a network writes its forward pass once through a
//!   [`Tap`] and says how to update a layer; the crate gets the factors h̃_{l−1}, δ_l
//!   ([`Factors`]) from burn's autodiff. The NTK `Mlp` of `ngd-model` and a plain
//!   `burn::nn::Linear` stack are two implementations (`examples/custom_model.rs`).
//! * **Dual forms** — every method of the paper implements [`Curvature`] over the factors of
//!   one batch: given them and the output gradient g = N∂L/∂f it returns a [`Direction`], per
//!   layer dual coefficients R_l with Δ(W_lᵀ | b_l) = h̃_{l−1}ᵀR_l, or the dense step.
//!   Layer-by-layer ones ([`BlockDiagonal`], [`Kfac`], [`UnitWise`], [`Diagonal`],
//!   [`QuasiDiagonal`]) stand apart from network-level ones ([`Gd`], [`Exact`], [`LayerWise`],
//!   [`BlockTriDiagonal`]); [`Method`] is the registry ([`MethodCurvature`] builds them).
//! * **Per-layer curvature blocks** ([`curvature`], MATH.md §8b) — the mini-batch methods with
//!   state: one [`CurvatureBlock`] per layer ([`KroneckerBlock`] for K-FAC, [`DiagonalBlock`],
//!   [`IdentityBlock`]) keeps running statistics on the device, syncs them through a
//!   [`FactorSync`], refreshes its inverses and preconditions its layer's gradient.
//! * **Optimizer** — [`NgdConfig`] → [`Ngd`]: state between steps (the blocks, momentum, the
//!   damping), saved in burn's burnpack format.
//!
//! ```no_run
//! # fn demo<M: ngd_optim::FactoredModel>(model: &mut M, x: burn::tensor::Tensor<2>,
//! #         y: burn::tensor::Tensor<2>) -> ngd_optim::Result<()> {
//! use ngd_optim::{DampingConfig, Fisher, KfacConfig, Method, NgdConfig};
//! let mut ngd = NgdConfig::new(Method::Kfac)
//!     .with_lr(Some(0.1))
//!     .with_damping(DampingConfig::new().with_value(0.1))
//!     .with_kfac(Some(KfacConfig::new().with_fisher(Fisher::Sampled).with_decay(0.95)))
//!     .init()?;
//! let stats = ngd.step(model, x, y)?; // loss, lr, seconds by phase
//! ngd.save("optimizer.bpk")?;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod blocks;
pub mod convert;
pub mod curvature;
mod direction;
mod factors;
pub mod im2col;
mod method;
mod model;
mod network;
mod optimizer;
mod tap;
#[cfg(test)]
mod testing;

pub use blocks::{BlockDiagonal, Diagonal, Kfac, OutputRoot, QuasiDiagonal, UnitWise};
pub use curvature::{
    BlockKind, CurvatureBlock, DiagonalBlock, FactorSync, IdentityBlock, KroneckerBlock, LayerKind,
    LocalSync,
};
pub use direction::{
    Direction, LayerStep, coefficient_matrix, dual_to_coefficients, function_step,
    jacobian_times_updates,
};
pub use factors::{Factors, LayerFactors};
pub use method::MethodCurvature;
pub use model::{FactoredModel, step_param, update_linear};
pub use network::{
    BlockTriDiagonal, DampingConvention, DualDiagnostics, DualSolve, Exact, Gd, LayerWise,
    Precision,
};
use ngd_core::loss;
pub use ngd_core::sigma;
pub use ngd_core::{
    Loss, LrRule, Method, MethodError, SigmaError, Stream, UNIT_WISE_DAMPING_TIMES_WIDTH,
    parse_sigma,
};
pub use optimizer::{
    ClippingConfig, ConvFactors, DampingConfig, DualObserver, DualView, Fisher, KfacConfig,
    LM_DECAY, LM_MAX_DAMPING, LM_MIN_DAMPING, Ngd, NgdConfig, NgdState, PhaseTimes, StepStats,
    sigma_matrix,
};
pub use tap::{Tap, conv2d_kind, update_conv2d};

pub use ngd_linalg::LinalgError;

/// Errors from computing a natural-gradient direction.
#[derive(Debug, thiserror::Error)]
pub enum OptimError {
    /// A linear solve failed (singular Gram, NaN, …).
    #[error(transparent)]
    Linalg(#[from] LinalgError),
    /// An invalid or singular layer-wise Σ.
    #[error(transparent)]
    Sigma(#[from] SigmaError),
    /// The CN × CN systems would not fit in memory.
    #[error(
        "N·C = {cn} gives {what} of {gib:.1} GiB (f64), more than the {limit:.0} GiB allowed; \
         use fewer samples or classes"
    )]
    TooLarge {
        /// N·C.
        cn: usize,
        /// What would be allocated.
        what: &'static str,
        /// Its size, GiB.
        gib: f64,
        /// The limit, GiB.
        limit: f64,
    },
    /// A residual of the wrong length.
    #[error("residual has length {got}, expected C·N = {expected}")]
    ResidualLength {
        /// Its length.
        got: usize,
        /// C·N.
        expected: usize,
    },
    /// Cross-entropy NGD needs ρ > 0: the softmax Fisher is singular.
    #[error(
        "cross-entropy NGD needs damping ρ > 0: the softmax Fisher JᵀΛJ/N is singular \
         (Λ_n = diag(p_n) − p_np_nᵀ annihilates 1)"
    )]
    NeedsDamping,
    /// The ρ = 0 pseudo-inverse limit of a singular Σ is computed in float64 only.
    #[error(
        "the ρ = 0 pseudo-inverse limit of a singular layer-wise Σ is computed in float64 only"
    )]
    PseudoInverseLimitPrecision,
    /// The paper's learning rate 1/α is undefined (α = 1ᵀΣ⁻¹1 with a singular Σ).
    #[error("{method}: α = 1ᵀΣ⁻¹1 is undefined (Σ singular), so there is no default learning rate")]
    NoDefaultLr {
        /// The method.
        method: &'static str,
    },
    /// K-FAC's first input factor A*_0 is singular even with the damping given (at ρ = 0 it is
    /// pseudo-inverted instead).
    #[error(
        "{source} (the input Gram h̃₀h̃₀ᵀ is singular when M_0 < N or the inputs are \
         dependent, and this damping does not lift it: Forster-transform the inputs, raise the \
         damping, or use ρ = 0 for its pseudo-inverse)"
    )]
    SingularInputFactor {
        /// The failed factorisation.
        source: LinalgError,
    },
    /// The method cannot be built for this configuration (its loss, damping or Σ).
    #[error(transparent)]
    Method(#[from] MethodError),
    /// An invalid option or input (caught before any state changes).
    #[error("{0}")]
    Invalid(String),
    /// The batch loss became NaN or infinite.
    #[error(
        "the loss is {loss} at step {step} (diverged: lower the learning rate or raise the \
         damping)"
    )]
    Diverged {
        /// The step (1-based).
        step: u64,
        /// The loss value.
        loss: f64,
    },
    /// NaN or infinite values in a batch's inputs, targets or the network's outputs, refused
    /// before any optimizer state changes.
    #[error(
        "step {step}: the {what} hold NaN or infinite values (the optimizer state is unchanged)"
    )]
    NonFinite {
        /// The step (1-based).
        step: u64,
        /// What was non-finite.
        what: &'static str,
    },
    /// The method has no preconditioner for a layer of this kind.
    #[error("{method} cannot precondition layer {layer}, a {kind} layer: {note}")]
    UnsupportedLayer {
        /// The method.
        method: &'static str,
        /// The layer (1-based).
        layer: usize,
        /// Its kind.
        kind: Box<LayerKind>,
        /// What handles such a layer instead.
        note: &'static str,
    },
    /// A curvature block was asked to invert before it had statistics.
    #[error("the curvature block of layer {layer} has no statistics yet")]
    NoStatistics {
        /// The layer (1-based).
        layer: usize,
    },
    /// An optimizer state that does not fit the model or the configuration.
    #[error("optimizer state does not match: {0}")]
    StateMismatch(String),
    /// Reading or writing the optimizer record failed.
    #[error("NGD optimizer record: {0}")]
    Record(String),
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, OptimError>;

/// A Fisher approximation G that turns the residual into a parameter step Δθ = G⁻¹∇L.
pub trait Curvature {
    /// The method's name as used on the command line.
    fn name(&self) -> &'static str;

    /// α of the isotropic condition Θ̄ = αI (eq. 12) predicted by the theory, if any.
    fn alpha(&self, factors: &Factors) -> Option<f64>;

    /// The step direction for residual e (length CN, class-major: e[c·N + n]).
    fn direction(&self, factors: &Factors, residual: &[f64]) -> Result<Direction>;

    /// The direction together with what its dual solve measured (layer-wise methods only;
    /// `None` for the others).
    fn direction_with_diagnostics(
        &self,
        factors: &Factors,
        residual: &[f64],
    ) -> Result<(Direction, Option<DualDiagnostics>)> {
        Ok((self.direction(factors, residual)?, None))
    }
}

/// Largest memory the dual-form solves may take, in GiB.
pub const MEMORY_LIMIT_GIB: f64 = 16.0;

/// Refuses problems whose `count` CN × CN f64 matrices exceed [`MEMORY_LIMIT_GIB`].
pub fn check_dual_size(cn: usize, count: usize, what: &'static str) -> Result<()> {
    let gib = (count * cn * cn * 8) as f64 / (1u64 << 30) as f64;
    if gib > MEMORY_LIMIT_GIB {
        return Err(OptimError::TooLarge {
            cn,
            what,
            gib,
            limit: MEMORY_LIMIT_GIB,
        });
    }
    Ok(())
}

fn check_residual(factors: &Factors, residual: &[f64]) -> Result<()> {
    let expected = factors.samples() * factors.outputs_dim();
    if residual.len() != expected {
        return Err(OptimError::ResidualLength {
            got: residual.len(),
            expected,
        });
    }
    Ok(())
}
