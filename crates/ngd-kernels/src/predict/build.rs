//! Building a [`FunctionSpace`]: the kernels' checks and factorisations per [`Predictor`].

use faer::MatRef;
use ngd_linalg::Cholesky;

use super::Predictor;
use super::function_space::{FunctionSpace, TestCoefficient, TrainCoefficient};
use super::kfac::{FirstFactor, kfac_coefficient_transposed};
use super::spectral::{isotropic_value, significant_weights};
use crate::analytic::LayerKernels;
use crate::layerwise_weights;
use crate::{KernelError, Result};

impl<'a> FunctionSpace<'a> {
    /// Prepares the predictor of eq. (10) for `predictor`.
    ///
    /// `train` holds the N×N kernels at the training inputs (only borrowed during the call;
    /// drop it afterwards to free memory) and `test` the N'×N kernels between evaluation
    /// inputs x' (rows) and training inputs x (columns), borrowed for the predictor's life. Pass
    /// the same kernels twice to evaluate at x' = x. Factorises each Θ_l(x,x) (or Θ(x,x), or the
    /// K-FAC factors) once; a singular kernel is a [`KernelError::Linalg`] error.
    pub fn new(
        predictor: &Predictor,
        train: &LayerKernels,
        test: &'a LayerKernels,
    ) -> Result<Self> {
        let (n_train, n_test) = check_kernels(predictor, train, test)?;
        let n = n_train;
        let mut single_output = false;
        let (alpha, train_coef, test_coef) = match predictor {
            Predictor::Gd => {
                let ntk = train.ntk_paper(n);
                let eig = ngd_linalg::symmetric_eigen(ntk.as_ref(), "GD: NTK Θ(x,x)")?;
                (
                    None,
                    TrainCoefficient::Eigen {
                        values: eig.values,
                        vectors: eig.vectors,
                    },
                    TestCoefficient::Kernel {
                        theta: &test.theta,
                        scale: 1.0 / n as f64,
                    },
                )
            }
            Predictor::Exact => {
                let ntk = train.ntk();
                let factor = Cholesky::new(ntk.as_ref(), "exact NGD: NTK Θ(x,x)")?;
                (
                    Some(1.0),
                    TrainCoefficient::Diagonal(vec![1.0; n]),
                    TestCoefficient::Exact {
                        theta: &test.theta,
                        factor,
                    },
                )
            }
            Predictor::LayerWise { sigma } => {
                if sigma.nrows() != train.depth {
                    return Err(KernelError::Shape(format!(
                        "Σ is {}×{} but the network has depth L = {}",
                        sigma.nrows(),
                        sigma.ncols(),
                        train.depth
                    )));
                }
                let (weights, alpha) = significant_weights(layerwise_weights(sigma.as_ref())?);
                let mut factors = Vec::with_capacity(train.depth);
                for (l, &w) in weights.iter().enumerate() {
                    factors.push(if w == 0.0 {
                        None
                    } else {
                        let what = format!("layer-wise NGD: Θ_{}(x,x)", l + 1);
                        Some(Cholesky::new(train.theta[l].as_ref(), &what)?)
                    });
                }
                (
                    Some(alpha),
                    TrainCoefficient::Diagonal(vec![alpha; n]),
                    TestCoefficient::LayerWise {
                        theta: &test.theta,
                        weights,
                        factors,
                    },
                )
            }
            Predictor::Kfac | Predictor::KfacPrinted => {
                single_output = true;
                let printed = matches!(predictor, Predictor::KfacPrinted);
                let first = if printed {
                    FirstFactor::Invert
                } else {
                    FirstFactor::InvertLastLayerOnce
                };
                let ht = kfac_coefficient_transposed(train, test, first)?.0;
                let alpha = if printed {
                    (n * train.depth) as f64
                } else {
                    (n * (train.depth - 1) + 1) as f64
                };
                (
                    Some(alpha),
                    TrainCoefficient::Diagonal(vec![alpha; n]),
                    TestCoefficient::ExplicitTransposed(ht),
                )
            }
            Predictor::KfacPinvInput { rel_tol } => {
                if !(rel_tol.is_finite() && *rel_tol > 0.0 && *rel_tol < 1.0) {
                    return Err(KernelError::Config(format!(
                        "KfacPinvInput: rel_tol must be in (0, 1), got {rel_tol}"
                    )));
                }
                single_output = true;
                let (ht, diag) =
                    kfac_coefficient_transposed(train, test, FirstFactor::PseudoInverse(*rel_tol))?;
                let d = diag.expect("pseudo-inverse variant returns the train diagonal");
                let alpha = isotropic_value(&d);
                (
                    alpha,
                    TrainCoefficient::Diagonal(d),
                    TestCoefficient::ExplicitTransposed(ht),
                )
            }
        };
        Ok(Self {
            name: predictor.name(),
            n_train,
            n_test,
            alpha,
            single_output,
            train: train_coef,
            test: test_coef,
        })
    }

