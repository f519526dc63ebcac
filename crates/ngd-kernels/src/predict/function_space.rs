//! [`FunctionSpace`]: the coefficient matrices Θ̄(x, x), Θ̄(x', x) of one predictor and the
//! predictions f_t, f_∞ and the kernel-regression mean computed from them (eq. 10).

use faer::{Mat, MatRef};
use ngd_linalg::Cholesky;

use super::spectral::{gain, memoised_map, ratio};
use crate::{KernelError, Result};

/// Θ̄(x, x) in a form that makes f(Θ̄) cheap.
pub(super) enum TrainCoefficient {
    /// Θ̄(x, x) = diag(d) (isotropic when all d equal α).
    Diagonal(Vec<f64>),
    /// Θ̄(x, x) = U diag(λ) Uᵀ (GD).
    Eigen { values: Vec<f64>, vectors: Mat<f64> },
}

/// Θ̄(x', x) as an operator on N×k matrices.
pub(super) enum TestCoefficient<'a> {
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
    pub(super) name: &'static str,
    pub(super) n_train: usize,
    pub(super) n_test: usize,
    pub(super) alpha: Option<f64>,
    pub(super) single_output: bool,
    pub(super) train: TrainCoefficient,
    pub(super) test: TestCoefficient<'a>,
}

impl<'a> FunctionSpace<'a> {
    /// The predictor's short name (see [`Predictor::name`](super::Predictor::name)).
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
