//! The model side of NGD: any burn network whose weight layers are affine maps
//! u_l = s_w·h_{l−1}W_l + s_b·b_l (MATH.md §1), written once through a [`Tap`].
//!
//! From that one forward function the crate gets the Jacobian factors of MATH.md §2,
//! ∂f_c(x_n)/∂(W_l, b_l) = δ_l^{(c)}(n) ⊗ h̃_{l−1}(n) with h̃ = [s_w·h; s_b]: the tap records
//! h̃_{l−1} and adds a zero "probe" leaf to each pre-activation, so one backward pass of
//! Σ_n w(n)·f(x_n) yields Σ_c w_c(n)·δ_l^{(c)}(n) for every sample at once (burn does not expose
//! gradients of intermediate tensors). Weights stay untracked: no weight gradient is computed.
//! The scales s_w, s_b belong to the model (σ_w/√M_{l−1} and σ_b under the NTK
//! parameterisation, 1 and 1 for `burn::nn::Linear`); the curvature code never sees them.

use crate::convert::{mat_to_tensor, tensor_to_mat};
use crate::curvature::LayerKind;
use crate::factors::{Factors, LayerFactors};
use crate::tap::{Recorded, Tap};
use burn::module::Param;
use burn::nn::Linear;
use burn::tensor::Tensor;
use faer::Mat;

/// A network NGD can train: its forward pass through a [`Tap`] and a per-layer update.
///
/// ```
/// use burn::module::Module;
/// use burn::nn::{Linear, LinearConfig};
/// use burn::tensor::{Device, Tensor, activation::relu};
/// use ngd_optim::{FactoredModel, Tap, update_linear};
///
/// #[derive(Module, Debug)]
/// struct MyMlp {
///     fc1: Linear,
///     fc2: Linear,
/// }
///
/// impl FactoredModel for MyMlp {
///     fn forward_tapped(&self, x: Tensor<2>, tap: &mut Tap) -> Tensor<2> {
///         let h = relu(tap.linear(&self.fc1, x));
///         tap.linear(&self.fc2, h)
///     }
///     fn update_layer(&mut self, layer: usize, dw: Tensor<2>, db: Tensor<1>, lr: f64) {
///         update_linear([&mut self.fc1, &mut self.fc2][layer], dw, db, lr);
///     }
/// }
///
/// let device = Device::default();
/// let model = MyMlp {
///     fc1: LinearConfig::new(4, 8).init(&device),
///     fc2: LinearConfig::new(8, 3).init(&device),
/// };
/// let factors = model.factors(Tensor::ones([5, 4], &device));
/// assert_eq!(factors.layers[0].input.ncols(), 5); // h̃_0 = [x | 1]
/// assert_eq!(factors.layers[1].delta.nrows(), 15); // C·N rows, class-major
/// ```
pub trait FactoredModel {
    /// f(x) (N × C) for row samples x (N × M_0; a convolutional network reshapes them to its
    /// images), every weight layer l = 1..L written as [`Tap::linear`], [`Tap::affine`] or
    /// [`Tap::conv2d`], in order.
    fn forward_tapped(&self, x: Tensor<2>, tap: &mut Tap) -> Tensor<2>;

    /// θ_l ← θ_l − lr·(ΔW_l, Δb_l) for layer `layer` (0-based), ΔW_l shaped [M_{l−1}, M_l] like
    /// an affine weight (a convolution's [C_in·k_h·k_w, C_out]: [`crate::update_conv2d`]
    /// reshapes it), Δb_l `[M_l]`, both in the model's own parameter coordinates.
    fn update_layer(&mut self, layer: usize, dw: Tensor<2>, db: Tensor<1>, lr: f64);

    /// f(x) without autodiff.
    fn forward_plain(&self, x: Tensor<2>) -> Tensor<2> {
        self.forward_tapped(x.without_autodiff(), &mut Tap::plain())
    }

    /// f(x) with the parameters tracked by autodiff (as they live on the model's device), for
    /// first-order optimizers: `loss.backward()` then gives every weight's gradient.
    fn forward_tracked(&self, x: Tensor<2>) -> Tensor<2> {
        let mut tap = Tap::plain();
        tap.keep_params = true;
        self.forward_tapped(x, &mut tap)
    }