    /// K-FAC (eq. 21) for inputs of dimension M_0 < N (paper §4.3): like
    /// [`Predictor::KfacPinvInput`], but the first layer's pseudo-inverse comes from the inputs,
    /// Q_1'Q_1⁺ = X̃'(X̃ᵀX̃)⁻¹X̃ᵀ with X̃ = [σ_w X/√M_0, σ_b 1], which costs O(N M_0²) instead of
    /// an N×N eigen-decomposition. `x_train` (N×M_0) and `x_test` (N'×M_0) must be the inputs
    /// the kernels were built from (spot-checked against A_0); X̃ of lower column rank (constant pixels,
    /// Forster inputs on a span) is pseudo-inverted.
    /// Θ̄(x,x) = N[(L−1)I + diag(X̃(X̃ᵀX̃)⁻¹X̃ᵀ)] is diagonal; it is isotropic (α reported) only
    /// for Forster-transformed inputs. `predictor` is [`Predictor::Kfac`] (training's last-layer
    /// weight 1: Θ̄(x,x) = N[(L−2)I + diag(X̃(X̃ᵀX̃)⁻¹X̃ᵀ)] + I) or [`Predictor::KfacPrinted`]
    /// (eq. 21's weight N, as above).
    pub fn kfac_low_rank_inputs(
        predictor: &Predictor,
        train: &LayerKernels,
        test: &'a LayerKernels,
        x_train: MatRef<'_, f64>,
        x_test: MatRef<'_, f64>,
    ) -> Result<Self> {
        let (n_train, n_test) = check_kernels(predictor, train, test)?;
        let (first, name) = match predictor {
            Predictor::Kfac => (
                FirstFactor::FromInputsLastLayerOnce(x_train, x_test),
                "kfac-inputs",
            ),
            Predictor::KfacPrinted => (
                FirstFactor::FromInputs(x_train, x_test),
                "kfac-printed-inputs",
            ),
            other => {
                return Err(KernelError::Config(format!(
                    "kfac_low_rank_inputs is a K-FAC predictor, not {}",
                    other.name()
                )));
            }
        };
        let (ht, diag) = kfac_coefficient_transposed(train, test, first)?;
        let d = diag.expect("input pseudo-inverse returns the train diagonal");
        Ok(Self {
            name,
            n_train,
            n_test,
            alpha: isotropic_value(&d),
            single_output: true,
            train: TrainCoefficient::Diagonal(d),
            test: TestCoefficient::ExplicitTransposed(ht),
        })
    }
}

/// Checks that `train` is N×N, `test` N'×N, equal depths, and that the families `predictor`
/// needs are present; returns (N, N').
pub(super) fn check_kernels(
    predictor: &Predictor,
    train: &LayerKernels,
    test: &LayerKernels,
) -> Result<(usize, usize)> {
    let (n_train, n_train_cols) = train.shape();
    let (n_test, n_test_cols) = test.shape();
    if n_train != n_train_cols {
        return Err(KernelError::Shape(format!(
            "training kernels must be square N×N, got {n_train}×{n_train_cols}"
        )));
    }
    if n_test_cols != n_train {
        return Err(KernelError::Shape(format!(
            "test kernels must be N'×N with N = {n_train} training columns, got {n_test}×{n_test_cols}"
        )));
    }
    if train.depth != test.depth {
        return Err(KernelError::Shape(format!(
            "train depth {} ≠ test depth {}",
            train.depth, test.depth
        )));
    }
    let need = predictor.required_kernels();
    for (which, k) in [("training", train), ("test", test)] {
        let have = k.available();
        if (need.theta && !have.theta) || (need.a && !have.a) || (need.b && !have.b) {
            return Err(KernelError::MissingKernels(format!(
                "predictor '{}' needs {:?} but the {which} kernels hold {:?}",
                predictor.name(),
                need,
                have
            )));
        }
    }
    Ok((n_train, n_test))
}
