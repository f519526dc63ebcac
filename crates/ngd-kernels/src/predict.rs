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
//! * Kernels come in the per-sample convention of [`LayerKernels`] (no 1/N); GD's Θ gets the
//!   1/N of eq. (6) here, with N = number of training samples.
//! * Targets `y` are N×C. Initial outputs `f0` may be N×(S·C): S initialisations stacked side
//!   by side, column s·C + c pairing with target column c; every output has f0's shape.
//! * Steps: `t: Option<usize>`; `None` means the t → ∞ limit (an error if it does not exist,
//!   i.e. unless 0 < ηλ < 2 for every eigenvalue λ of Θ̄(x,x)).

use faer::{Mat, MatRef};
use ngd_linalg::Cholesky;

use crate::analytic::{KernelSet, LayerKernels};
use crate::{KernelError, LinalgError, Result};
use crate::{block_diagonal_sigma, layerwise_weights, tridiagonal_sigma};
use ngd_optim::Method;

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

/// Θ̄(x, x) in a form that makes f(Θ̄) cheap.
enum TrainCoefficient {
    /// Θ̄(x, x) = diag(d) (isotropic when all d equal α).
    Diagonal(Vec<f64>),
    /// Θ̄(x, x) = U diag(λ) Uᵀ (GD).
    Eigen { values: Vec<f64>, vectors: Mat<f64> },
}

/// Θ̄(x', x) as an operator on N×k matrices.
enum TestCoefficient<'a> {
    /// Σ_l Θ_l(x',x) · scale (GD: scale = 1/N).
    Kernel { theta: &'a [Mat<f64>], scale: f64 },
    /// Σ_l Θ_l(x',x) Θ⁻¹ (exact NGD).
    Exact {
        theta: &'a [Mat<f64>],
        factor: Cholesky,
    },
    /// Σ_l w_l Θ_l(x',x) Θ_l⁻¹ (layer-wise NGD); layers with w_l = 0 carry no factor.
    LayerWise {
        theta: &'a [Mat<f64>],
        weights: Vec<f64>,
        factors: Vec<Option<Cholesky>>,
    },
    /// Θ̄(x', x)ᵀ stored explicitly (N×N'), K-FAC.
    ExplicitTransposed(Mat<f64>),
}

