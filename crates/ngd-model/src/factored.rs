//! The NTK [`Mlp`] as a [`FactoredModel`]: h̃_{l−1} = [(σ_w/√M_{l−1}) h_{l−1}; σ_b] (MATH.md §2).

use crate::mlp::Mlp;
use burn::tensor::Tensor;
use ngd_optim::{FactoredModel, Factors, Tap, step_param};

impl FactoredModel for Mlp {
    /// u_l = (σ_w/√M_{l−1}) h_{l−1}W_l + σ_b b_l, h_l = φ(u_l), f = u_L (eq. 1).
    fn forward_tapped(&self, x: Tensor<2>, tap: &mut Tap) -> Tensor<2> {
        let activation = self.config.activation;
        self.forward_layers(x, tap, |_, u| activation.apply(u))
    }

    fn update_layer(&mut self, layer: usize, dw: Tensor<2>, db: Tensor<1>, lr: f64) {
        step_param(&mut self.weights[layer], dw, lr);
        step_param(&mut self.biases[layer], db, lr);
    }
}

impl Mlp {
    /// Eq. 1 with h_l = `hidden(l, u_l)` for the hidden layers l = 1..L−1 (φ(u_l) for the
    /// network itself).
    fn forward_layers(
        &self,
        x: Tensor<2>,
        tap: &mut Tap,
        mut hidden: impl FnMut(usize, Tensor<2>) -> Tensor<2>,
    ) -> Tensor<2> {
        let sigma_b = self.config.bias_scale();
        let mut h = x;
        for l in 1..=self.depth() {
            let scale = self.config.weight_scale(l);
            let bias = Some(&self.biases[l - 1]);
            let u = tap.affine(h, &self.weights[l - 1], bias, scale, sigma_b);
            h = if l == self.depth() { u } else { hidden(l, u) };
        }
        h
    }

    /// The ReLU gates m_l = 1(u_l > 0) (0/1, N × M_l) of the hidden layers l = 1..L−1 at x;
    /// with ReLU, φ(u_l) = m_l ⊙ u_l.
    pub fn relu_gates(&self, x: Tensor<2>) -> Vec<Tensor<2>> {
        let mut gates = Vec::with_capacity(self.depth() - 1);
        let activation = self.config.activation;
        self.forward_layers(x.without_autodiff(), &mut Tap::plain(), |_, u| {
            gates.push(u.clone().greater_elem(0.0).float());
            activation.apply(u)
        });
        gates
    }

    /// f(x) with the activation pattern frozen: h_l = m_l ⊙ u_l for given gates m_l
    /// (N × M_l, l = 1..L−1). With ReLU and the gates of [`Mlp::relu_gates`] at the same
    /// weights this is f(x); with the gates of other weights (e.g. at initialisation) it is the
    /// network that keeps that pattern, multilinear in the weights.
    pub fn forward_gated(&self, x: Tensor<2>, gates: &[Tensor<2>]) -> Tensor<2> {
        assert_eq!(gates.len(), self.depth() - 1, "one gate per hidden layer");
        self.forward_layers(x.without_autodiff(), &mut Tap::plain(), |l, u| {
            u * gates[l - 1].clone()
        })
    }

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
