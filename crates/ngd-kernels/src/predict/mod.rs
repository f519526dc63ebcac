//! Function-space predictors of GD and (approximate) NGD (MATH.md §4, paper eqs. 5, 10–16, 21).
//!
//! All predictors share eq. (10):
//!
//! ```text
//! f_t(x') = f_0(x') + Θ̄(x',x) Θ̄⁻¹ (I − (I − ηΘ̄)^t) (y − f_0(x)),      Θ̄ = Θ̄(x, x)
//! ```
//!
//! with C outputs handled as I_C ⊗ Θ̄: one N×N factorisation, the C classes (and any number of
//! stacked initialisations, see below) are right-hand sides.
//!
//! | predictor | Θ̄(x', x) | Θ̄(x, x) |
//! |---|---|---|
//! | [`Predictor::Gd`] | Θ(x',x) = Σ_l Θ_l / N (eq. 5–6) | eigen-decomposed |
//! | [`Predictor::Exact`] | Θ(x',x)Θ⁻¹ (eq. 13) | I (α = 1) |
//! | [`Predictor::LayerWise`] | Σ_l (Σ⁻¹1)_l Θ_l(x',x)Θ_l⁻¹ (eq. 16) | αI, α = 1ᵀΣ⁻¹1 |
//! | [`Predictor::Kfac`] | N Σ_{l<L} (B_l'B_l⁻¹)⊙(Q_l'Q_l⁻¹) + Q_L'Q_L⁻¹ (what training does) | (N(L−1)+1)·I |
//! | [`Predictor::KfacPrinted`] | N[Σ_{l<L} (B_l'B_l⁻¹)⊙(Q_l'Q_l⁻¹) + Q_L'Q_L⁻¹] (eq. 21 as printed) | NL·I |
//! | [`Predictor::KfacPinvInput`] | as K-FAC with Q_1⁺ (paper §4.3, M_0 < N) | N[(L−1)I + diag(Q_1Q_1⁺)] |
//! | [`FunctionSpace::kfac_low_rank_inputs`] | the same, Q_1⁺ through the inputs X | the same |
//!
//! Under isotropy (Θ̄(x,x) = αI, which holds *exactly* for the NGD forms since Θ_lΘ_l⁻¹ = I)
//! f_t(x') = f_0(x') + α⁻¹(1 − (1−αη)^t) Θ̄(x',x)(y − f_0); on the training points
//! f_t = y + (1−αη)^t (f_0 − y). Θ̄(x', x) is applied to vectors through the Cholesky factors of
//! Θ_l(x,x) (never formed explicitly) except for K-FAC, whose Hadamard products force an
//! explicit N'×N matrix (built once).
//!
//! # Conventions
//! * Kernels come in the per-sample convention of [`LayerKernels`](crate::LayerKernels) (no 1/N); GD's Θ gets the
//!   1/N of eq. (6) here, with N = number of training samples.
//! * Targets `y` are N×C. Initial outputs `f0` may be N×(S·C): S initialisations stacked side
//!   by side, column s·C + c pairing with target column c; every output has f0's shape.
//! * Steps: `t: Option<usize>`; `None` means the t → ∞ limit (an error if it does not exist,
//!   i.e. unless 0 < ηλ < 2 for every eigenvalue λ of Θ̄(x,x)).

mod build;
mod function_space;
mod gd;
mod kfac;
mod spectral;

pub use function_space::FunctionSpace;
pub use gd::{gd_train_loss_curve, max_eigenvalue};

use faer::Mat;

use crate::analytic::KernelSet;
use crate::{block_diagonal_sigma, tridiagonal_sigma};
use ngd_core::Method;