/// Function-space predictor for one training set x and one evaluation set x' (MATH.md §4).
///
/// Built once (all factorisations happen in [`FunctionSpace::new`]) and then applied to any
/// number of targets, initial outputs, learning rates and step counts.
pub struct FunctionSpace<'a> {
    name: &'static str,
    n_train: usize,
    n_test: usize,
    alpha: Option<f64>,
    single_output: bool,
    train: TrainCoefficient,
    test: TestCoefficient<'a>,
}

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
    /// the kernels were built from (spot-checked against A_0) and X̃ must have full column rank.
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

    /// The predictor's short name (see [`Predictor::name`]).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// N, the number of training samples.
    pub fn n_train(&self) -> usize {
        self.n_train
    }

    /// N', the number of evaluation samples.
    pub fn n_test(&self) -> usize {
        self.n_test
    }

    /// α of the isotropic condition Θ̄(x, x) = αI (eq. 12): 1 (exact), 1ᵀΣ⁻¹1 (layer-wise,
    /// Theorem 4.1), N(L−1)+1 (K-FAC) or N·L (eq. 21 as printed). `None` for GD and for a non-isotropic K-FAC
    /// pseudo-inverse coefficient.
    pub fn alpha(&self) -> Option<f64> {
        self.alpha
    }

    /// The learning rate that converges fastest: 1/α for isotropic NGD (Corollary 4.2, one
    /// step), 1/λ_max(Θ) for GD (the paper's choice, Fig. 1a); `None` otherwise.
    pub fn optimal_learning_rate(&self) -> Option<f64> {
        match (&self.train, self.alpha) {
            (_, Some(a)) => Some(1.0 / a),
            (TrainCoefficient::Eigen { values, .. }, None) => values.last().map(|l| 1.0 / l),
            _ => None,
        }
    }

    /// Eigenvalues of Θ̄(x, x), ascending (N values; all α under isotropy). Their ratio
    /// λ_max/λ_min is Fig. 3's condition number.
    pub fn train_spectrum(&self) -> Vec<f64> {
        match &self.train {
            TrainCoefficient::Diagonal(d) => {
                let mut v = d.clone();
                v.sort_by(f64::total_cmp);
                v
            }
            TrainCoefficient::Eigen { values, .. } => values.clone(),
        }
    }

    /// f_t(x) on the training points (eq. 10 with x' = x); `t = None` is t → ∞.
    /// Isotropic NGD: y + (1 − αη)^t (f_0 − y); GD: eq. (5) through Θ's eigen-decomposition.
    pub fn train_outputs(
        &self,
        t: Option<usize>,
        eta: f64,
        f0: MatRef<'_, f64>,
        y: MatRef<'_, f64>,
    ) -> Result<Mat<f64>> {
        let r = self.residual(f0, y, self.n_train, "f0")?;
        let gained = self.train_function(&r, |lambda| gain(eta, lambda, t))?;
        Ok(f0 + gained)
    }

    /// f_t(x') at the evaluation points (eq. 10): f_0(x') + Θ̄(x',x)Θ̄⁻¹(I − (I−ηΘ̄)^t)(y − f_0(x)).
    /// `f0_train` is N×(S·C), `f0_test` N'×(S·C); `t = None` is t → ∞.
    pub fn test_outputs(
        &self,
        t: Option<usize>,
        eta: f64,
        f0_train: MatRef<'_, f64>,
        f0_test: MatRef<'_, f64>,
        y: MatRef<'_, f64>,
    ) -> Result<Mat<f64>> {
        let r = self.residual(f0_train, y, self.n_train, "f0_train")?;
        self.check_test_init(f0_train, f0_test)?;
        let w = self.train_function(&r, |lambda| {
            gain(eta, lambda, t).map(|g| ratio(g, lambda, eta, t))
        })?;
        Ok(f0_test + self.apply(w.as_ref()))
    }

    /// The converged predictor f_∞(x') = f_0(x') + Θ̄(x',x)Θ̄⁻¹(y − f_0(x)) (eq. 14 for exact NGD;
    /// independent of η as long as training converges). Identical for GD and exact NGD.
    pub fn converged_test(
        &self,
        f0_train: MatRef<'_, f64>,
        f0_test: MatRef<'_, f64>,
        y: MatRef<'_, f64>,
    ) -> Result<Mat<f64>> {
        let r = self.residual(f0_train, y, self.n_train, "f0_train")?;
        self.check_test_init(f0_train, f0_test)?;
        let w = self.solve_train(&r)?;
        Ok(f0_test + self.apply(w.as_ref()))
    }

    /// The kernel-regression mean Θ̄(x',x)Θ̄⁻¹y = α⁻¹Θ̄(x',x)y (Section 4.4; f_∞ with f_0 = 0):
    /// the mean prediction over random initialisations (Fig. 2's circles). `y` is N×C.
    pub fn kernel_regression_test(&self, y: MatRef<'_, f64>) -> Result<Mat<f64>> {
        self.check_outputs(y)?;
        if y.nrows() != self.n_train {
            return Err(KernelError::Shape(format!(
                "y has {} rows, expected N = {}",
                y.nrows(),
                self.n_train
            )));
        }
        let w = self.solve_train(&y.to_owned())?;
        Ok(self.apply(w.as_ref()))
    }

    /// Θ̄(x', x) w for an N×k matrix w (eq. 13, 16, 21 or Θ(x',x) for GD): N'×k.
    ///
    /// # Panics
    /// If `w` does not have N rows.
    pub fn apply_test_coefficient(&self, w: MatRef<'_, f64>) -> Mat<f64> {
        assert_eq!(
            w.nrows(),
            self.n_train,
            "apply_test_coefficient: w must have N rows"
        );
        self.apply(w)
    }

    fn apply(&self, w: MatRef<'_, f64>) -> Mat<f64> {
        let mut out = Mat::<f64>::zeros(self.n_test, w.ncols());
        match &self.test {
            TestCoefficient::Kernel { theta, scale } => {
                for t in theta.iter() {
                    out += t * w;
                }
                out *= faer::Scale(*scale);
            }
            TestCoefficient::Exact { theta, factor } => {
                let v = factor.solve(w);
                for t in theta.iter() {
                    out += t * &v;
                }
            }
            TestCoefficient::LayerWise {
                theta,
                weights,
                factors,
            } => {
                for ((t, &wl), f) in theta.iter().zip(weights).zip(factors) {
                    if let Some(f) = f {
                        out += faer::Scale(wl) * (t * f.solve(w));
                    }
                }
            }
            TestCoefficient::ExplicitTransposed(ht) => out = ht.transpose() * w,
        }
        out
    }

    /// Θ̄⁻¹ r (t → ∞ with f_0 folded into r), requiring positive eigenvalues.
    fn solve_train(&self, r: &Mat<f64>) -> Result<Mat<f64>> {
        self.train_function(r, |lambda| {
            if lambda > 0.0 {
                Ok(1.0 / lambda)
            } else {
                Err(KernelError::NotPositive {
                    what: format!("{} predictor: Θ̄(x,x)", self.name),
                    value: lambda,
                })
            }
        })
    }

    /// g(Θ̄(x,x)) r for a scalar function g of the eigenvalues.
    fn train_function(&self, r: &Mat<f64>, g: impl Fn(f64) -> Result<f64>) -> Result<Mat<f64>> {
        match &self.train {
            TrainCoefficient::Diagonal(d) => {
                let scale = memoised_map(d, &g)?;
                Ok(Mat::from_fn(r.nrows(), r.ncols(), |i, j| {
                    scale[i] * r[(i, j)]
                }))
            }
            TrainCoefficient::Eigen { values, vectors } => {
                let gv: Vec<f64> = values.iter().map(|&l| g(l)).collect::<Result<_>>()?;
                let mut c = vectors.transpose() * r;
                for (i, gi) in gv.iter().enumerate() {
                    for j in 0..c.ncols() {
                        c[(i, j)] *= gi;
                    }
                }
                Ok(vectors * c)
            }
        }
    }

    /// y − f0 with y tiled over the S stacked initialisations of f0.
    fn residual(
        &self,
        f0: MatRef<'_, f64>,
        y: MatRef<'_, f64>,
        rows: usize,
        what: &str,
    ) -> Result<Mat<f64>> {
        self.check_outputs(y)?;
        let c = y.ncols();
        if y.nrows() != rows || f0.nrows() != rows {
            return Err(KernelError::Shape(format!(
                "y ({}×{}) and {what} ({}×{}) must both have N = {rows} rows",
                y.nrows(),
                c,
                f0.nrows(),
                f0.ncols()
            )));
        }
        if c == 0 || f0.ncols() == 0 || f0.ncols() % c != 0 {
            return Err(KernelError::Shape(format!(
                "{what} has {} columns; it must be a positive multiple of C = {c} (stacked initialisations)",
                f0.ncols()
            )));
        }
        Ok(Mat::from_fn(rows, f0.ncols(), |i, j| {
            y[(i, j % c)] - f0[(i, j)]
        }))
    }

    fn check_outputs(&self, y: MatRef<'_, f64>) -> Result<()> {
        if self.single_output && y.ncols() != 1 {
            return Err(KernelError::KfacMultiOutput { outputs: y.ncols() });
        }
        Ok(())
    }

    fn check_test_init(&self, f0_train: MatRef<'_, f64>, f0_test: MatRef<'_, f64>) -> Result<()> {
        if f0_test.nrows() != self.n_test || f0_test.ncols() != f0_train.ncols() {
            return Err(KernelError::Shape(format!(
                "f0_test is {}×{}, expected N'×(S·C) = {}×{}",
                f0_test.nrows(),
                f0_test.ncols(),
                self.n_test,
                f0_train.ncols()
            )));
        }
        Ok(())
    }
}

