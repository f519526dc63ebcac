//! Per-sample Jacobian in factored form (MATH.md §2):
//! ∂f_c(x_n)/∂(W_l, b_l) = δ_l^{(c)}(n) ⊗ h̃_{l−1}(n),  h̃_{l−1}(n) = [(σ_w/√M_{l−1}) h_{l−1}(n); σ_b].
//!
//! δ_l^{(c)} for every sample comes from one backward pass of Σ_n f_c(x_n) through zero
//! "probe" leaves added to each pre-activation (burn does not expose gradients of
//! intermediate tensors). Weights stay untracked, so no weight gradient is computed.

use crate::mlp::Mlp;
use burn::tensor::{Device, Tensor};
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
    /// f(x): N × C.
    pub outputs: Mat<f64>,
    /// Scaled inputs (σ_w/√M_{l−1}) h_{l−1} on the device, N × M_{l−1}, for parameter updates.
    pub device_inputs: Vec<Tensor<2>>,
    /// σ_b (the bias column of h̃).
    pub sigma_b: f64,
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

impl Mlp {
    /// Computes the Jacobian factors at x (N × M_0) with C forward + backward passes.
    pub fn factors(&self, x: Tensor<2>) -> Factors {
        let x = x.without_autodiff();
        let device = x.device();
        let mut inputs: Vec<Tensor<2>> = Vec::new();
        let mut deltas: Vec<Vec<Tensor<2>>> = vec![Vec::new(); self.depth()];
        let mut outputs = None;
        for c in 0..self.config.outputs() {
            let pass = self.probe_pass(x.clone(), c, &device, c == 0);
            if c == 0 {
                inputs = pass.inputs;
                outputs = Some(pass.output);
            }
            for (l, d) in pass.deltas.into_iter().enumerate() {
                deltas[l].push(d);
            }
        }
        self.assemble(inputs, deltas, outputs.expect("at least one output"))
    }

    /// The factors of output c alone at x: h̃_{l−1} and δ_l^{(c)} (N × M_l, the c-th block of
    /// [`Mlp::factors`]' δ_l), with f(x) (N × C), from one forward + backward pass.
    pub fn factors_of_output(&self, x: Tensor<2>, c: usize) -> Factors {
        let x = x.without_autodiff();
        let device = x.device();
        let pass = self.probe_pass(x, c, &device, true);
        let deltas = pass.deltas.into_iter().map(|d| vec![d]).collect();
        self.assemble(pass.inputs, deltas, pass.output)
    }

    /// Host factors from a pass's device tensors: [h̃ | σ_b] and δ blocks stacked class-major.
    fn assemble(
        &self,
        inputs: Vec<Tensor<2>>,
        deltas: Vec<Vec<Tensor<2>>>,
        outputs: Tensor<2>,
    ) -> Factors {
        let sigma_b = self.config.sigma_b2.sqrt();
        let layers = inputs
            .iter()
            .zip(deltas)
            .map(|(h, d)| LayerFactors {
                input: with_bias_column(crate::tensor_to_mat(h.clone()), sigma_b),
                delta: crate::tensor_to_mat(Tensor::cat(d, 0)),
            })
            .collect();
        Factors {
            layers,
            outputs: crate::tensor_to_mat(outputs),
            device_inputs: inputs,
            sigma_b,
        }
    }

    /// One forward pass with zero probes on every pre-activation and one backward of Σ_n f_c.
    fn probe_pass(&self, x: Tensor<2>, c: usize, device: &Device, keep: bool) -> ProbePass {
        let ad = device.clone().autodiff();
        let n = x.dims()[0];
        let mut h = x.autodiff();
        let mut probes = Vec::new();
        let mut inputs = Vec::new();
        for l in 1..=self.depth() {
            if keep {
                let scale = self.config.weight_scale(l);
                inputs.push(h.clone().without_autodiff().mul_scalar(scale));
            }
            let w = self.weights[l - 1].val().without_autodiff().autodiff();
            let width = self.config.widths[l];
            let probe = Tensor::<2>::zeros([n, width], &ad).require_grad();
            let u = self.pre_activation(l, h, w) + probe.clone();
            probes.push(probe);
            h = if l == self.depth() {
                u
            } else {
                self.config.activation.apply(u)
            };
        }
        let output = h.clone().without_autodiff();
        let grads = h.narrow(1, c, 1).sum().backward();
        let deltas = probes
            .iter()
            .map(|p| p.grad(&grads).expect("probe gradient"))
            .collect();
        ProbePass {
            inputs,
            deltas,
            output,
        }
    }
}

struct ProbePass {
    inputs: Vec<Tensor<2>>,
    deltas: Vec<Tensor<2>>,
    output: Tensor<2>,
}

/// [h | σ_b·1]: appends the bias column to the scaled inputs.
fn with_bias_column(h: Mat<f64>, sigma_b: f64) -> Mat<f64> {
    let (n, m) = (h.nrows(), h.ncols());
    Mat::from_fn(n, m + 1, |i, j| if j < m { h[(i, j)] } else { sigma_b })
}

impl Mlp {
    /// θ ← θ − η Δθ with Δ(W_lᵀ) = [(σ_w/√M_{l−1}) h_{l−1}]ᵀ R_l and Δb_l = σ_b Σ_n R_l(n), i.e.
    /// Δθ_l = h̃_{l−1}ᵀ R_l for the N × M_l coefficients R_l of each layer (MATH.md §2).
    pub fn apply_coefficients(&mut self, factors: &Factors, coefficients: &[Mat<f64>], lr: f64) {
        assert_eq!(
            coefficients.len(),
            self.depth(),
            "one coefficient matrix per layer"
        );
        for (l, r) in coefficients.iter().enumerate() {
            let input = &factors.device_inputs[l];
            let r = crate::mat_to_tensor(r.as_ref(), &input.device());
            let width = r.dims()[1];
            let dw = input.clone().transpose().matmul(r.clone());
            let db = r.sum_dim(0).reshape([width]).mul_scalar(factors.sigma_b);
            self.apply_layer_step(l + 1, dw, db, lr);
        }
    }
}
