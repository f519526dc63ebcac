//! The autodiff Jacobian factors against independent computations: central finite
//! differences of f, and an explicit Jacobian built from per-output weight gradients.

use burn::module::Param;
use faer::Mat;
use ngd_model::{Activation, Device, Mlp, MlpConfig, Parameterization, Tensor, TensorData};
use ngd_optim::convert::tensor_from_rows;

fn device() -> Device {
    Device::default()
}

/// N unit-norm inputs of dimension d, deterministic.
fn inputs(n: usize, d: usize) -> Vec<f64> {
    let mut x: Vec<f64> = (0..n * d)
        .map(|k| ((k * 37 + 11) % 23) as f64 / 23.0 - 0.45)
        .collect();
    for row in x.chunks_mut(d) {
        let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
        row.iter_mut().for_each(|v| *v /= norm);
    }
    x
}

fn host_weights(model: &Mlp, layer: usize) -> (Vec<f32>, [usize; 2]) {
    let t = model.weights[layer].val();
    let dims = t.dims();
    (t.into_data().try_into_vec::<f32>().unwrap(), dims)
}

/// Copy of `model` with W_lᵀ[j, i] (input j, output i) shifted by `eps` (or b_l[i] when j = M_{l−1}).
fn perturbed(model: &Mlp, layer: usize, j: usize, i: usize, eps: f32) -> Mlp {
    let dev = device();
    let mut weights = Vec::new();
    let mut biases = Vec::new();
    for l in 0..model.depth() {
        let (mut w, dims) = host_weights(model, l);
        let mut b = model.biases[l]
            .val()
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        if l == layer {
            if j < dims[0] {
                w[j * dims[1] + i] += eps;
            } else {
                b[i] += eps;
            }
        }
        weights.push(Param::from_tensor(Tensor::from_data(
            TensorData::new(w, dims),
            &dev,
        )));
        biases.push(Param::from_tensor(Tensor::from_data(
            TensorData::new(b, [dims[1]]),
            &dev,
        )));
    }
    Mlp {
        weights,
        biases,
        config: model.config.clone(),
    }
}

fn outputs(model: &Mlp, x: &Tensor<2>) -> Mat<f64> {
    ngd_optim::convert::tensor_to_mat(model.forward(x.clone()))
}

fn check_finite_differences(activation: Activation, outputs_dim: usize) {
    check_parameterization(activation, outputs_dim, Parameterization::Ntk);
}

fn check_parameterization(activation: Activation, outputs_dim: usize, p: Parameterization) {
    let (n, d) = (4, 6);
    let cfg = MlpConfig {
        widths: vec![d, 9, 8, outputs_dim],
        sigma_w2: 1.7,
        sigma_b2: 0.3,
        activation,
        parameterization: p,
    };
    let model = cfg.init(3, &device()).unwrap();
    let x = tensor_from_rows(&inputs(n, d), n, d, &device());
    let factors = model.factors(x.clone());
    let eps = 1e-2f32;
    let mut worst = 0.0f64;
    for layer in 0..cfg.depth() {
        let m_in = cfg.widths[layer];
        let m_out = cfg.widths[layer + 1];
        // a few weights and the bias of two units
        let picks = [
            (0, 0),
            (m_in / 2, m_out - 1),
            (m_in - 1, m_out / 2),
            (m_in, 0),
            (m_in, m_out - 1),
        ];
        for &(j, i) in &picks {
            let plus = outputs(&perturbed(&model, layer, j, i, eps), &x);
            let minus = outputs(&perturbed(&model, layer, j, i, -eps), &x);
            for c in 0..outputs_dim {
                for s in 0..n {
                    let fd = (plus[(s, c)] - minus[(s, c)]) / (2.0 * eps as f64);
                    let lf = &factors.layers[layer];
                    let analytic = lf.delta[(c * n + s, i)] * lf.input[(s, j)];
                    let err = (fd - analytic).abs() / (1e-2 + analytic.abs());
                    worst = worst.max(err);
                    assert!(
                        err < 2e-2,
                        "{activation:?} C={outputs_dim} layer {} w[{j},{i}] c={c} n={s}: fd {fd} vs factors {analytic}",
                        layer + 1
                    );
                }
            }
        }
    }
    eprintln!("{activation:?} C={outputs_dim}: worst relative error {worst:.2e}");
}

#[test]
fn factors_match_finite_differences_relu_one_output() {
    check_finite_differences(Activation::Relu, 1);
}

#[test]
fn factors_match_finite_differences_relu_three_outputs() {
    check_finite_differences(Activation::Relu, 3);
}

#[test]
fn factors_match_finite_differences_tanh_one_output() {
    check_finite_differences(Activation::Tanh, 1);
}

#[test]
fn factors_match_finite_differences_tanh_three_outputs() {
    check_finite_differences(Activation::Tanh, 3);
}

/// The standard parameterisation (u = hW + b, U(±1/√M) init): its factors are the
/// derivatives too, with h̃ = [h; 1].
#[test]
fn standard_parameterization_factors_match_finite_differences() {
    check_parameterization(Activation::Tanh, 3, Parameterization::Standard);
}