/// Checks that `train` is N×N, `test` N'×N, equal depths, and that the families `predictor`
/// needs are present; returns (N, N').
fn check_kernels(
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

/// 1 − (1 − ηλ)^t, or its t → ∞ limit 1 (error when |1 − ηλ| ≥ 1).
fn gain(eta: f64, lambda: f64, t: Option<usize>) -> Result<f64> {
    let x = eta * lambda;
    match t {
        None => {
            let factor = (1.0 - x).abs();
            if factor < 1.0 {
                Ok(1.0)
            } else {
                Err(KernelError::NoLimit {
                    eta,
                    lambda,
                    factor,
                })
            }
        }
        Some(t) => Ok(one_minus_pow(x, t)),
    }
}

/// 1 − (1 − x)^t, accurate for small x (−expm1(t·ln(1 − x)) when 1 − x > 0).
fn one_minus_pow(x: f64, t: usize) -> f64 {
    let base = 1.0 - x;
    if base > 0.0 {
        -(t as f64 * (-x).ln_1p()).exp_m1()
    } else {
        1.0 - base.powf(t as f64)
    }
}

/// gain/λ = Σ_{k<t} η(1−ηλ)^k, with the λ → 0 limit ηt (t finite).
fn ratio(gain: f64, lambda: f64, eta: f64, t: Option<usize>) -> f64 {
    if lambda != 0.0 {
        gain / lambda
    } else {
        t.map_or(f64::INFINITY, |t| eta * t as f64)
    }
}

/// Applies g to each entry, evaluating it once per distinct value run (isotropic: once).
fn memoised_map(d: &[f64], g: &impl Fn(f64) -> Result<f64>) -> Result<Vec<f64>> {
    let mut out = Vec::with_capacity(d.len());
    let mut last: Option<(f64, f64)> = None;
    for &v in d {
        let gv = match last {
            Some((lv, lg)) if lv == v => lg,
            _ => g(v)?,
        };
        last = Some((v, gv));
        out.push(gv);
    }
    Ok(out)
}

/// Zeroes weights that are rounding noise (|w_l| ≤ 1e-13·Σ|w|) so that their Θ_l need no
/// factorisation (e.g. tri-diagonal L = 3: Σ⁻¹1 = (0, 1, 0)); returns (weights, α = Σ w_l).
fn significant_weights(mut w: Vec<f64>) -> (Vec<f64>, f64) {
    let total: f64 = w.iter().map(|v| v.abs()).sum();
    for v in &mut w {
        if v.abs() <= 1e-13 * total {
            *v = 0.0;
        }
    }
    let alpha = w.iter().sum();
    (w, alpha)
}

/// Some(α) when every entry equals the first to 1e-12 relative, else None.
fn isotropic_value(d: &[f64]) -> Option<f64> {
    let first = *d.first()?;
    d.iter()
        .all(|&v| (v - first).abs() <= 1e-12 * first.abs())
        .then_some(first)
}

/// How K-FAC treats the first layer's input factor Q_1 = σ_w²A_0 + σ_b² ∝ XXᵀ (+ bias).
#[derive(Clone, Copy)]
enum FirstFactor<'x> {
    /// Cholesky, like every other factor (eq. 21 as printed; needs M_0 ≥ N).
    Invert,
    /// Cholesky, with the last layer weighted 1 instead of N (training's K-FAC, α = N(L−1)+1).
    InvertLastLayerOnce,
    /// Moore–Penrose pseudo-inverse through Q_1's eigen-decomposition (relative cut-off).
    PseudoInverse(f64),
    /// Pseudo-inverse through the inputs: Q_1'Q_1⁺ = X̃'(X̃ᵀX̃)⁻¹X̃ᵀ with the bias-augmented
    /// X̃ = [σ_w X/√M_0, σ_b 1] (train, test); needs X̃ of full column rank.
    FromInputs(MatRef<'x, f64>, MatRef<'x, f64>),
    /// [`FirstFactor::FromInputs`] with the last layer weighted 1 instead of N.
    FromInputsLastLayerOnce(MatRef<'x, f64>, MatRef<'x, f64>),
}

