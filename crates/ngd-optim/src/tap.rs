//! The [`Tap`] through which a [`crate::FactoredModel`] writes its forward pass: each
//! parametrised layer reports its kind ([`LayerKind`]), its input as burn holds it (rows N × d
//! for an affine layer, images N × C × H × W for a convolution) and, through a zero probe added
//! to its output, its per-sample output signals (MATH.md §2, §8c).

use crate::curvature::LayerKind;
use burn::module::Param;
use burn::nn::Linear;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor};

/// A tensor a tap recorded: rows (affine layers) or images (convolutions).
#[derive(Debug, Clone)]
pub(crate) enum Recorded {
    /// N × d.
    Rows(Tensor<2>),
    /// N × C × H × W.
    Images(Tensor<4>),
}

impl Recorded {
    /// The first `k` samples.
    pub fn first(&self, k: usize) -> Self {
        match self {
            Self::Rows(t) => Self::Rows(t.clone().narrow(0, 0, k)),
            Self::Images(t) => Self::Images(t.clone().narrow(0, 0, k)),
        }
    }

    /// One row per sample: rows as they are, images flattened to N × (C·H·W).
    pub fn flat(&self) -> Tensor<2> {
        match self {
            Self::Rows(t) => t.clone(),
            Self::Images(t) => {
                let [n, c, h, w] = t.dims();
                t.clone().reshape([n, c * h * w])
            }
        }
    }
}

/// Records what NGD needs from each weight layer of a forward pass: the layer's kind, its
/// input and (through a zero probe on its output) its per-sample output signals.
pub struct Tap {
    pub(crate) probe: Option<Device>,
    pub(crate) keep_params: bool,
    /// Track the convolutions' weights in a probed pass, for their gradients from burn's own
    /// backward (see [`Tap::conv2d`]).
    pub(crate) conv_gradients: bool,
    /// Per recorded layer, a convolution's tracked weight and bias (with `conv_gradients`).
    pub(crate) conv_leaves: Vec<Option<(Tensor<4>, Option<Tensor<1>>)>>,
    pub(crate) kinds: Vec<LayerKind>,
    pub(crate) inputs: Vec<Recorded>,
    pub(crate) bias_scales: Vec<f64>,
    pub(crate) probes: Vec<Recorded>,
}

impl Tap {
    /// A tap that only computes the forward pass.
    pub fn plain() -> Self {
        Self {
            probe: None,
            keep_params: false,
            conv_gradients: false,
            conv_leaves: Vec::new(),
            kinds: Vec::new(),
            inputs: Vec::new(),
            bias_scales: Vec::new(),
            probes: Vec::new(),
        }
    }

    pub(crate) fn probing(device: Device) -> Self {
        Self {
            probe: Some(device),
            ..Self::plain()
        }
    }

    /// A parameter as this pass needs it: tracked as the model holds it (first-order training),
    /// else detached and, when probing, a fresh autodiff leaf that asks for no gradient.
    fn leaf<const D: usize>(&self, param: &Param<Tensor<D>>) -> Tensor<D> {
        let value = param.val();
        if self.keep_params {
            return value;
        }
        let value = value.without_autodiff();
        if self.probe.is_some() {
            value.autodiff()
        } else {
            value
        }
    }

    /// u = h·W + b for a `burn::nn::Linear` (standard parameterisation: s_w = s_b = 1).
    pub fn linear(&mut self, layer: &Linear, h: Tensor<2>) -> Tensor<2> {
        let (bias, scale) = match &layer.bias {
            Some(b) => (Some(b), 1.0),
            None => (None, 0.0),
        };
        self.affine(h, &layer.weight, bias, 1.0, scale)
    }

    /// u = s_w·(h·W) + s_b·b for a weight W (`[M_{l−1}, M_l]`) and bias b (`[M_l]`); the bias is
    /// skipped when `bias_scale` is 0. Records h̃ = s_w·h (and s_b) for the factors.
    pub fn affine(
        &mut self,
        h: Tensor<2>,
        weight: &Param<Tensor<2>>,
        bias: Option<&Param<Tensor<1>>>,
        weight_scale: f64,
        bias_scale: f64,
    ) -> Tensor<2> {
        if self.probe.is_some() {
            let hd = h.clone().without_autodiff();
            let hd = if weight_scale == 1.0 {
                hd
            } else {
                hd.mul_scalar(weight_scale)
            };
            let s_b = if bias.is_some() { bias_scale } else { 0.0 };
            self.record(LayerKind::Linear, Recorded::Rows(hd), s_b);
            self.conv_leaves.push(None);
        }
        let mut u = h.matmul(self.leaf(weight));
        if weight_scale != 1.0 {
            u = u.mul_scalar(weight_scale);
        }
        if let (Some(b), true) = (bias, bias_scale != 0.0) {
            let b = self.leaf(b);
            let b = if bias_scale == 1.0 {
                b
            } else {
                b.mul_scalar(bias_scale)
            };
            u = u + b.unsqueeze_dim(0);
        }
        match &self.probe {
            Some(device) => {
                let probe = Tensor::<2>::zeros(u.dims(), device).require_grad();
                self.probes.push(Recorded::Rows(probe.clone()));
                u + probe
            }
            None => u,
        }
    }