/// Which update rule's function-space dynamics to predict (MATH.md §3–4).
#[derive(Clone, Debug)]
pub enum Predictor {
    /// Gradient descent, eq. (5): Θ̄ = Θ = Σ_l Θ_l / N (not isotropic).
    Gd,
    /// Exact pseudo-inverse NGD, eq. (13): Θ̄(x',x) = Θ(x',x)Θ⁻¹, α = 1.
    Exact,
    /// Layer-wise NGD with an L×L symmetric invertible Σ, eq. (15)–(16):
    /// Θ̄(x',x) = Σ_l (Σ⁻¹1_L)_l Θ_l(x',x)Θ_l⁻¹, α = 1ᵀΣ⁻¹1 (Σ = I: block diagonal, α = L;
    /// eq. (19): block tri-diagonal).
    LayerWise {
        /// The symmetric L×L matrix Σ of eq. (15).
        sigma: Mat<f64>,
    },
    /// K-FAC as training runs it (C = 1; errors for C > 1): the hidden layers' push-through
    /// factors give N·(B_l'B_l⁻¹)⊙(Q_l'Q_l⁻¹), while the last layer's B*_L = δ_Lᵀδ_L/N = 1 is
    /// 1 × 1 and gives Q_L'Q_L⁻¹ alone, so α = N(L−1)+1 — the α of `ngd_optim::Kfac` and the
    /// measured one (experiments/kfac). Input factors are the bias-augmented
    /// Q_l = σ_w²A_{l−1} + σ_b²; needs every factor, in particular Q_1 ∝ XXᵀ, invertible
    /// (M_0 ≥ N).
    Kfac,
    /// K-FAC's eq. (21) as printed, which also weights the last layer by N: α = N·L. This is
    /// the form of the authors' code (their Fig. 2); it differs from training in the last
    /// layer's weight only.
    KfacPrinted,
    /// K-FAC with the Moore–Penrose pseudo-inverse of the first layer's input factor Q_1 (the
    /// paper's M_0 < N case, §4.3): Θ̄(x,x)/N = (L−1)I + I⊙(Q_1Q_1⁺) is diagonal, isotropic only
    /// after a Forster transform. Eigenvalues below `rel_tol`·λ_max of Q_1 are dropped
    /// (e.g. 1e-10). Costs one N×N eigen-decomposition.
    KfacPinvInput {
        /// Relative eigenvalue cut-off of the pseudo-inverse.
        rel_tol: f64,
    },
}

impl Predictor {
    /// Block-diagonal NGD, Σ = I_L (Section 4.1).
    pub fn block_diagonal(depth: usize) -> Self {
        Self::LayerWise {
            sigma: block_diagonal_sigma(depth),
        }
    }

    /// Block tri-diagonal NGD, Σ of eq. (19) (Section 4.2).
    pub fn block_tridiagonal(depth: usize) -> Self {
        Self::LayerWise {
            sigma: tridiagonal_sigma(depth),
        }
    }

    /// The function-space predictor of a training method (MATH.md §4), or `None` where the
    /// paper has none: unit-wise and the entry-wise Fishers, and layer-wise without Σ. (The
    /// block tri-diagonal Σ is singular at L = 3s+2, Lemma 4.3: [`FunctionSpace::new`] says so.)
    pub fn for_method(method: Method, depth: usize, sigma: Option<&Mat<f64>>) -> Option<Self> {
        match method {
            Method::Gd => Some(Self::Gd),
            Method::Exact => Some(Self::Exact),
            Method::BlockDiagonal => Some(Self::block_diagonal(depth)),
            Method::BlockTriDiagonal => Some(Self::block_tridiagonal(depth)),
            Method::LayerWise => sigma.map(|s| Self::LayerWise { sigma: s.clone() }),
            Method::Kfac => Some(Self::Kfac),
            Method::UnitWise | Method::Diagonal | Method::QuasiDiagonal => None,
        }
    }

    /// A short name for reports: "gd", "exact", "layerwise", "kfac", "kfac-pinv".
    pub fn name(&self) -> &'static str {
        match self {
            Self::Gd => "gd",
            Self::Exact => "exact",
            Self::LayerWise { .. } => "layerwise",
            Self::Kfac => "kfac",
            Self::KfacPrinted => "kfac-printed",
            Self::KfacPinvInput { .. } => "kfac-pinv",
        }
    }

    /// The kernel families this predictor reads (for [`crate::relu_layer_kernels_select`]).
    pub fn required_kernels(&self) -> KernelSet {
        match self {
            Self::Gd | Self::Exact | Self::LayerWise { .. } => KernelSet::THETA,
            Self::Kfac | Self::KfacPrinted | Self::KfacPinvInput { .. } => KernelSet::KFAC,
        }
    }
}