/// K-FAC's Θ̄(x', x)ᵀ (N×N', eq. 21):
/// N · [Σ_{l=1}^{L−1} (B_l⁻¹B_l'ᵀ) ⊙ (Q_l⁻¹Q_l'ᵀ) + Q_L⁻¹Q_L'ᵀ], Q_l = σ_w²A_{l−1} + σ_b².
/// With a pseudo-inverted Q_1 the diagonal of Θ̄(x, x) is returned too:
/// Θ̄(x,x)/N = (L−1)I + (B_1B_1⁻¹) ⊙ (Q_1Q_1⁺) = (L−1)I + diag(Q_1Q_1⁺) (paper §4.3).
fn kfac_coefficient_transposed(
    train: &LayerKernels,
    test: &LayerKernels,
    first: FirstFactor<'_>,
) -> Result<(Mat<f64>, Option<Vec<f64>>)> {
    let depth = train.depth;
    let (n, n_test) = (train.shape().0, test.shape().0);
    let last_layer_once = matches!(
        first,
        FirstFactor::InvertLastLayerOnce | FirstFactor::FromInputsLastLayerOnce(..)
    );
    let mut ht = Mat::<f64>::zeros(n, n_test);
    let mut train_diag = None;
    for l in 1..=depth {
        // Input-factor term R_Q = Q_l⁻¹ Q_l'ᵀ (N×N').
        let (r_q, proj_diag) = match (l, first) {
            (1, FirstFactor::PseudoInverse(tol)) => {
                let q = train.input_factor(1);
                let q_test_t = test.input_factor(1).transpose().to_owned();
                let (r, d) = pinv_solve_with_projector_diag(q.as_ref(), q_test_t.as_ref(), tol)?;
                (r, Some(d))
            }
            (1, FirstFactor::FromInputs(x, x_test))
            | (1, FirstFactor::FromInputsLastLayerOnce(x, x_test)) => {
                let (r, d) = input_projection(train, test, x, x_test)?;
                (r, Some(d))
            }
            _ => (inverse_input_factor(train, test, l)?, None),
        };
        if l == depth {
            // Last layer: B_L = 1 (one output) contributes a scalar factor 1; training's K-FAC
            // has no N on it (its B*_L is 1 × 1, not pushed through), eq. 21 as printed does.
            if last_layer_once {
                ht += r_q * faer::Scale(1.0 / n as f64);
            } else {
                ht += &r_q;
            }
        } else {
            let what = format!("K-FAC backward factor B_{l}(x,x)");
            let b = Cholesky::new(train.b[l - 1].as_ref(), &what)?;
            let r_b = b.solve(test.b[l - 1].transpose());
            hadamard_accumulate(&mut ht, &r_b, &r_q);
        }
        if let Some(pd) = proj_diag {
            let lm1 = (depth - 1) as f64;
            let scale = n as f64;
            train_diag = Some(if last_layer_once {
                // N[(L−2) + p] + 1
                pd.iter().map(|&p| scale * (lm1 - 1.0 + p) + 1.0).collect()
            } else {
                pd.iter().map(|&p| scale * (lm1 + p)).collect()
            });
        }
    }
    ht *= faer::Scale(n as f64);
    Ok((ht, train_diag))
}

