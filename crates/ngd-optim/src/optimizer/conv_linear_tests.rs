//! A convolution with one output location is the `Linear` block on the flattened image; the
//! convolutions without a block are refused by name.

use super::conv_tests::{CLASSES, Geometry, TinyConv, conv_tilde, tiny_batch};
use super::tests::max_rel_diff;
use super::*;
use crate::convert::tensor_to_rows;
use crate::{Method, Precision, Tap, update_linear};
use burn::module::Module;
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

/// The `Linear` map on flattened images that the 1×1-output convolution computes.
#[derive(Module, Debug)]
struct LinearTwin {
    fc0: Linear,
    fc: Linear,
}

impl FactoredModel for LinearTwin {
    fn forward_tapped(&self, x: Tensor<2>, tap: &mut Tap) -> Tensor<2> {
        let h = relu(tap.linear(&self.fc0, x));
        tap.linear(&self.fc, h)
    }

    fn update_layer(&mut self, layer: usize, dw: Tensor<2>, db: Tensor<1>, lr: f64) {
        let fc = if layer == 0 {
            &mut self.fc0
        } else {
            &mut self.fc
        };
        update_linear(fc, dw, db, lr);
    }
}

/// With one output location (a 3×3 kernel on 3×3 images, no padding) the conv block is the
/// `Linear` block on the flattened image, and K-FAC-expand equals K-FAC-reduce: the same
/// factors and the same step (sampled Fisher, running averages, two steps).
#[test]
fn one_location_conv_equals_the_linear_block_and_expand_equals_reduce() {
    let device = Device::default().autodiff();
    let g = Geometry {
        input: [2, 3, 3],
        c_out: 4,
        kernel: 3,
        padding: 0,
        stride: 1,
    };
    let conv_model = TinyConv::new(g, CLASSES, &device);
    let weight = conv_model.conv.weight.val().without_autodiff();
    let mut fc0 = LinearConfig::new(18, 4).init(&device);
    fc0.weight = burn::module::Param::from_tensor(
        weight
            .reshape([4, 18])
            .transpose()
            .autodiff()
            .require_grad(),
    );
    fc0.bias = conv_model.conv.bias.clone();
    let twin = LinearTwin {
        fc0,
        fc: conv_model.fc.clone(),
    };
    let (x, y, _) = tiny_batch(&g, &device);
    let config = |conv| {
        NgdConfig::new(Method::Kfac)
            .with_damping(DampingConfig::new().with_value(0.02))
            .with_lr(Some(0.3))
            .kfac_with(|k| {
                k.with_fisher(Fisher::Empirical)
                    .with_decay(0.8)
                    .with_conv(conv)
            })
            .with_block_precision(Precision::F64)
    };
    let run = |model: &mut dyn FnMut(&mut Ngd) -> Vec<f64>, conv| {
        let mut opt = config(conv).init().unwrap();
        let params = model(&mut opt);
        let a = tensor_to_rows(opt.blocks()[0].state()[0].1.clone());
        (params, a)
    };
    let mut results = Vec::new();
    for conv in [ConvFactors::Expand, ConvFactors::Reduce] {
        let mut model = conv_model.clone();
        results.push(run(
            &mut |opt| {
                for _ in 0..2 {
                    opt.step(&mut model, x.clone(), y.clone()).unwrap();
                }
                let w = conv_tilde(&model.conv);
                (0..w.nrows())
                    .flat_map(|i| (0..w.ncols()).map(move |j| (i, j)))
                    .map(|(i, j)| w[(i, j)])
                    .collect()
            },
            conv,
        ));
    }
    let mut linear = twin;
    let (linear_params, linear_a) = run(
        &mut |opt| {
            for _ in 0..2 {
                opt.step(&mut linear, x.clone(), y.clone()).unwrap();
            }
            let w = tensor_to_rows(linear.fc0.weight.val().without_autodiff());
            let b = linear.fc0.bias.as_ref().unwrap().val().without_autodiff();
            let mut out = w;
            out.extend(tensor_to_rows(b.reshape([1, 4])));
            out
        },
        ConvFactors::Expand,
    );
    for (conv, (params, a)) in ["expand", "reduce"].iter().zip(&results) {
        let (err_p, err_a) = (
            max_rel_diff(params, &linear_params),
            max_rel_diff(a, &linear_a),
        );
        eprintln!("{conv} vs Linear: parameters {err_p:.1e}, A {err_a:.1e}");
        assert!(
            err_p < 7e-7 && err_a < 1e-9,
            "{conv}: {err_p:.2e} {err_a:.2e}"
        );
    }
}

/// A dilated convolution has no block: the optimizer names the method, layer and kind, and the
/// dual forms refuse a convolution by name.
#[test]
fn unsupported_convolutions_are_named() {
    let device = Device::default().autodiff();
    let g = Geometry {
        input: [2, 5, 5],
        c_out: 3,
        kernel: 3,
        padding: 1,
        stride: 1,
    };
    let (x, y, _) = tiny_batch(&g, &device);
    let mut model = TinyConv::new(g, CLASSES, &device);
    model.conv.dilation = [2, 2];
    model.conv.padding = PaddingConfig2d::Explicit(2, 2, 2, 2);
    let mut opt = NgdConfig::new(Method::Kfac)
        .with_damping(DampingConfig::new().with_value(0.1))
        .with_lr(Some(0.1))
        .kfac_with(|k| k.with_fisher(Fisher::Sampled))
        .init()
        .unwrap();
    let err = opt
        .step(&mut model, x.clone(), y.clone())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("layer 1") && err.contains("dilation 2×2"),
        "{err}"
    );
    let mut model = TinyConv::new(g, CLASSES, &device);
    let mut dual = NgdConfig::new(Method::Kfac)
        .with_damping(DampingConfig::new().with_value(0.1))
        .init()
        .unwrap();
    let err = dual.step(&mut model, x, y).unwrap_err().to_string();
    assert!(
        err.contains("Conv2d") && err.contains("dual forms"),
        "{err}"
    );
}