/// Explicit Jacobian rows from weight gradients: one backward of f_c(x_n) per (c, n).
fn explicit_layer_jacobians(model: &Mlp, x: &[f64], n: usize, d: usize) -> Vec<Mat<f64>> {
    let ad = device().autodiff();
    let c_out = model.config.outputs();
    let depth = model.depth();
    let mut rows: Vec<Vec<Vec<f64>>> = vec![Vec::new(); depth];
    for c in 0..c_out {
        for s in 0..n {
            let tracked = Mlp {
                weights: model
                    .weights
                    .iter()
                    .map(|w| Param::from_tensor(w.val().autodiff().require_grad()))
                    .collect(),
                biases: model
                    .biases
                    .iter()
                    .map(|b| Param::from_tensor(b.val().autodiff().require_grad()))
                    .collect(),
                config: model.config.clone(),
            };
            let xs = tensor_from_rows(&x[s * d..(s + 1) * d], 1, d, &ad);
            let f = forward_tracked(&tracked, xs);
            let grads = f.narrow(1, c, 1).sum().backward();
            for (l, layer_rows) in rows.iter_mut().enumerate().take(depth) {
                let gw = tracked.weights[l].val().grad(&grads).unwrap();
                let gb = tracked.biases[l].val().grad(&grads).unwrap();
                let mut row = Vec::new();
                // order (input j, output i) with the bias as input j = M_{l−1}
                let dims = gw.dims();
                let gw = gw.into_data().try_into_vec::<f32>().unwrap();
                let gb = gb.into_data().try_into_vec::<f32>().unwrap();
                for i in 0..dims[1] {
                    for j in 0..dims[0] {
                        row.push(gw[j * dims[1] + i] as f64);
                    }
                    row.push(gb[i] as f64);
                }
                layer_rows.push(row);
            }
        }
    }
    rows.into_iter()
        .map(|r| Mat::from_fn(r.len(), r[0].len(), |a, b| r[a][b]))
        .collect()
}

/// Forward pass that keeps the weights tracked (the library's forward drops autodiff).
fn forward_tracked(model: &Mlp, x: Tensor<2>) -> Tensor<2> {
    let cfg = &model.config;
    let mut h = x;
    for l in 1..=model.depth() {
        let u = h
            .matmul(model.weights[l - 1].val())
            .mul_scalar(cfg.weight_scale(l))
            + model.biases[l - 1]
                .val()
                .mul_scalar(cfg.bias_scale())
                .unsqueeze_dim(0);
        h = if l == model.depth() {
            u
        } else {
            cfg.activation.apply(u)
        };
    }
    h
}

#[test]
fn layer_grams_equal_explicit_jacobian_grams() {
    let (n, d) = (5, 4);
    for (activation, c_out) in [(Activation::Relu, 1), (Activation::Tanh, 2)] {
        let cfg = MlpConfig {
            widths: vec![d, 6, 5, c_out],
            sigma_w2: 2.0,
            sigma_b2: 0.5,
            activation,
            parameterization: Default::default(),
        };
        let model = cfg.init(7, &device()).unwrap();
        let x = inputs(n, d);
        let factors = model.factors(tensor_from_rows(&x, n, d, &device()));
        let jacobians = explicit_layer_jacobians(&model, &x, n, d);
        for (l, j) in jacobians.iter().enumerate() {
            let explicit = j * j.transpose();
            let from_factors = factors.layers[l].jacobian_gram();
            let scale = ngd_linalg::frobenius(explicit.as_ref());
            let diff = ngd_linalg::max_abs_diff(explicit.as_ref(), from_factors.as_ref());
            assert!(
                diff < 1e-5 * scale,
                "{activation:?} layer {}: max diff {diff} (scale {scale})",
                l + 1
            );
        }
        // and the empirical NTK is their sum / N
        let mut theta = Mat::<f64>::zeros(n * c_out, n * c_out);
        for j in &jacobians {
            theta += j * j.transpose();
        }
        let theta = theta * faer::Scale(1.0 / n as f64);
        let diff = ngd_linalg::max_abs_diff(theta.as_ref(), factors.ntk().as_ref());
        assert!(diff < 1e-5 * ngd_linalg::frobenius(theta.as_ref()));
    }
}

#[test]
fn invalid_networks_are_rejected() {
    let mut cfg = MlpConfig::new(4, 8, 1, 1);
    assert!(
        cfg.init(0, &device())
            .unwrap_err()
            .to_string()
            .contains("depth")
    );
    cfg = MlpConfig::new(4, 0, 3, 1);
    assert!(
        cfg.init(0, &device())
            .unwrap_err()
            .to_string()
            .contains("width")
    );
}

#[test]
fn initial_weights_depend_only_on_the_seed() {
    let cfg = MlpConfig::new(4, 8, 3, 1);
    let a = host_weights(&cfg.init(5, &device()).unwrap(), 1).0;
    let b = host_weights(&cfg.init(5, &device()).unwrap(), 1).0;
    let c = host_weights(&cfg.init(6, &device()).unwrap(), 1).0;
    assert_eq!(a, b);
    assert_ne!(a, c);
}

/// One output's factors are the c-th class-major block of all outputs' factors (same h̃ and
/// f(x)), exactly: the same probe pass computes both.
#[test]
fn factors_of_one_output_are_a_block_of_all_factors() {
    let (n, d, c_out) = (6, 4, 3);
    let cfg = MlpConfig {
        widths: vec![d, 8, 7, c_out],
        sigma_w2: 2.0,
        sigma_b2: 0.3,
        activation: Activation::Relu,
        parameterization: Default::default(),
    };
    let model = cfg.init(5, &device()).unwrap();
    let x = tensor_from_rows(&inputs(n, d), n, d, &device());
    let all = model.factors(x.clone());
    for c in 0..c_out {
        let one = model.factors_of_output(x.clone(), c);
        assert_eq!(one.outputs, all.outputs);
        for (a, o) in all.layers.iter().zip(&one.layers) {
            assert_eq!(o.input, a.input);
            assert_eq!(o.delta.nrows(), n);
            assert_eq!(o.delta.as_ref(), a.delta.as_ref().subrows(c * n, n));
        }
    }
}