/// Q_l⁻¹ Q_l'ᵀ by Cholesky (N×N'); a singular Q_1 becomes [`KernelError::KfacSingularInput`].
fn inverse_input_factor(train: &LayerKernels, test: &LayerKernels, l: usize) -> Result<Mat<f64>> {
    let n = train.shape().0;
    let q = train.input_factor(l);
    let what = format!(
        "K-FAC input factor Q_{l}(x,x) = σ_w²A_{}(x,x) + σ_b²",
        l - 1
    );
    let chol = match Cholesky::new(q.as_ref(), &what) {
        Ok(c) => c,
        Err(e @ LinalgError::Singular { .. }) if l == 1 => {
            return Err(KernelError::KfacSingularInput { n, source: e });
        }
        Err(e) => return Err(e.into()),
    };
    drop(q);
    Ok(chol.solve(test.input_factor(l).transpose()))
}

/// The bias-augmented layer-1 input X̃ = [σ_w X/√M_0, σ_b 1] (bias column only when σ_b² > 0).
fn augmented_inputs(x: MatRef<'_, f64>, sigma_w2: f64, sigma_b2: f64) -> Mat<f64> {
    let m0 = x.ncols();
    let w = (sigma_w2 / m0 as f64).sqrt();
    let cols = if sigma_b2 > 0.0 { m0 + 1 } else { m0 };
    let b = sigma_b2.sqrt();
    Mat::from_fn(
        x.nrows(),
        cols,
        |i, j| if j < m0 { w * x[(i, j)] } else { b },
    )
}

