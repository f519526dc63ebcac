//! The errors of the experiments; they name no command-line option (the `ngd` command adds
//! its hints).

use ngd_data::DataError;
use ngd_kernels::KernelError;
use ngd_model::ModelError;
use ngd_optim::{MethodError, OptimError};
use ngd_train::TrainError;

/// Errors of the experiments.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The data could not be loaded.
    #[error(transparent)]
    Data(#[from] DataError),
    /// Invalid network configuration.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// Invalid method or damping.
    #[error(transparent)]
    Method(#[from] MethodError),
    /// The Forster transform of the inputs failed.
    #[error(transparent)]
    Forster(#[from] ngd_core::ForsterError),
    /// A curvature or direction could not be computed.
    #[error(transparent)]
    Optim(#[from] OptimError),
    /// A kernel or function-space predictor could not be computed.
    #[error(transparent)]
    Kernel(#[from] KernelError),
    /// A function-space predictor could not be built on these kernels.
    #[error("building the {name} predictor")]
    Predictor {
        /// The predictor's name.
        name: &'static str,
        /// Why.
        #[source]
        source: KernelError,
    },
    /// A training run of a figure failed.
    #[error("run '{label}'")]
    Run {
        /// The run's label.
        label: String,
        /// Why it failed.
        #[source]
        source: TrainError,
    },
    /// An experiment config without runs.
    #[error("no runs listed")]
    NoRuns,
    /// An experiment that needs at least one of something got none.
    #[error("need at least one {0}")]
    Empty(&'static str),
    /// Analytic kernels exist in closed form for ReLU only.
    #[error("analytic kernels have closed forms for ReLU only (MATH.md §5), not {0}")]
    AnalyticNeedsRelu(ngd_model::Activation),
    /// A name that is not a converged predictor.
    #[error(
        "no converged-predictor for '{0}' (expected exact, block-diagonal, block-tri-diagonal, \
         kfac, kfac-printed)"
    )]
    UnknownPredictor(String),
    /// The same predictor listed twice.
    #[error("predictor '{0}' given twice")]
    DuplicatePredictor(String),
    /// K-FAC's function-space form is only derived for one output.
    #[error(
        "{name}: the K-FAC predictor (eq. 21) is only derived for one output (two classes); \
         these {outputs}-class targets need exact, block-diagonal or block-tri-diagonal"
    )]
    KfacMultiOutput {
        /// The predictor's name.
        name: &'static str,
        /// The number of outputs of the data.
        outputs: usize,
    },
    /// The isotropy analysis has one output: it needs two classes.
    #[error("the isotropy analysis uses one output: it needs two classes, got {0}")]
    NotTwoClasses(usize),
    /// The predictions would hold more memory than allowed.
    #[error(
        "the predictions would hold {total:.1} GiB (f64): {kernels:.1} GiB of kernels \
         ({matrices} per-layer N×N and N'×N matrices, N = {n}, N' = {n_test}){factors}, more \
         than the {limit:.0} GiB allowed"
    )]
    Memory {
        /// All of it, GiB.
        total: f64,
        /// The kernels, GiB.
        kernels: f64,
        /// Number of kernel matrices.
        matrices: u64,
        /// N.
        n: usize,
        /// N'.
        n_test: usize,
        /// Empirical kernels: what the Jacobian factors add (else empty).
        factors: String,
        /// The limit, GiB ([`ngd_optim::MEMORY_LIMIT_GIB`]).
        limit: f64,
    },
}

impl Error {
    /// Whether this is a [`Error::Memory`] refusal of empirical kernels (a smaller width or
    /// analytic kernels help, not only fewer samples).
    pub fn is_empirical_memory(&self) -> bool {
        matches!(self, Error::Memory { factors, .. } if !factors.is_empty())
    }
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;
