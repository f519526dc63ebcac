//! The NTK [`Mlp`] as a [`FactoredModel`]: h̃_{l−1} = [(σ_w/√M_{l−1}) h_{l−1}; σ_b] (MATH.md §2).

use crate::mlp::Mlp;
use burn::tensor::Tensor;
use ngd_optim::{FactoredModel, Factors, Tap, step_param};

impl FactoredModel for Mlp {
    /// u_l = (σ_w/√M_{l−1}) h_{l−1}W_l + σ_b b_l, h_l = φ(u_l), f = u_L (eq. 1).
    fn forward_tapped(&self, x: Tensor<2>, tap: &mut Tap) -> Tensor<2> {
        let sigma_b = self.config.bias_scale();
        let mut h = x;
        for l in 1..=self.depth() {
            let scale = self.config.weight_scale(l);
            let bias = Some(&self.biases[l - 1]);
            let u = tap.affine(h, &self.weights[l - 1], bias, scale, sigma_b);
            h = if l == self.depth() {
                u
            } else {
                self.config.activation.apply(u)
            };
        }
        h
    }

    fn update_layer(&mut self, layer: usize, dw: Tensor<2>, db: Tensor<1>, lr: f64) {
        step_param(&mut self.weights[layer], dw, lr);
        step_param(&mut self.biases[layer], db, lr);
    }
}

impl Mlp {
    /// The Jacobian factors at x (N × M_0) with C forward + backward passes
    /// ([`FactoredModel::factors`]).
    pub fn factors(&self, x: Tensor<2>) -> Factors {
        FactoredModel::factors(self, x)
    }

    /// The factors of output c alone ([`FactoredModel::factors_of_output`]).
    pub fn factors_of_output(&self, x: Tensor<2>, c: usize) -> Factors {
        FactoredModel::factors_of_output(self, x, c)
    }

    /// Network output f(x) for a batch of row samples x (N × M_0) → N × C.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.forward_plain(x)
    }
}