/// (X̃(X̃ᵀX̃)⁻¹X̃'ᵀ, diag(X̃(X̃ᵀX̃)⁻¹X̃ᵀ)) = (Q_1⁺Q_1'ᵀ, diag(Q_1Q_1⁺)) computed from the inputs,
/// after checking that X̃X̃ᵀ reproduces the kernels' Q_1 (so the inputs match the kernels).
fn input_projection(
    train: &LayerKernels,
    test: &LayerKernels,
    x: MatRef<'_, f64>,
    x_test: MatRef<'_, f64>,
) -> Result<(Mat<f64>, Vec<f64>)> {
    let (n, n_test) = (train.shape().0, test.shape().0);
    if x.nrows() != n || x_test.nrows() != n_test || x.ncols() != x_test.ncols() {
        return Err(KernelError::Shape(format!(
            "inputs {}×{} / {}×{} do not match the kernels' N = {n}, N' = {n_test}",
            x.nrows(),
            x.ncols(),
            x_test.nrows(),
            x_test.ncols()
        )));
    }
    let xa = augmented_inputs(x, train.sigma_w2, train.sigma_b2);
    let xa_test = augmented_inputs(x_test, train.sigma_w2, train.sigma_b2);
    check_inputs_match(xa.as_ref(), xa.as_ref(), &train.a[0], train)?;
    check_inputs_match(xa_test.as_ref(), xa.as_ref(), &test.a[0], train)?;
    let gram = xa.transpose() * &xa;
    let chol = Cholesky::new(
        gram.as_ref(),
        "K-FAC layer-1 input Gram X̃ᵀX̃ (inputs must have full column rank M_0 (+1 with bias) ≤ N)",
    )?;
    let z = chol.solve(xa.transpose()); // (X̃ᵀX̃)⁻¹X̃ᵀ, r×N
    let diag = (0..n)
        .map(|i| (0..xa.ncols()).map(|k| xa[(i, k)] * z[(k, i)]).sum())
        .collect();
    let r = z.transpose() * xa_test.transpose(); // X̃(X̃ᵀX̃)⁻¹X̃'ᵀ, N×N'
    Ok((r, diag))
}

/// Checks σ_w²A_0 + σ_b² = X̃_rows X̃_colsᵀ on a few entries (relative 1e-8).
fn check_inputs_match(
    rows: MatRef<'_, f64>,
    cols: MatRef<'_, f64>,
    a0: &Mat<f64>,
    k: &LayerKernels,
) -> Result<()> {
    let (nr, nc) = (a0.nrows(), a0.ncols());
    for s in 0..16usize {
        let (i, j) = ((s * 7919) % nr, (s * 104_729 + s / 2) % nc);
        let from_inputs: f64 = (0..rows.ncols()).map(|c| rows[(i, c)] * cols[(j, c)]).sum();
        let from_kernel = k.sigma_w2 * a0[(i, j)] + k.sigma_b2;
        let scale = from_kernel.abs().max(k.sigma_w2 / rows.ncols() as f64);
        if (from_inputs - from_kernel).abs() > 1e-8 * scale {
            return Err(KernelError::Shape(format!(
                "inputs do not reproduce the kernels' A_0 (entry ({i},{j}): {from_inputs} vs {from_kernel})"
            )));
        }
    }
    Ok(())
}