    /// Factors of every layer and output at x: C forward + backward passes, one per output c
    /// with w = e_c, δ stacked class-major (MATH.md §2).
    fn factors(&self, x: Tensor<2>) -> Factors {
        let x = x.without_autodiff();
        let first = tapped_pass(self, x.clone(), |_| OutputWeights::Output(0));
        let mut deltas: Vec<Vec<Recorded>> =
            first.signals.iter().map(|d| vec![d.clone()]).collect();
        for c in 1..first.outputs.dims()[1] {
            let pass = tapped_pass(self, x.clone(), |_| OutputWeights::Output(c));
            for (l, d) in pass.signals.into_iter().enumerate() {
                deltas[l].push(d);
            }
        }
        assemble(first, deltas)
    }

    /// The factors of output c alone: h̃_{l−1} and δ_l^{(c)} (N × M_l), with f(x) (N × C),
    /// from one forward + backward pass.
    fn factors_of_output(&self, x: Tensor<2>, c: usize) -> Factors {
        let pass = tapped_pass(self, x.without_autodiff(), |_| OutputWeights::Output(c));
        let deltas = pass.signals.iter().map(|d| vec![d.clone()]).collect();
        assemble(pass, deltas)
    }

    /// One pass with output weights w = `weights(f)` (N × C, chosen after the forward):
    /// h̃_{l−1} and the weighted signals Σ_c w_c(n) δ_l^{(c)}(n) (N × M_l) of every layer.
    /// With w = ∂(N·L)/∂f these are the per-sample loss gradients w.r.t. u_l.
    fn weighted_signals(&self, x: Tensor<2>, weights: impl FnOnce(&Mat<f64>) -> Mat<f64>) -> Factors
    where
        Self: Sized,
    {
        let pass = tapped_pass(self, x.without_autodiff(), |f| {
            let w = weights(&tensor_to_mat(f.clone()));
            OutputWeights::PerSample(Box::new(mat_to_tensor(w.as_ref(), &f.device())))
        });
        let deltas = pass.signals.iter().map(|d| vec![d.clone()]).collect();
        assemble(pass, deltas)
    }
}

/// θ ← θ − lr·(ΔW, Δb) on a `burn::nn::Linear` (weight [d_in, d_out]; Δb ignored without bias).
pub fn update_linear(linear: &mut Linear, dw: Tensor<2>, db: Tensor<1>, lr: f64) {
    step_param(&mut linear.weight, dw, lr);
    if let Some(b) = linear.bias.as_mut() {
        step_param(b, db, lr);
    }
}

/// θ ← θ − lr·Δ on one parameter, keeping it a leaf of the device it lives on.
pub fn step_param<const D: usize>(param: &mut Param<Tensor<D>>, delta: Tensor<D>, lr: f64) {
    let value = param.val();
    let tracked = value.is_autodiff();
    let new = value.without_autodiff() - delta.mul_scalar(lr);
    let new = if tracked { new.autodiff() } else { new };
    *param = Param::initialized(param.id, if tracked { new.require_grad() } else { new });
}

/// What one probed pass returns (device tensors and host outputs).
pub(crate) struct TapPass {
    /// Each parametrised layer's kind.
    pub kinds: Vec<LayerKind>,
    /// h̃_{l−1} without the bias column, on the device (N × M_{l−1}, or a convolution's input
    /// images).
    pub inputs: Vec<Recorded>,
    /// s_b of each layer (0 without bias).
    pub bias_scales: Vec<f64>,
    /// Σ_c w_c(n) δ_l^{(c)}(n) on the device (N × M_l, or N × C_out × H′ × W′).
    pub signals: Vec<Recorded>,
    /// Per layer, a convolution's ∂(Σ_n w(n)·f(x_n))/∂W̃ ((C_in·k_h·k_w + 1) × C_out, bias row
    /// last) from burn's backward ([`tapped_pass_with_conv_gradients`]); `None` otherwise.
    pub conv_gradients: Vec<Option<Tensor<2>>>,
    /// f(x), N × C, on the device.
    pub outputs: Tensor<2>,
}

