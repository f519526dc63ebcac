//! Per-layer curvature blocks for the mini-batch optimizer (MATH.md §8b), after kfac-jax's
//! `CurvatureBlock`: one block per parametrised layer, each one layer approximation of the
//! Fisher, with its own recordable state on the device.
//!
//! A block's life in one step of [`crate::Ngd`]:
//!
//! 1. [`CurvatureBlock::update_statistics`] folds this batch's statistics (the layer input h̃
//!    and the Fisher's output root X, [`BlockStatistics`]) into running averages (every
//!    `stats_interval` steps);
//! 2. [`CurvatureBlock::sync`] hands the averages to a [`FactorSync`], the place where a
//!    data-parallel run all-reduces them (docs/distributed.md); a no-op on one device
//!    ([`LocalSync`]);
//! 3. [`CurvatureBlock::refresh`] recomputes what preconditioning needs at the damping passed in
//!    (inverses, every `inverse_interval` steps; only this goes to the host, in f64);
//! 4. [`CurvatureBlock::precondition`] turns the batch's input and loss signals
//!    ([`LayerSignals`]) into the layer's step, the damping passed in.
//!
//! Implementations: [`KroneckerBlock`] (K-FAC, eq. 20), [`DiagonalBlock`] (the entry-wise
//! Fisher) and [`IdentityBlock`] (the plain gradient, for a layer a method leaves alone). The
//! network-level dual-form methods ([`crate::Curvature`]) work on the per-sample factors of the
//! whole network instead and stay apart from these blocks.

mod diagonal;
mod identity;
mod kronecker;
mod sync;

pub use diagonal::DiagonalBlock;
pub use identity::IdentityBlock;
pub use kronecker::{KroneckerBlock, damped_inverse, kronecker_damping};
pub use sync::{FactorSync, LocalSync};

use crate::Result;
use burn::tensor::{FloatDType, Tensor};
use serde::{Deserialize, Serialize};

/// What kind of parametrised layer a block serves (reported by the model through its tap).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LayerKind {
    /// u = h·W + b (`burn::nn::Linear`, or an affine layer with scales): input rows N × M_{l−1}.
    Linear,
    /// A 2-D convolution: input N × C_in × H × W, weight C_out × C_in × k_h × k_w, a `Linear`
    /// map at each output location on the input's patches (MATH.md §8c).
    Conv2d {
        /// Kernel size (k_h, k_w).
        kernel: [usize; 2],
        /// Stride.
        stride: [usize; 2],
        /// Zero padding (top, bottom, left, right).
        padding: [usize; 4],
        /// Spacing of the kernel's taps (the blocks handle 1).
        dilation: [usize; 2],
        /// Channel groups (the blocks handle 1).
        groups: usize,
    },
}

impl LayerKind {
    /// Whether the per-layer curvature blocks can precondition this layer (convolutions with
    /// dilation 1 and one group).
    pub fn has_blocks(&self) -> bool {
        match self {
            Self::Linear => true,
            Self::Conv2d {
                dilation, groups, ..
            } => *dilation == [1, 1] && *groups == 1,
        }
    }
}

impl std::fmt::Display for LayerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Linear => f.write_str("Linear"),
            Self::Conv2d {
                kernel,
                stride,
                padding,
                dilation,
                groups,
            } => {
                write!(
                    f,
                    "Conv2d (kernel {}×{}, stride {}×{}, padding {}/{}/{}/{}",
                    kernel[0],
                    kernel[1],
                    stride[0],
                    stride[1],
                    padding[0],
                    padding[1],
                    padding[2],
                    padding[3]
                )?;
                if *dilation != [1, 1] {
                    write!(f, ", dilation {}×{}", dilation[0], dilation[1])?;
                }
                if *groups != 1 {
                    write!(f, ", {groups} groups")?;
                }
                f.write_str(")")
            }
        }
    }
}

/// Which layer approximation a block is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BlockKind {
    /// Kronecker-factored: (A + ρ_A)⁻¹ ⊗ (S + ρ_S)⁻¹ (K-FAC, eq. 20).
    Kronecker,
    /// Entry-wise: (diag F + ρ)⁻¹ (MATH.md §3, diagonal).
    Diagonal,
    /// The identity: the plain gradient.
    Identity,
}

