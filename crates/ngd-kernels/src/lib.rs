//! Kernels and function-space predictors for natural-gradient descent in wide networks
//! (Karakida & Osawa, NeurIPS 2020; design notes in `docs/MATH.md` §4–5).
//!
//! Pure `f64` mathematics on [`faer::Mat`]; no deep-learning framework.
//!
//! * [`analytic`] — infinite-width ReLU kernels Θ_l, A_l, B_l of every layer (MATH.md §5,
//!   paper Section E), computed block-wise in parallel so that 10 000 × 10 000 kernels fit.
//! * [`predict`] — the function-space dynamics of GD (eq. 5) and of exact / layer-wise /
//!   K-FAC NGD (eqs. 10, 13, 16, 21): f_t(x'), f_∞(x') and the kernel-regression mean.
//! * [`empirical`] — the same kernels at finite width from a real network's Jacobian factors
//!   h̃_{l−1}, δ_l (MATH.md §2), for `--kernel empirical` and the theory columns of training.
//! * The layer-wise Σ matrices (block diagonal, block tri-diagonal eq. 19) and α = 1ᵀΣ⁻¹1
//!   (Theorem 4.1, Lemma 4.3) are `ngd-core`'s ([`ngd_core::sigma`]), re-exported here.
//!
//! # Normalisation conventions (shared by every module)
//!
//! For a network u_l = (σ_w/√M_{l−1}) W_l h_{l−1} + σ_b b_l, h_l = φ(u_l), f = u_L (eq. 1) with a
//! single output, and per-sample back-propagated signal δ_l = ∂f/∂u_l:
//!
//! * **Θ_l(x', x) = ∇_{θ_l} f(x') · ∇_{θ_l} f(x)** — the per-sample gradient inner product of
//!   layer l, *without* the paper's 1/N. The paper's Θ_l of eq. (6)/Theorem 4.1 is this divided
//!   by the number N of training samples ([`LayerKernels::ntk_paper`]). Every NGD predictor is
//!   invariant to that scale; only GD (eq. 5) depends on it, and [`predict::FunctionSpace`]
//!   applies the 1/N itself.
//! * **A_l(x', x) = h_l(x') · h_l(x) / M_l**, A_0 = x·x'/M_0 (eq. 21's definition).
//! * **B_l(x', x) = δ_l(x') · δ_l(x)** (no normalisation, B_L = 1 for the single output).
//! * Hence Θ_l = B_l ⊙ Q_l with Q_l = σ_w² A_{l−1} + σ_b² = h̃_{l−1}(x')·h̃_{l−1}(x), the Gram of
//!   the bias-augmented layer input h̃_{l−1} = [σ_w h_{l−1}/√M_{l−1}; σ_b] (MATH.md §2).
//!
//! The same conventions hold for finite-width (empirical) kernels built from h̃_{l−1} and δ_l,
//! so a [`LayerKernels`] filled from a real network can be fed to the predictors unchanged.

#![warn(missing_docs)]

pub mod analytic;
pub mod empirical;
pub mod predict;

pub use analytic::{
    AnalyticConfig, KernelSet, LayerKernels, relu_a, relu_k_prime, relu_layer_kernels,
    relu_layer_kernels_select, relu_layer_kernels_sym, relu_layer_kernels_sym_select,
};
pub use empirical::{FactorRef, empirical_layer_kernels};
pub use ngd_core::sigma::{
    SigmaError, block_diagonal_sigma, layerwise_alpha, layerwise_weights, tridiagonal_sigma,
};
pub use ngd_linalg::LinalgError;
pub use predict::{FunctionSpace, Predictor, gd_train_loss_curve, max_eigenvalue};

/// Errors of the kernel computations and predictors.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    /// A dense factorisation or eigen-decomposition failed (e.g. a singular kernel Θ_l).
    #[error(transparent)]
    Linalg(#[from] LinalgError),
    /// An invalid configuration value (depth, variances, tolerance, …).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Inconsistent matrix shapes between arguments.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// An invalid or singular layer-wise Σ (Theorem 4.1, eq. 15–16, Lemma 4.3).
    #[error(transparent)]
    Sigma(#[from] SigmaError),
    /// K-FAC's function-space form (eq. 21) is only derived for one output.
    #[error(
        "K-FAC (eq. 21) is only derived for a single output (C = 1), got C = {outputs}; \
         use Exact / LayerWise for multi-class targets"
    )]
    KfacMultiOutput {
        /// The number of target columns supplied.
        outputs: usize,
    },
    /// The K-FAC input factor of the first layer is singular (typically M_0 < N).
    #[error(
        "K-FAC input factor Q_1(x,x) = σ_w²A_0 + σ_b² ({n}×{n}) is singular (its rank is at most \
         M_0 + 1 for M_0-dimensional inputs); eq. (21) needs M_0 ≥ N — use \
         FunctionSpace::kfac_low_rank_inputs or Predictor::KfacPinvInput (pseudo-inverse, the \
         paper's §4.3 'M_0 < N' form): {source}"
    )]
    KfacSingularInput {
        /// N.
        n: usize,
        /// The underlying factorisation error.
        source: LinalgError,
    },
    /// A kernel needed by the chosen predictor was not computed.
    #[error("missing kernels: {0}")]
    MissingKernels(String),
    /// t → ∞ was requested but (1 − ηλ)^t does not converge for some coefficient eigenvalue λ.
    #[error(
        "no t → ∞ limit: |1 − η·λ| = {factor} ≥ 1 for the coefficient eigenvalue λ = {lambda:e} \
         at η = {eta:e} (need 0 < ηλ < 2 for every eigenvalue of Θ̄(x,x))"
    )]
    NoLimit {
        /// Learning rate.
        eta: f64,
        /// Offending eigenvalue of Θ̄(x, x).
        lambda: f64,
        /// |1 − ηλ|.
        factor: f64,
    },
    /// A coefficient matrix that must be positive definite has a non-positive eigenvalue.
    #[error(
        "{what}: eigenvalue {value:e} ≤ 0, the converged (t → ∞) predictor needs Θ̄(x,x) positive definite"
    )]
    NotPositive {
        /// Which matrix.
        what: String,
        /// The offending eigenvalue.
        value: f64,
    },
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, KernelError>;