/// The output weights w of a probed pass's backward of Σ_n w(n)·f(x_n).
pub(crate) enum OutputWeights {
    /// w = e_c: δ^{(c)} itself.
    Output(usize),
    /// Any N × C weights, on the device in f's dtype.
    PerSample(Box<Tensor<2>>),
}

/// One forward pass with probes and one backward of Σ_n w(n)·f(x_n), w = `weights(f)`.
pub(crate) fn tapped_pass<M: FactoredModel + ?Sized>(
    model: &M,
    x: Tensor<2>,
    weights: impl FnOnce(&Tensor<2>) -> OutputWeights,
) -> TapPass {
    probed_pass(model, x, weights, false)
}

/// [`tapped_pass`] that also gives the convolutions' weight gradients.
pub(crate) fn tapped_pass_with_conv_gradients<M: FactoredModel + ?Sized>(
    model: &M,
    x: Tensor<2>,
    weights: impl FnOnce(&Tensor<2>) -> OutputWeights,
) -> TapPass {
    probed_pass(model, x, weights, true)
}

fn probed_pass<M: FactoredModel + ?Sized>(
    model: &M,
    x: Tensor<2>,
    weights: impl FnOnce(&Tensor<2>) -> OutputWeights,
    conv_gradients: bool,
) -> TapPass {
    let device = x.device();
    let mut tap = Tap::probing(device.clone().autodiff());
    tap.conv_gradients = conv_gradients;
    let f = model.forward_tapped(x.autodiff(), &mut tap);
    let outputs = f.clone().without_autodiff();
    let objective = match weights(&outputs) {
        OutputWeights::Output(c) => f.narrow(1, c, 1).sum(),
        OutputWeights::PerSample(w) => (f * w.autodiff()).sum(),
    };
    let grads = objective.backward();
    let signals = tap
        .probes
        .iter()
        .map(|p| match p {
            Recorded::Rows(p) => Recorded::Rows(p.grad(&grads).expect("probe gradient")),
            Recorded::Images(p) => Recorded::Images(p.grad(&grads).expect("probe gradient")),
        })
        .collect();
    let conv_gradients = tap
        .conv_leaves
        .iter()
        .map(|leaf| {
            let (w, b) = leaf.as_ref()?;
            let [c_out, c_in, kh, kw] = w.dims();
            let dw = w.grad(&grads).expect("conv weight gradient");
            let dw = dw.reshape([c_out, c_in * kh * kw]).transpose();
            let db = match b {
                Some(b) => b.grad(&grads).expect("conv bias gradient"),
                None => Tensor::zeros([c_out], &dw.device()),
            };
            Some(crate::convert::join_bias(dw, db))
        })
        .collect();
    TapPass {
        kinds: tap.kinds,
        inputs: tap.inputs,
        bias_scales: tap.bias_scales,
        signals,
        conv_gradients,
        outputs,
    }
}

/// Host factors from a pass's device tensors: [h̃ | s_b] and δ blocks stacked class-major (a
/// convolution's input and signals flattened per sample: its kind tells the dual forms to
/// refuse it).
fn assemble(pass: TapPass, deltas: Vec<Vec<Recorded>>) -> Factors {
    let inputs: Vec<Tensor<2>> = pass.inputs.iter().map(Recorded::flat).collect();
    let layers = inputs
        .iter()
        .zip(&pass.bias_scales)
        .zip(deltas)
        .map(|((h, &s), d)| LayerFactors {
            input: with_bias_column(tensor_to_mat(h.clone()), s),
            delta: tensor_to_mat(Tensor::cat(d.iter().map(Recorded::flat).collect(), 0)),
        })
        .collect();
    Factors {
        layers,
        kinds: pass.kinds,
        outputs: tensor_to_mat(pass.outputs),
        device_inputs: inputs,
        bias_scales: pass.bias_scales,
    }
}

/// [h | s_b·1]: appends the bias column to the scaled inputs.
fn with_bias_column(h: Mat<f64>, bias_scale: f64) -> Mat<f64> {
    let (n, m) = (h.nrows(), h.ncols());
    Mat::from_fn(n, m + 1, |i, j| if j < m { h[(i, j)] } else { bias_scale })
}
