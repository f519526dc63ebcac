//! `Mlp::relu_gates` and `Mlp::forward_gated` against an independent f64 forward pass on the
//! host: the gated network with its own gates is f(x); with the gates of other weights it is
//! h_l = m_l ⊙ u_l, multilinear in the weights.

use faer::Mat;
use ngd_model::{Activation, Device, Mlp, MlpConfig};
use ngd_optim::convert::{tensor_from_rows, tensor_to_mat};

/// N deterministic inputs of dimension d.
fn inputs(n: usize, d: usize) -> Vec<f64> {
    (0..n * d)
        .map(|k| ((k * 37 + 11) % 23) as f64 / 23.0 - 0.45)
        .collect()
}

/// f(x) in f64 from the model's weights, h_l = `hidden(l, u_l)`; also returns every u_l.
fn host_forward(
    model: &Mlp,
    x: &Mat<f64>,
    hidden: impl Fn(usize, usize, usize, f64) -> f64,
) -> (Mat<f64>, Vec<Mat<f64>>) {
    let sigma_b = model.config.bias_scale();
    let mut h = x.clone();
    let mut pre = Vec::new();
    for l in 1..=model.depth() {
        let w = tensor_to_mat(model.weights[l - 1].val());
        let b: Vec<f32> = model.biases[l - 1]
            .val()
            .into_data()
            .try_into_vec()
            .unwrap();
        let scale = model.config.weight_scale(l);
        let mut u = &h * &w * faer::Scale(scale);
        for n in 0..u.nrows() {
            for i in 0..u.ncols() {
                u[(n, i)] += sigma_b * b[i] as f64;
            }
        }
        h = if l == model.depth() {
            u.clone()
        } else {
            Mat::from_fn(u.nrows(), u.ncols(), |n, i| hidden(l, n, i, u[(n, i)]))
        };
        pre.push(u);
    }
    (h, pre)
}

fn max_abs_diff(a: &Mat<f64>, b: &Mat<f64>) -> f64 {
    (a - b).norm_max()
}

#[test]
fn gated_forward_matches_the_network_and_a_frozen_pattern() {
    let device = Device::default();
    let (n, d) = (7, 5);
    let cfg = MlpConfig::new(d, 16, 3, 2)
        .with_variances(2.0, 0.1)
        .with_activation(Activation::Relu);
    let a = cfg.init(1, &device).unwrap();
    let b = cfg.init(2, &device).unwrap();
    let rows = inputs(n, d);
    let xh = Mat::from_fn(n, d, |i, j| rows[i * d + j]);
    let x = tensor_from_rows(&rows, n, d, &device);

    // Own gates: the network itself, exactly.
    let gates_a = a.relu_gates(x.clone());
    assert_eq!(gates_a.len(), 2);
    let f = tensor_to_mat(a.forward(x.clone()));
    let gated = tensor_to_mat(a.forward_gated(x.clone(), &gates_a));
    assert_eq!(max_abs_diff(&f, &gated), 0.0);

    // Gates are 1[u_l > 0] of the host pre-activations.
    let (f_host, pre_a) = host_forward(&a, &xh, |_, _, _, u| u.max(0.0));
    assert!(max_abs_diff(&f, &f_host) < 1e-5 * f_host.norm_max().max(1.0));
    let mut gate_host = Vec::new();
    for (l, g) in gates_a.iter().enumerate() {
        let g = tensor_to_mat(g.clone());
        let want = Mat::from_fn(n, 16, |r, i| f64::from(pre_a[l][(r, i)] > 0.0));
        assert_eq!(max_abs_diff(&g, &want), 0.0, "layer {}", l + 1);
        gate_host.push(want);
    }

    // b's weights with a's pattern: h_l = 1[u_l(a) > 0] ⊙ u_l(b), which differs from f_b.
    let frozen = tensor_to_mat(b.forward_gated(x.clone(), &gates_a));
    let (want, _) = host_forward(&b, &xh, |l, r, i, u| gate_host[l - 1][(r, i)] * u);
    assert!(max_abs_diff(&frozen, &want) < 1e-5 * want.norm_max().max(1.0));
    let f_b = tensor_to_mat(b.forward(x));
    assert!(
        max_abs_diff(&frozen, &f_b) > 1e-3,
        "patterns of two seeds differ"
    );
}
