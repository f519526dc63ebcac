//! The types of the analytic kernels: the network's [`AnalyticConfig`], which kernel families
//! to compute ([`KernelSet`]) and the per-layer result ([`LayerKernels`]).

use faer::Mat;
use serde::{Deserialize, Serialize};

use crate::{KernelError, Result};

/// Architecture of the infinite-width ReLU network (eq. 1): depth L and the variances σ_w², σ_b².
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnalyticConfig {
    /// Number of layers L (L − 1 hidden ReLU layers and one linear output layer), L ≥ 1.
    pub depth: usize,
    /// Weight variance σ_w² (eq. 1); the paper uses 2.
    pub sigma_w2: f64,
    /// Bias variance σ_b² (eq. 1); the paper's figures use 0.
    pub sigma_b2: f64,
}

impl AnalyticConfig {
    /// The paper's setting for Figures 1–2: σ_w² = 2, σ_b² = 0 (MATH.md §6).
    pub fn paper(depth: usize) -> Self {
        Self {
            depth,
            sigma_w2: 2.0,
            sigma_b2: 0.0,
        }
    }

    /// Checks L ≥ 1, σ_w² > 0 and σ_b² ≥ 0 (all finite), as eq. (1) requires.
    pub fn validate(&self) -> Result<()> {
        if self.depth == 0 {
            return Err(KernelError::Config("depth L must be at least 1".into()));
        }
        if !(self.sigma_w2.is_finite() && self.sigma_w2 > 0.0) {
            return Err(KernelError::Config(format!(
                "σ_w² must be finite and > 0, got {}",
                self.sigma_w2
            )));
        }
        if !(self.sigma_b2.is_finite() && self.sigma_b2 >= 0.0) {
            return Err(KernelError::Config(format!(
                "σ_b² must be finite and ≥ 0, got {}",
                self.sigma_b2
            )));
        }
        Ok(())
    }
}

/// Which families of kernels to materialise (each costs L full N'×N matrices).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelSet {
    /// Per-layer NTKs Θ_l, l = 1..L (needed by GD, exact and layer-wise NGD).
    pub theta: bool,
    /// Forward kernels A_l, l = 0..L−1 (needed by K-FAC, eq. 21).
    pub a: bool,
    /// Backward kernels B_l, l = 1..L (needed by K-FAC, eq. 21).
    pub b: bool,
}

impl KernelSet {
    /// Θ_l, A_l and B_l.
    pub const ALL: Self = Self {
        theta: true,
        a: true,
        b: true,
    };
    /// Only the per-layer NTKs Θ_l (GD, exact, layer-wise predictors).
    pub const THETA: Self = Self {
        theta: true,
        a: false,
        b: false,
    };
    /// Only A_l and B_l (the K-FAC predictor, eq. 21).
    pub const KFAC: Self = Self {
        theta: false,
        a: true,
        b: true,
    };

    /// Union of two selections.
    pub fn union(self, other: Self) -> Self {
        Self {
            theta: self.theta || other.theta,
            a: self.a || other.a,
            b: self.b || other.b,
        }
    }
}

/// The per-layer kernels between two input sets x' (N' rows) and x (N rows), each N'×N
/// (MATH.md §5, Theorem 4.1's Θ_l and eq. 21's A_l, B_l).
///
/// Families that were not requested (see [`KernelSet`]) are empty vectors.
#[derive(Clone, Debug)]
pub struct LayerKernels {
    /// `theta[l−1]` = Θ_l(x', x) = ∇_{θ_l}f(x')·∇_{θ_l}f(x), l = 1..L (no 1/N factor).
    pub theta: Vec<Mat<f64>>,
    /// `a[l]` = A_l(x', x) = h_l(x')·h_l(x)/M_l, l = 0..L−1 (A_0 = x'·x/M_0).
    pub a: Vec<Mat<f64>>,
    /// `b[l−1]` = B_l(x', x) = δ_l(x')·δ_l(x), l = 1..L (B_L = 1, the single output).
    pub b: Vec<Mat<f64>>,
    /// Depth L.
    pub depth: usize,
    /// σ_w² used to build Q_l = σ_w² A_{l−1} + σ_b² (the K-FAC input factor).
    pub sigma_w2: f64,
    /// σ_b² used to build Q_l = σ_w² A_{l−1} + σ_b².
    pub sigma_b2: f64,
}

impl LayerKernels {
    /// Which families are present.
    pub fn available(&self) -> KernelSet {
        KernelSet {
            theta: !self.theta.is_empty(),
            a: !self.a.is_empty(),
            b: !self.b.is_empty(),
        }
    }

    /// (N', N): rows (first input set x') and columns (second input set x); (0, 0) when empty.
    pub fn shape(&self) -> (usize, usize) {
        self.theta
            .iter()
            .chain(&self.a)
            .chain(&self.b)
            .next()
            .map_or((0, 0), |m| (m.nrows(), m.ncols()))
    }

    /// Θ_l(x', x) for l = 1..=L (1-based as in the paper).
    pub fn layer_theta(&self, l: usize) -> &Mat<f64> {
        &self.theta[l - 1]
    }

    /// A_l(x', x) for l = 0..L−1 (0-based as in the paper).
    pub fn layer_a(&self, l: usize) -> &Mat<f64> {
        &self.a[l]
    }

    /// B_l(x', x) for l = 1..=L (1-based as in the paper).
    pub fn layer_b(&self, l: usize) -> &Mat<f64> {
        &self.b[l - 1]
    }

    /// The NTK Σ_l Θ_l(x', x) in the per-sample convention ∇f(x')·∇f(x) (MATH.md §5).
    ///
    /// # Panics
    /// If Θ_l were not computed.
    pub fn ntk(&self) -> Mat<f64> {
        assert!(
            !self.theta.is_empty(),
            "LayerKernels::ntk: Θ_l were not computed"
        );
        let mut sum = self.theta[0].clone();
        for t in &self.theta[1..] {
            sum += t;
        }
        sum
    }

    /// The paper's NTK of eq. (6), Θ(x', x) = J(x')J(x)ᵀ/N = [`Self::ntk`] / N, where N is the
    /// number of *training* samples (the N of the loss (3)), which drives GD's eq. (5).
    pub fn ntk_paper(&self, n_train: usize) -> Mat<f64> {
        let mut k = self.ntk();
        k *= faer::Scale(1.0 / n_train as f64);
        k
    }

    /// Q_l(x', x) = σ_w² A_{l−1} + σ_b² = h̃_{l−1}(x')·h̃_{l−1}(x) for l = 1..=L: the Gram of the
    /// bias-augmented input of layer l (MATH.md §2), i.e. K-FAC's input factor.
    ///
    /// # Panics
    /// If A_l were not computed.
    pub fn input_factor(&self, l: usize) -> Mat<f64> {
        let a = &self.a[l - 1];
        let (w, b) = (self.sigma_w2, self.sigma_b2);
        Mat::from_fn(a.nrows(), a.ncols(), |i, j| w * a[(i, j)] + b)
    }
}