impl BlockKind {
    /// A fresh block of this kind whose preconditioning runs in `dtype` and whose inversions
    /// (Kronecker only) run in `inverse`.
    pub fn block(self, dtype: FloatDType, inverse: crate::Precision) -> Box<dyn CurvatureBlock> {
        match self {
            Self::Kronecker => Box::new(KroneckerBlock::new(dtype).with_inverse_precision(inverse)),
            Self::Diagonal => Box::new(DiagonalBlock::new(dtype)),
            Self::Identity => Box::new(IdentityBlock::new(dtype)),
        }
    }
}

/// One layer's batch on the device: the input rows h̃ = [s_w·h | s_b·1] (N × d_in, bias column
/// last) and the loss signals Y = ∂(N·L)/∂u (N × d_out), so that ∇_{W̃}L = h̃ᵀY/N; or, for a
/// convolution (N·R patch rows, MATH.md §8c), the gradient ∇_{W̃}L itself from burn's backward.
#[derive(Debug, Clone)]
pub struct LayerSignals {
    /// h̃ and Y, N × d_in and N × d_out (`None` when only the gradient is given).
    pub rows: Option<(Tensor<2>, Tensor<2>)>,
    /// ∇_{W̃}L (d_in × d_out), when formed elsewhere.
    pub gradient: Option<Tensor<2>>,
    /// The number of samples N.
    pub samples: usize,
}

impl LayerSignals {
    /// The batch of an affine layer: input rows h̃ and signals Y.
    pub fn rows(input: Tensor<2>, signals: Tensor<2>) -> Self {
        let samples = input.dims()[0];
        Self {
            rows: Some((input, signals)),
            gradient: None,
            samples,
        }
    }

    /// A batch given by its gradient ∇_{W̃}L over `samples` samples.
    pub fn of_gradient(gradient: Tensor<2>, samples: usize) -> Self {
        Self {
            rows: None,
            gradient: Some(gradient),
            samples,
        }
    }

    /// (d_in, d_out) of the layer.
    pub fn dims(&self) -> (usize, usize) {
        match (&self.gradient, &self.rows) {
            (Some(g), _) => (g.dims()[0], g.dims()[1]),
            (None, Some((h, y))) => (h.dims()[1], y.dims()[1]),
            (None, None) => (0, 0),
        }
    }

    /// ∇_{W̃}L = h̃ᵀY/N (d_in × d_out), in `dtype`.
    pub fn gradient(&self, dtype: FloatDType) -> Tensor<2> {
        match (&self.gradient, &self.rows) {
            (Some(g), _) => g.clone().cast(dtype),
            (None, Some((h, y))) => h
                .clone()
                .cast(dtype)
                .transpose()
                .matmul(y.clone().cast(dtype))
                .div_scalar(self.samples as f64),
            (None, None) => panic!("LayerSignals without rows or gradient"),
        }
    }
}

/// One batch's statistics for a block: the input rows h̃ (k·R × d_in: R rows per sample, R = 1
/// for a `Linear` layer and for K-FAC-reduce) and the Fisher's output root X (K × d_out, K = k·R,
/// or C·k class-major for the exact Fisher) with Â = h̃ᵀh̃/(k·R) and Ŝ = XᵀX/k (MATH.md §8, §8c).
#[derive(Debug, Clone, Copy)]
pub struct BlockStatistics<'a> {
    /// h̃ of the statistics samples, k·R × d_in.
    pub input: &'a Tensor<2>,
    /// X, K × d_out.
    pub root: &'a Tensor<2>,
    /// The number of statistics samples k.
    pub samples: usize,
}

impl BlockStatistics<'_> {
    /// The number of statistics samples k.
    pub fn samples(&self) -> usize {
        self.samples
    }

    /// Rows per sample R of the input (output locations of a convolution, else 1).
    pub fn locations(&self) -> usize {
        self.input.dims()[0] / self.samples
    }
}

/// One layer approximation of the Fisher with its own state (see the module documentation).
pub trait CurvatureBlock: std::fmt::Debug + Send {
    /// Which approximation this is.
    fn kind(&self) -> BlockKind;

