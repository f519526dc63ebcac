//! burn's Muon as its authors use it: Muon on the hidden layers' weight matrices, AdamW on the
//! first and last layers and every bias.
//!
//! burn's `Muon` orthogonalises 2-D tensors only and scales its step by the tensor's shape read
//! as [out, in] (PyTorch's layout). [`MatrixMuon`] hands it every weight as such a matrix: a
//! convolution's filters [C_out, C_in, k_h, k_w] flattened to [C_out, C_in·k_h·k_w], and a
//! `Linear` weight (burn stores [in, out]) transposed to [out, in]. The shape adjustment is
//! `MatchRmsAdamW` (Moonshot: 0.2·√max(out, in)), which matches AdamW's update RMS so that one
//! learning rate serves both groups.

use burn::module::ParamGroup;
use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{
    AdamWConfig, AdjustLrFn, LearningRate, ModuleOptimizer, Muon, MuonConfig, MuonState, Optimizer,
};
use burn::tensor::{Device, Tensor};

/// burn's Muon on any weight, seen as the matrix [out, in] (see the module documentation).
#[derive(Clone)]
pub struct MatrixMuon {
    inner: Muon,
}

impl MatrixMuon {
    /// The weight as [out, in] and whether it was transposed (a `Linear` weight).
    fn matrix<const D: usize>(t: Tensor<D>) -> (Tensor<2>, bool) {
        let shape = t.dims();
        if D == 2 {
            (t.reshape([shape[0], shape[1]]).transpose(), true)
        } else {
            let rest: usize = shape[1..].iter().product();
            (t.reshape([shape[0], rest]), false)
        }
    }
}

impl Optimizer for MatrixMuon {
    type State<const D: usize> = MuonState<2>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let shape = tensor.dims();
        let (t, transposed) = Self::matrix(tensor);
        let (g, _) = Self::matrix(grad);
        let (t, state) = Optimizer::step::<2>(&self.inner, lr, t, g, state);
        let t = if transposed { t.transpose() } else { t };
        (t.reshape(shape), state)
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        <Muon as Optimizer>::to_device::<2>(state, device)
    }
}

/// The ids of the weights (rank ≥ 2) of every parametrised layer but the first and the last.
fn hidden_weights<M: Module>(model: &M) -> Vec<ParamId> {
    struct Weights(Vec<ParamId>);
    impl ModuleVisitor for Weights {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if D >= 2 {
                self.0.push(param.id);
            }
        }
    }
    let mut weights = Weights(Vec::new());
    model.visit(&mut weights);
    let ids = weights.0;
    match ids.len() {
        0..=2 => Vec::new(),
        n => ids[1..n - 1].to_vec(),
    }
}

/// AdamW (decoupled weight decay `weight_decay`) on every parameter, Muon (momentum 0.95,
/// Nesterov, 5 Newton–Schulz steps, the same weight decay) on the hidden layers' weights.
pub fn muon_optimizer<M: Module>(model: &M, weight_decay: f64) -> ModuleOptimizer {
    let adamw = AdamWConfig::new()
        .with_weight_decay(weight_decay as f32)
        .init();
    let muon = MatrixMuon {
        inner: MuonConfig::new()
            .with_adjust_lr_fn(AdjustLrFn::MatchRmsAdamW)
            .with_weight_decay(Some(WeightDecayConfig::new(weight_decay as f32)))
            .build(),
    };
    adamw.with_group(ParamGroup::from_ids(hidden_weights(model)), muon, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;
    use ngd_model::CnnConfig;

    fn muon() -> MatrixMuon {
        MatrixMuon {
            inner: MuonConfig::new()
                .with_adjust_lr_fn(AdjustLrFn::MatchRmsAdamW)
                .build(),
        }
    }

    fn max_diff<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
        (a - b).abs().max().into_scalar::<f32>()
    }

    /// A filter bank [C_out, C_in, k, k] steps as burn's Muon steps the matrix
    /// [C_out, C_in·k·k]; a `Linear` weight [in, out] as the transpose of burn's step on
    /// [out, in] (so that the shape adjustment reads the PyTorch layout).
    #[test]
    fn weights_step_as_their_out_by_in_matrix() {
        let device = Device::default();
        let (w, g) = (
            Tensor::<4>::random([4, 3, 2, 2], Distribution::Default, &device),
            Tensor::<4>::random([4, 3, 2, 2], Distribution::Default, &device),
        );
        let (got, _) = muon().step::<4>(0.1, w.clone(), g.clone(), None);
        let (want, _) = Optimizer::step::<2>(
            &muon().inner,
            0.1,
            w.reshape([4, 12]),
            g.reshape([4, 12]),
            None,
        );
        assert!(max_diff(got.reshape([4, 12]), want) < 1e-6);
        let (w, g) = (
            Tensor::<2>::random([6, 3], Distribution::Default, &device),
            Tensor::<2>::random([6, 3], Distribution::Default, &device),
        );
        let (got, _) = muon().step::<2>(0.1, w.clone(), g.clone(), None);
        let (want, _) =
            Optimizer::step::<2>(&muon().inner, 0.1, w.transpose(), g.transpose(), None);
        assert!(max_diff(got, want.transpose()) < 1e-6);
    }

    /// On the CNN, Muon takes conv2, conv3, conv4 and the hidden linear layer's weights; conv1,
    /// the output layer and every bias stay with AdamW.
    #[test]
    fn muon_takes_the_hidden_weights_only() {
        let cnn = CnnConfig::new([3, 8, 8], 10)
            .init(0, &Device::default())
            .unwrap();
        let want = vec![
            cnn.conv2.weight.id,
            cnn.conv3.weight.id,
            cnn.conv4.weight.id,
            cnn.fc1.weight.id,
        ];
        assert_eq!(hidden_weights(&cnn), want);
    }
}
