//! The burn-free parts of natural-gradient descent shared by the optimizer (`ngd-optim`) and the
//! analytic kernels (`ngd-kernels`): pure `f64` mathematics on [`faer::Mat`].
//!
//! * [`Loss`] — MSE and cross-entropy, their output gradient g = N∂L/∂f and the output Hessian
//!   Λ of the likelihood (MATH.md §3).
//! * [`Method`] — the table of the paper's methods: names, aliases, default damping and
//!   learning-rate rule ([`LrRule`]). Their curvature objects live in `ngd-optim`.
//! * [`sigma`] — the layer-wise Σ matrices and the isotropy constant α = 1ᵀΣ⁻¹1 (Theorem 4.1,
//!   Lemma 4.3).
//! * [`forster`] — the Forster transform of the inputs (Section 4.3: isotropic first-layer
//!   K-FAC factor when M_0 < N).
//! * [`Stream`] — the independent random streams of one seed (initial weights, shuffles,
//!   sampled labels).

#![warn(missing_docs)]

pub mod forster;
pub mod loss;
mod method;
pub mod sigma;
mod stream;
pub mod testing;

pub use forster::ForsterError;
pub use loss::Loss;
pub use method::{LrRule, Method, MethodError, UNIT_WISE_DAMPING_TIMES_WIDTH, parse_sigma};
pub use sigma::SigmaError;
pub use stream::Stream;
