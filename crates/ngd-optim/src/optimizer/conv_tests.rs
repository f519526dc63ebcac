//! Convolutions through the per-layer blocks (MATH.md §8c), against explicitly written patch
//! loops, burn's own autodiff of `Conv2d`, and the `Linear` block.

use super::tests::max_rel_diff;
use super::*;
use crate::convert::{tensor_from_rows, tensor_to_mat_f64, tensor_to_rows};
use crate::curvature::kronecker_damping;
use crate::im2col::{patch_rows, signal_rows};
use crate::model::{OutputWeights, tapped_pass_with_conv_gradients};
use crate::tap::Recorded;
use crate::{Method, Precision, Tap, update_conv2d, update_linear};
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::{log_softmax, relu};
use burn::tensor::{Device, Tensor};
use faer::Mat;
use faer::linalg::solvers::DenseSolveCore;

/// conv (C_in → C_out, k × k, padding, stride), ReLU, flatten, linear → classes.
#[derive(Module, Debug)]
pub(super) struct TinyConv {
    pub(super) conv: Conv2d,
    pub(super) fc: Linear,
    #[module(skip)]
    pub(super) geometry: Geometry,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Geometry {
    pub(super) input: [usize; 3],
    pub(super) c_out: usize,
    pub(super) kernel: usize,
    pub(super) padding: usize,
    pub(super) stride: usize,
}

impl Geometry {
    fn out(&self) -> [usize; 2] {
        let o = |s: usize| (s + 2 * self.padding - self.kernel) / self.stride + 1;
        [o(self.input[1]), o(self.input[2])]
    }
    fn d_in(&self) -> usize {
        self.input[0] * self.kernel * self.kernel
    }
}

impl TinyConv {
    /// burn's modules with deterministic weights (w_k = sin(0.7k + phase)/√fan_in).
    pub(super) fn new(g: Geometry, classes: usize, device: &Device) -> Self {
        let p = g.padding;
        let mut conv = Conv2dConfig::new([g.input[0], g.c_out], [g.kernel, g.kernel])
            .with_stride([g.stride, g.stride])
            .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
            .init(device);
        let [ho, wo] = g.out();
        let mut fc = LinearConfig::new(g.c_out * ho * wo, classes).init(device);
        conv.weight = filled(conv.weight.dims(), g.d_in(), 0.0, device);
        conv.bias = Some(filled([g.c_out], g.d_in(), 1.0, device));
        fc.weight = filled(fc.weight.dims(), g.c_out * ho * wo, 2.0, device);
        fc.bias = Some(filled([classes], g.c_out * ho * wo, 3.0, device));
        Self {
            conv,
            fc,
            geometry: g,
        }
    }

    fn images(&self, x: Tensor<2>) -> Tensor<4> {
        let [c, h, w] = self.geometry.input;
        x.clone().reshape([x.dims()[0], c, h, w])
    }

    /// f from the convolution's output u, through burn's own modules.
    fn head(&self, u: Tensor<4>) -> Tensor<2> {
        let [n, c, h, w] = u.dims();
        self.fc.forward(relu(u).reshape([n, c * h * w]))
    }
}

impl FactoredModel for TinyConv {
    fn forward_tapped(&self, x: Tensor<2>, tap: &mut Tap) -> Tensor<2> {
        let u = relu(tap.conv2d(&self.conv, self.images(x)));
        let [n, c, h, w] = u.dims();
        tap.linear(&self.fc, u.reshape([n, c * h * w]))
    }