/// dst += a ⊙ b (equal shapes).
fn hadamard_accumulate(dst: &mut Mat<f64>, a: &Mat<f64>, b: &Mat<f64>) {
    for j in 0..dst.ncols() {
        let (a, b) = (a.col_as_slice(j), b.col_as_slice(j));
        for (i, d) in dst.col_as_slice_mut(j).iter_mut().enumerate() {
            *d += a[i] * b[i];
        }
    }
}

/// Q⁺ R (through Q's eigen-decomposition, eigenvalues ≤ rel_tol·λ_max dropped) and the
/// diagonal of the projector Q Q⁺ = U_r U_rᵀ.
fn pinv_solve_with_projector_diag(
    q: MatRef<'_, f64>,
    rhs: MatRef<'_, f64>,
    rel_tol: f64,
) -> Result<(Mat<f64>, Vec<f64>)> {
    let eig = ngd_linalg::symmetric_eigen(q, "K-FAC input factor Q_1(x,x) (pseudo-inverse)")?;
    let lmax = eig.values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let keep: Vec<usize> = (0..eig.values.len())
        .filter(|&k| eig.values[k] > rel_tol * lmax)
        .collect();
    let u = eig.vectors.as_ref();
    let ur = Mat::from_fn(u.nrows(), keep.len(), |i, k| u[(i, keep[k])]);
    let mut coeff = ur.transpose() * rhs;
    for (k, &idx) in keep.iter().enumerate() {
        let inv = 1.0 / eig.values[idx];
        for j in 0..coeff.ncols() {
            coeff[(k, j)] *= inv;
        }
    }
    let diag = (0..ur.nrows())
        .map(|i| (0..ur.ncols()).map(|k| ur[(i, k)] * ur[(i, k)]).sum())
        .collect();
    Ok((&ur * coeff, diag))
}

/// Training loss of GD under eq. (5): loss_t = ½·(1/N)·‖(I − ηΘ)^t e_0‖²_F for t = 0..=steps,
/// through Θ's eigen-decomposition (MATH.md §4). `theta` is the N×N NTK in the paper's
/// normalisation of eq. (6) (e.g. [`LayerKernels::ntk_paper`]); `e0` = f_0 − y is N×C.
pub fn gd_train_loss_curve(
    theta: MatRef<'_, f64>,
    e0: MatRef<'_, f64>,
    eta: f64,
    steps: usize,
) -> Result<Vec<f64>> {
    let n = theta.nrows();
    if theta.ncols() != n || e0.nrows() != n {
        return Err(KernelError::Shape(format!(
            "Θ must be N×N and e0 N×C; got Θ {}×{}, e0 {}×{}",
            theta.nrows(),
            theta.ncols(),
            e0.nrows(),
            e0.ncols()
        )));
    }
    let eig = ngd_linalg::symmetric_eigen(theta, "GD loss curve: NTK Θ(x,x)")?;
    let c = eig.vectors.transpose() * e0;
    let mut energy: Vec<f64> = (0..n)
        .map(|i| (0..c.ncols()).map(|j| c[(i, j)] * c[(i, j)]).sum())
        .collect();
    let decay: Vec<f64> = eig
        .values
        .iter()
        .map(|&l| (1.0 - eta * l).powi(2))
        .collect();
    let norm = 0.5 / n as f64;
    let mut out = Vec::with_capacity(steps + 1);
    for t in 0..=steps {
        if t > 0 {
            for (e, d) in energy.iter_mut().zip(&decay) {
                *e *= d;
            }
        }
        out.push(norm * energy.iter().sum::<f64>());
    }
    Ok(out)
}

/// λ_max of a symmetric matrix (e.g. Θ(x,x) of eq. 6, for GD's η = 1/λ_max, Fig. 1a).
pub fn max_eigenvalue(theta: MatRef<'_, f64>) -> Result<f64> {
    let v = ngd_linalg::symmetric_eigenvalues(theta, "λ_max")?;
    v.last()
        .copied()
        .ok_or_else(|| KernelError::Shape("empty matrix has no eigenvalues".into()))
}