    /// The output of a `burn::nn::conv::Conv2d` on images x (N × C_in × H × W), through burn's
    /// own convolution with the layer's options. Records the input images for the patches of
    /// MATH.md §8c (kind [`LayerKind::Conv2d`]; the curvature blocks handle dilation 1 and one
    /// group and refuse other layers by name). In the optimizer's probed pass the weight and
    /// bias are tracked too, so that burn's convolution backward gives their gradient (cheaper
    /// than forming it from the N·R patch rows).
    pub fn conv2d(&mut self, layer: &Conv2d, x: Tensor<4>) -> Tensor<4> {
        let [_, _, height, width] = x.dims();
        let kind = conv2d_kind(layer, height, width);
        let LayerKind::Conv2d { padding, .. } = kind else {
            unreachable!("conv2d_kind gives a Conv2d kind")
        };
        let tracked = self.probe.is_some() && self.conv_gradients;
        let (weight, bias) = if tracked {
            let track = |t: Tensor<4>| t.without_autodiff().autodiff().require_grad();
            let weight = track(layer.weight.val());
            let bias = layer
                .bias
                .as_ref()
                .map(|b| b.val().without_autodiff().autodiff().require_grad());
            (weight, bias)
        } else {
            let bias = layer.bias.as_ref().map(|b| self.leaf(b));
            (self.leaf(&layer.weight), bias)
        };
        if self.probe.is_some() {
            let s_b = if layer.bias.is_some() { 1.0 } else { 0.0 };
            self.record(kind, Recorded::Images(x.clone().without_autodiff()), s_b);
            self.conv_leaves
                .push(tracked.then(|| (weight.clone(), bias.clone())));
        }
        let options = ConvOptions::new_with_padding(
            layer.stride,
            [(padding[0], padding[1]), (padding[2], padding[3])],
            layer.dilation,
            layer.groups,
        );
        let u = conv2d(x, weight, bias, options);
        match &self.probe {
            Some(device) => {
                let probe = Tensor::<4>::zeros(u.dims(), device).require_grad();
                self.probes.push(Recorded::Images(probe.clone()));
                u + probe
            }
            None => u,
        }
    }

    fn record(&mut self, kind: LayerKind, input: Recorded, bias_scale: f64) {
        self.kinds.push(kind);
        self.inputs.push(input);
        self.bias_scales.push(bias_scale);
    }
}

/// The [`LayerKind::Conv2d`] of a burn `Conv2d` on H × W images: kernel, stride, the padding
/// (top, bottom, left, right) that burn applies (`Same` resolved as burn does), dilation and
/// groups.
pub fn conv2d_kind(layer: &Conv2d, height: usize, width: usize) -> LayerKind {
    let [kh, kw] = layer.kernel_size;
    let same = |k: usize, s: usize, size: usize| {
        let out = size.div_ceil(s);
        let total = ((out.max(1) - 1) * s + k).saturating_sub(size);
        (total / 2, total - total / 2)
    };
    let padding = match layer.padding {
        PaddingConfig2d::Valid => [0; 4],
        PaddingConfig2d::Same => {
            let (top, bottom) = same(kh, layer.stride[0], height);
            let (left, right) = same(kw, layer.stride[1], width);
            [top, bottom, left, right]
        }
        PaddingConfig2d::Explicit(top, left, bottom, right) => [top, bottom, left, right],
    };
    LayerKind::Conv2d {
        kernel: layer.kernel_size,
        stride: layer.stride,
        padding,
        dilation: layer.dilation,
        groups: layer.groups,
    }
}

/// θ ← θ − lr·(ΔW, Δb) on a `burn::nn::conv::Conv2d` from the step in patch coordinates
/// (ΔW: C_in·k_h·k_w × C_out, MATH.md §8c; Δb ignored without bias).
pub fn update_conv2d(conv: &mut Conv2d, dw: Tensor<2>, db: Tensor<1>, lr: f64) {
    let shape = conv.weight.dims();
    let dw = dw.transpose().reshape(shape);
    crate::step_param(&mut conv.weight, dw, lr);
    if let Some(b) = conv.bias.as_mut() {
        crate::step_param(b, db, lr);
    }
}