    fn update_layer(&mut self, layer: usize, dw: Tensor<2>, db: Tensor<1>, lr: f64) {
        match layer {
            0 => update_conv2d(&mut self.conv, dw, db, lr),
            _ => update_linear(&mut self.fc, dw, db, lr),
        }
    }
}

/// A parameter of `shape` with entries sin(0.7k + phase)/√fan_in.
pub(super) fn filled<const D: usize>(
    shape: [usize; D],
    fan_in: usize,
    phase: f64,
    device: &Device,
) -> burn::module::Param<Tensor<D>> {
    let count: usize = shape.iter().product();
    let values: Vec<f32> = (0..count)
        .map(|k| ((0.7 * k as f64 + phase).sin() / (fan_in as f64).sqrt()) as f32)
        .collect();
    let data = burn::tensor::TensorData::new(values, shape);
    burn::module::Param::from_tensor(Tensor::from_data(data, device).require_grad())
}

/// Σ_n −log softmax(f_n)[y_n] (N·L).
pub(super) fn summed_cross_entropy(f: Tensor<2>, y: Tensor<2>) -> Tensor<1> {
    (log_softmax(f, 1) * y).sum().neg()
}

pub(super) const N: usize = 2;
pub(super) const CLASSES: usize = 3;

pub(super) fn tiny_batch(g: &Geometry, device: &Device) -> (Tensor<2>, Tensor<2>, Vec<f64>) {
    let dim: usize = g.input.iter().product();
    let x: Vec<f64> = (0..N * dim).map(|k| ((k as f64) * 0.61).sin()).collect();
    let y: Vec<f64> = (0..N * CLASSES)
        .map(|k| {
            if k % CLASSES == (k / CLASSES + 1) % CLASSES {
                1.0
            } else {
                0.0
            }
        })
        .collect();
    (
        tensor_from_rows(&x, N, dim, device),
        tensor_from_rows(&y, N, CLASSES, device),
        x,
    )
}

/// Patch rows [a_{n,r}; 1] by explicit loops over samples, locations, channels and taps.
fn explicit_patches(x: &[f64], g: &Geometry) -> Vec<Vec<f64>> {
    let [c, h, w] = g.input;
    let [ho, wo] = g.out();
    let mut rows = Vec::new();
    for n in 0..N {
        for oh in 0..ho {
            for ow in 0..wo {
                let mut row = Vec::with_capacity(g.d_in() + 1);
                for ch in 0..c {
                    for i in 0..g.kernel {
                        for j in 0..g.kernel {
                            let (r, s) = (oh * g.stride + i, ow * g.stride + j);
                            let inside = r >= g.padding
                                && s >= g.padding
                                && r - g.padding < h
                                && s - g.padding < w;
                            row.push(if inside {
                                x[n * c * h * w + ch * h * w + (r - g.padding) * w + s - g.padding]
                            } else {
                                0.0
                            });
                        }
                    }
                }
                row.push(1.0);
                rows.push(row);
            }
        }
    }
    rows
}

/// Σ_i z_i z_iᵀ / count.
fn gram(rows: &[Vec<f64>], count: usize) -> Mat<f64> {
    let d = rows[0].len();
    Mat::from_fn(d, d, |i, j| {
        rows.iter().map(|r| r[i] * r[j]).sum::<f64>() / count as f64
    })
}

/// The rows grouped per sample and reduced over the R locations (mean or sum).
fn per_sample(rows: &[Vec<f64>], mean: bool) -> Vec<Vec<f64>> {
    let r = rows.len() / N;
    rows.chunks(r)
        .map(|chunk| {
            let scale = if mean { 1.0 / r as f64 } else { 1.0 };
            (0..chunk[0].len())
                .map(|i| chunk.iter().map(|row| row[i]).sum::<f64>() * scale)
                .collect()
        })
        .collect()
}

/// (M + ρI)⁻¹ of a small matrix.
fn damped_inv(m: &Mat<f64>, rho: f64) -> Mat<f64> {
    let d = m.nrows();
    let shifted = Mat::from_fn(d, d, |i, j| m[(i, j)] + if i == j { rho } else { 0.0 });
    shifted.partial_piv_lu().inverse()
}

fn mean_trace(m: &Mat<f64>) -> f64 {
    (0..m.nrows()).map(|i| m[(i, i)]).sum::<f64>() / m.nrows() as f64
}

/// The conv weight as W̃ ((C_in·k·k + 1) × C_out, bias last).
pub(super) fn conv_tilde(conv: &Conv2d) -> Mat<f64> {
    let [c_out, c_in, kh, kw] = conv.weight.dims();
    let w = tensor_to_mat_f64(
        conv.weight
            .val()
            .without_autodiff()
            .reshape([c_out, c_in * kh * kw])
            .transpose(),
    );
    let b = conv.bias.as_ref().unwrap().val().without_autodiff();
    let b = tensor_to_mat_f64(b.reshape([1, c_out]));
    Mat::from_fn(w.nrows() + 1, c_out, |i, j| {
        if i < w.nrows() { w[(i, j)] } else { b[(0, j)] }
    })
}

pub(super) fn rel(a: &Mat<f64>, b: &Mat<f64>) -> f64 {
    let flat = |m: &Mat<f64>| {
        (0..m.nrows())
            .flat_map(|i| (0..m.ncols()).map(move |j| (i, j)))
            .map(|(i, j)| m[(i, j)])
            .collect::<Vec<_>>()
    };
    max_rel_diff(&flat(a), &flat(b))
}

/// On a tiny convolution (2 samples, 2 channels, 5×5 input, 3 filters 3×3, padding 1, and a
/// stride-2 variant): the tap's patch rows equal explicit loops; the gradient assembled from the
/// patches and signals equals burn's autodiff gradient of the conv weight and bias; the
/// K-FAC-expand and K-FAC-reduce factors after one step (empirical Fisher, β = 0) equal A and S
/// from the explicit patches and burn's per-location signals; and the step equals
/// (A + ρ_A)⁻¹ ∇W̃ (S + ρ_S)⁻¹ from the explicit matrices; the diagonal Fisher's step with the
/// cross-entropy loss equals ∇W̃ ⊘ (F + ρ) from the explicit per-sample gradients.
#[test]
fn conv_factors_gradient_and_step_match_explicit_patch_loops() {
    let device = Device::default().autodiff();
    for stride in [1, 2] {
        let g = Geometry {
            input: [2, 5, 5],
            c_out: 3,
            kernel: 3,
            padding: 1,
            stride,
        };
        let model = TinyConv::new(g, CLASSES, &device);
        let (x, y, x_host) = tiny_batch(&g, &device);
        let patches = explicit_patches(&x_host, &g);
        let r = patches.len() / N;
        // burn's own autodiff: the per-location signals ∂(N·L)/∂u and the weight gradient.
        let u = model.conv.forward(model.images(x.clone()));
        let u_leaf = u.clone().detach().require_grad();
        let grads = summed_cross_entropy(model.head(u_leaf.clone()), y.clone()).backward();
        let signal = u_leaf.grad(&grads).unwrap();
        let [_, c_out, ho, wo] = signal.dims();
        let signal = tensor_to_rows(
            signal
                .reshape([N, c_out, ho * wo])
                .swap_dims(1, 2)
                .reshape([N * ho * wo, c_out]),
        );
        let signals: Vec<Vec<f64>> = signal.chunks(c_out).map(|s| s.to_vec()).collect();
        let loss = summed_cross_entropy(model.head(u), y.clone()).div_scalar(N as f64);
        let grads = loss.backward();
        let dw = model.conv.weight.grad(&grads).unwrap();
        let db = model.conv.bias.as_ref().unwrap().grad(&grads).unwrap();
        let autodiff_grad = {
            let w = tensor_to_mat_f64(dw.reshape([c_out, g.d_in()]).transpose());
            let b = tensor_to_mat_f64(db.reshape([1, c_out]));
            Mat::from_fn(g.d_in() + 1, c_out, |i, j| {
                if i < g.d_in() { w[(i, j)] } else { b[(0, j)] }
            })
        };
        // The tap's patches and the gradient assembled from them.
        let pass = tapped_pass_with_conv_gradients(&model, x.clone(), |f| {
            let device = f.device();
            let f = crate::convert::tensor_to_mat(f.clone());
            let p = Mat::from_fn(f.nrows(), f.ncols(), |i, j| {
                let row: Vec<f64> = (0..f.ncols()).map(|c| f[(i, c)]).collect();
                let max = row.iter().cloned().fold(f64::MIN, f64::max);
                let z: f64 = row.iter().map(|v| (v - max).exp()).sum();
                (f[(i, j)] - max).exp() / z
            });
            let y = tensor_to_rows(y.clone().without_autodiff());
            let w = Mat::from_fn(f.nrows(), f.ncols(), |i, j| p[(i, j)] - y[i * CLASSES + j]);
            OutputWeights::PerSample(Box::new(crate::convert::mat_to_tensor(w.as_ref(), &device)))
        });
        let (Recorded::Images(images), Recorded::Images(signal)) =
            (&pass.inputs[0], &pass.signals[0])
        else {
            panic!("a convolution records images")
        };
        let rows = patch_rows(images.clone(), pass.kinds[0]);
        let explicit: Vec<f64> = patches
            .iter()
            .flat_map(|p| p[..g.d_in()].to_vec())
            .collect();
        assert!(
            max_rel_diff(&tensor_to_rows(rows.clone()), &explicit) < 1e-6,
            "patch rows"
        );
        // ∇W̃ = P̃ᵀY/N from the patch rows, and from burn's backward in the probed pass.
        let from_patches = crate::curvature::LayerSignals {
            rows: Some((
                Tensor::cat(vec![rows, Tensor::ones([N * r, 1], &device)], 1),
                signal_rows(signal.clone()),
            )),
            gradient: None,
            samples: N,
        }
        .gradient(burn::tensor::FloatDType::F64);
        let from_backward = pass.conv_gradients[0].clone().unwrap().div_scalar(N as f64);
        for (what, gradient) in [
            ("patches", from_patches),
            ("probed backward", from_backward),
        ] {
            let err = rel(&tensor_to_mat_f64(gradient), &autodiff_grad);
            eprintln!("stride {stride}: gradient from {what} vs burn autodiff {err:.1e}");
            assert!(err < 2e-6, "gradient from {what}: {err:.2e}");
        }
        // One K-FAC step per variant.
        let (rho, lr) = (0.05, 0.5);
        for conv in [ConvFactors::Expand, ConvFactors::Reduce] {
            let (a_rows, s_rows, count) = match conv {
                ConvFactors::Expand => (patches.clone(), signals.clone(), N * r),
                ConvFactors::Reduce => (per_sample(&patches, true), per_sample(&signals, false), N),
            };
            let a = gram(&a_rows, count);
            let s = gram(&s_rows, N);
            let mut model = model.clone();
            let before = conv_tilde(&model.conv);
            let mut opt = NgdConfig::new(Method::Kfac)
                .with_damping(DampingConfig::new().with_value(rho))
                .with_lr(Some(lr))
                .kfac_with(|k| k.with_fisher(Fisher::Empirical).with_conv(conv))
                .with_block_precision(Precision::F64)
                .init()
                .unwrap();
            opt.step(&mut model, x.clone(), y.clone()).unwrap();
            let state = opt.blocks()[0].state();
            let got_a = tensor_to_mat_f64(state[0].1.clone());
            let got_s = tensor_to_mat_f64(state[1].1.clone());
            let (err_a, err_s) = (rel(&got_a, &a), rel(&got_s, &s));
            eprintln!("stride {stride}, {conv}: A {err_a:.1e}, S {err_s:.1e}");
            assert!(
                err_a < 1e-7 && err_s < 3e-5,
                "{conv}: A {err_a:.2e}, S {err_s:.2e}"
            );
            let (rho_a, rho_s) = kronecker_damping(rho, mean_trace(&a), mean_trace(&s));
            let want = damped_inv(&a, rho_a) * &autodiff_grad * damped_inv(&s, rho_s);
            let after = conv_tilde(&model.conv);
            let step = Mat::from_fn(want.nrows(), want.ncols(), |i, j| {
                (before[(i, j)] - after[(i, j)]) / lr
            });
            let err = rel(&step, &want);
            eprintln!("stride {stride}, {conv}: step vs explicit Kronecker inverse {err:.1e}");
            assert!(err < 3e-6, "{conv} step: {err:.2e}");
        }
        // The diagonal Fisher's block with cross-entropy: ∇W̃ ⊘ (F + ρ) with F = Σ_n G_n ⊙ G_n / N
        // from the per-sample gradients G_n = Σ_r p̃_{n,r} s_{n,r}ᵀ (MATH.md §8c).
        let d = g.d_in() + 1;
        let mut fisher = Mat::<f64>::zeros(d, c_out);
        for n in 0..N {
            let rows = n * r..(n + 1) * r;
            let per_sample = Mat::from_fn(d, c_out, |i, j| {
                rows.clone()
                    .map(|k| patches[k][i] * signals[k][j])
                    .sum::<f64>()
            });
            fisher += Mat::from_fn(d, c_out, |i, j| per_sample[(i, j)].powi(2) / N as f64);
        }
        let mut stepped = model.clone();
        NgdConfig::new(Method::Diagonal)
            .with_damping(DampingConfig::new().with_value(rho))
            .with_lr(Some(lr))
            .kfac_with(|k| k.with_fisher(Fisher::Empirical))
            .with_block_precision(Precision::F64)
            .init()
            .unwrap()
            .step(&mut stepped, x.clone(), y.clone())
            .unwrap();
        let (before, after) = (conv_tilde(&model.conv), conv_tilde(&stepped.conv));
        let step = Mat::from_fn(d, c_out, |i, j| (before[(i, j)] - after[(i, j)]) / lr);
        let want = Mat::from_fn(d, c_out, |i, j| {
            autodiff_grad[(i, j)] / (fisher[(i, j)] + rho)
        });
        let err = rel(&step, &want);
        eprintln!("stride {stride}, diagonal (cross-entropy): step vs explicit {err:.1e}");
        assert!(err < 3e-6, "diagonal step: {err:.2e}");
    }
}