    /// Folds the batch's statistics into the normalised running averages, M_t = Σ_s β^{t−s}M̂_s
    /// / Σ_s β^{t−s} with β = `decay` (MATH.md §8a); the first batch starts them.
    fn update_statistics(&mut self, batch: BlockStatistics<'_>, decay: f64);

    /// Hands the running statistics of layer `layer` to `sync` (all-reduce across devices).
    fn sync(&mut self, layer: usize, sync: &mut dyn FactorSync);

    /// Recomputes what [`CurvatureBlock::precondition`] needs at damping ρ; `layer` (0-based)
    /// names the layer in errors.
    fn refresh(&mut self, damping: f64, layer: usize) -> Result<()>;

    /// The layer's step Δ(W̃) = G⁻¹∇_{W̃}L (d_in × d_out, bias last row) from the batch's input
    /// and signals; the damping ρ is that of the call (blocks with cached inverses use the one
    /// of the last [`CurvatureBlock::refresh`]).
    fn precondition(&self, batch: &LayerSignals, damping: f64) -> Tensor<2>;

    /// vec(V)ᵀ G vec(V) for a step V (d_in × d_out) under the block's current curvature without
    /// damping: the quadratic model of adaptive damping (MATH.md §8a).
    fn curvature_quadratic(&self, v: &Tensor<2>) -> f64;

    /// The recordable state: named tensors (running averages, inverses); empty before the first
    /// statistics.
    fn state(&self) -> Vec<(&'static str, Tensor<2>)>;

    /// Restores [`CurvatureBlock::state`]; `take` yields a named tensor of the record.
    fn load_state(&mut self, take: &mut dyn FnMut(&str) -> Result<Tensor<2>>) -> Result<()>;

    /// (d_in, d_out) of the layer this block has statistics for, if any.
    fn dims(&self) -> Option<(usize, usize)>;
}

/// Z ᵀZ/k in Z's dtype, then cast to f64: the batch statistic of one factor.
pub(crate) fn batch_gram(z: &Tensor<2>, k: usize) -> Tensor<2> {
    z.clone()
        .transpose()
        .matmul(z.clone())
        .div_scalar(k as f64)
        .cast(FloatDType::F64)
}

/// The weight w_t = Σ_s β^{t−s} of a normalised running average (MATH.md §8a): after the
/// statistics M̂_1 … M̂_t the average is M_t = Σ_s β^{t−s} M̂_s / w_t, so the first batch weighs
/// β^{t−1}/w_t, not β^{t−1}, and every batch counts by its age alone.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct AverageWeight(Option<f64>);

impl AverageWeight {
    /// The mixing (old, new) of the next update with decay β: M ← (βw·M + M̂)/(βw + 1), and
    /// w ← βw + 1. No statistics yet: (0, 1). A record saved before the weight was kept counts
    /// as converged, w = 1/(1−β), which gives the plain βM + (1−β)M̂.
    pub(crate) fn advance(&mut self, decay: f64, has_average: bool) -> (f64, f64) {
        if !has_average {
            self.0 = Some(1.0);
            return (0.0, 1.0);
        }
        let w = self.0.unwrap_or(1.0 / (1.0 - decay));
        let total = decay * w + 1.0;
        self.0 = Some(total);
        (decay * w / total, 1.0 / total)
    }

    /// The weight as a 1 × 1 f64 tensor for the record (absent before the first statistics).
    pub(crate) fn to_tensor(self, device: &burn::tensor::Device) -> Option<Tensor<2>> {
        let w = self.0?;
        let options = burn::tensor::TensorCreationOptions::new(device.clone())
            .with_dtype(FloatDType::F64.into());
        Some(Tensor::from_data(
            burn::tensor::TensorData::new(vec![w], [1, 1]),
            options,
        ))
    }

    /// The weight of a record's 1 × 1 tensor; `None` (an older record) counts as converged.
    pub(crate) fn from_tensor(t: Option<Tensor<2>>) -> Self {
        Self(t.map(|t| crate::convert::tensor_to_mat_f64(t)[(0, 0)]))
    }
}

/// The sum of all entries of a tensor (in its dtype), read to the host without rounding.
pub(crate) fn total(t: Tensor<2>) -> f64 {
    crate::convert::tensor_to_mat_f64(t.sum().reshape([1, 1]))[(0, 0)]
}

/// The normalised running average in f64 with the mixing of [`AverageWeight::advance`].
pub(crate) fn running_average(
    average: Option<Tensor<2>>,
    batch: Tensor<2>,
    (old, new): (f64, f64),
) -> Tensor<2> {
    match average {
        Some(m) => m.mul_scalar(old) + batch.mul_scalar(new),
        None => batch,
    }
}

#[cfg(test)]
pub(crate) mod tests;
