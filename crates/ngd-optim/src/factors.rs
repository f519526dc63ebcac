//! Per-sample Jacobian in factored form (MATH.md §2):
//! ∂f_c(x_n)/∂(W_l, b_l) = δ_l^{(c)}(n) ⊗ h̃_{l−1}(n),  h̃_{l−1}(n) = [(σ_w/√M_{l−1}) h_{l−1}(n); σ_b].
//!
//! The factors are computed by [`crate::FactoredModel::factors`]; this module only holds them.
//! The scaling of h̃ is the model's: σ_w/√M_{l−1} and σ_b under the NTK parameterisation,
//! 1 and 1 for a plain `burn::nn::Linear` (standard parameterisation).

use burn::tensor::Tensor;
use faer::Mat;

/// Factors of one layer l.
#[derive(Debug, Clone)]
pub struct LayerFactors {
    /// h̃_{l−1}: N × (M_{l−1} + 1), last column σ_b.
    pub input: Mat<f64>,
    /// δ_l stacked class-major: row c·N + n holds δ_l^{(c)}(n); CN × M_l.
    pub delta: Mat<f64>,
}

impl LayerFactors {
    /// Input Gram H̃ = h̃ h̃ᵀ (N × N).
    pub fn input_gram(&self) -> Mat<f64> {
        ngd_linalg::gram(self.input.as_ref())
    }

    /// Back-propagated Gram D = δ δᵀ (CN × CN).
    pub fn delta_gram(&self) -> Mat<f64> {
        ngd_linalg::gram(self.delta.as_ref())
    }

    /// Layer Gram K_l[(c,n),(c′,m)] = (δ^{(c)}(n)·δ^{(c′)}(m)) (h̃(n)·h̃(m)) (MATH.md §2), CN × CN.
    pub fn jacobian_gram(&self) -> Mat<f64> {
        let h = self.input_gram();
        let d = self.delta_gram();
        let n = h.nrows();
        Mat::from_fn(d.nrows(), d.ncols(), |i, j| d[(i, j)] * h[(i % n, j % n)])
    }

    /// Width M_l of this layer's output.
    pub fn width(&self) -> usize {
        self.delta.ncols()
    }
}

/// Jacobian factors of every layer at a batch of N samples, with the outputs f(x).
#[derive(Debug, Clone)]
pub struct Factors {
    /// Layers l = 1..L.
    pub layers: Vec<LayerFactors>,
    /// Each layer's kind as the model's tap reported it (the dual forms handle `Linear` only).
    pub kinds: Vec<crate::curvature::LayerKind>,
    /// f(x): N × C.
    pub outputs: Mat<f64>,
    /// Scaled inputs h̃_{l−1} without the bias column, on the device (N × M_{l−1}), for the
    /// parameter updates; empty for host-only factors (tests, kernels).
    pub device_inputs: Vec<Tensor<2>>,
    /// Per layer, the entry of h̃'s bias column: σ_b (NTK parameterisation), 1 (standard),
    /// 0 (a layer without bias).
    pub bias_scales: Vec<f64>,
}

impl Factors {
    /// Number of samples N.
    pub fn samples(&self) -> usize {
        self.outputs.nrows()
    }

    /// Number of outputs C.
    pub fn outputs_dim(&self) -> usize {
        self.outputs.ncols()
    }

    /// Depth L.
    pub fn depth(&self) -> usize {
        self.layers.len()
    }

    /// Empirical NTK Θ = Σ_l K_l / N (eq. 6), CN × CN.
    pub fn ntk(&self) -> Mat<f64> {
        let n = self.samples() as f64;
        let mut theta = self.layers[0].jacobian_gram();
        for layer in &self.layers[1..] {
            theta += layer.jacobian_gram();
        }
        theta * faer::Scale(1.0 / n)
    }
}
