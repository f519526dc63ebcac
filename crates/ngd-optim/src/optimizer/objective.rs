//! The loss on the device, for the per-layer block route: the outputs f and the targets y stay
//! where the network runs; g = N∂L/∂f, L and the sampled Fisher's output weights are computed
//! there in f64 by the formulas of [`crate::Loss`] on the host (MATH.md §3), and the host reads
//! one small tensor a step: L with the finiteness of x, y and f.

use crate::{Loss, OptimError, Result};
use burn::tensor::{DType, Tensor, TensorCreationOptions, TensorData};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

const F64: DType = DType::F64;

/// One batch's objective on the device: L (f64, `[1]`), the backward's output weights g = N∂L/∂f
/// (N × C, in f's dtype) and whether x, y and f are finite; read with [`Objective::read`].
pub(crate) struct Objective {
    /// g = N∂L/∂f, N × C, in f's dtype (f64 arithmetic rounded once).
    pub weights: Tensor<2>,
    /// [L, x finite, y finite, f finite] in f64, read once.
    checks: Tensor<1>,
}

impl Objective {
    /// The objective of outputs f (N × C) at targets y (N × C) for inputs x.
    pub fn new(loss: Loss, f: &Tensor<2>, y: &Tensor<2>, x: &Tensor<2>) -> Self {
        let finite = |t: &Tensor<2>| t.clone().is_finite().all().float().cast(F64);
        let value = value(loss, f, y);
        let checks = Tensor::cat(vec![value, finite(x), finite(y), finite(f)], 0);
        Self {
            weights: output_gradient(loss, f, y).cast(f.dtype()),
            checks,
        }
    }

    /// L, after one read; non-finite targets, inputs or outputs are refused (in that order).
    pub fn read(self, step: u64) -> Result<f64> {
        let v = self
            .checks
            .into_data()
            .convert::<f64>()
            .try_into_vec::<f64>()
            .expect("float tensor data");
        for (flag, what) in [
            (v[2], "targets"),
            (v[1], "inputs"),
            (v[3], "network outputs"),
        ] {
            if flag != 1.0 {
                return Err(OptimError::NonFinite { step, what });
            }
        }
        Ok(v[0])
    }
}

/// p = softmax(f) row by row (σ(f) for one output), in f64.
fn probabilities(f: &Tensor<2>) -> Tensor<2> {
    let f = f.clone().cast(F64);
    if f.dims()[1] == 1 {
        return f.neg().exp().add_scalar(1.0).recip();
    }
    let e = (f.clone() - f.max_dim(1)).exp();
    let sum = e.clone().sum_dim(1);
    e / sum
}

/// The likelihood's targets in f64: y for one-hot, y + ½ ∈ {0, 1} for one output with ±½.
fn likelihood_targets(y: &Tensor<2>) -> Tensor<2> {
    let y = y.clone().cast(F64);
    if y.dims()[1] == 1 {
        y.add_scalar(0.5)
    } else {
        y
    }
}

/// g = N∂L/∂f (N × C, f64): f − y for MSE, p − y for cross-entropy.
pub(crate) fn output_gradient(loss: Loss, f: &Tensor<2>, y: &Tensor<2>) -> Tensor<2> {
    match loss {
        Loss::Mse => f.clone().cast(F64) - y.clone().cast(F64),
        Loss::CrossEntropy => probabilities(f) - likelihood_targets(y),
    }
}

/// L(θ) in f64 (`[1]`): (1/2N) Σ‖f − y‖², or −(1/N) Σ log p(y|x) computed stably.
pub(crate) fn value(loss: Loss, f: &Tensor<2>, y: &Tensor<2>) -> Tensor<1> {
    let n = f.dims()[0].max(1) as f64;
    let (f, t) = (f.clone().cast(F64), y.clone().cast(F64));
    let per_entry = match loss {
        Loss::Mse => (f - t).square().mul_scalar(0.5),
        Loss::CrossEntropy if f.dims()[1] == 1 => {
            let t = t.add_scalar(0.5);
            // max(f, 0) − f·y + log(1 + e^{−|f|})
            f.clone().clamp_min(0.0) - f.clone() * t + f.abs().neg().exp().log1p()
        }
        Loss::CrossEntropy => {
            let max = f.clone().max_dim(1);
            let log_sum = (f.clone() - max.clone()).exp().sum_dim(1).log() + max;
            (f - log_sum) * t.neg()
        }
    };
    per_entry.sum().div_scalar(n)
}

/// The sampled Fisher's output weights (N × C, in f's dtype): p_n − e_ŷ with ŷ ~ p(y|x_n)
/// (softmax; one output: Bernoulli σ(f) on {0, 1}), or ε ~ N(0, I) for MSE (whose Fisher is
/// exact). The draws come from `rng` on the host, in the order of the host's sampler: C normals
/// a sample for MSE, else one uniform u a sample, with ŷ the first class whose cumulative
/// probability exceeds u (the last if none does).
pub(crate) fn sampled_weights(loss: Loss, f: &Tensor<2>, rng: &mut ChaCha8Rng) -> Tensor<2> {
    let [n, c_out] = f.dims();
    let device = f.device();
    let upload = |v: Vec<f64>, shape: [usize; 2]| {
        Tensor::<2>::from_data(
            TensorData::new(v, shape),
            TensorCreationOptions::new(device.clone()).with_dtype(F64),
        )
    };
    if loss == Loss::Mse {
        let z = (0..n * c_out)
            .map(|_| rand_distr::Distribution::sample(&rand_distr::StandardNormal, rng))
            .collect();
        return upload(z, [n, c_out]).cast(f.dtype());
    }
    let u = upload((0..n).map(|_| rng.random::<f64>()).collect(), [n, 1]);
    let p = probabilities(f);
    // below[c] = 1 where the cumulative probability up to c is ≤ u: 1…1 0…0 along a row.
    let below = p
        .clone()
        .cumsum(1)
        .lower_equal(u.expand([n, c_out]))
        .float()
        .cast(F64);
    let label = if c_out == 1 {
        // ŷ = 1 where u < σ(f).
        below.ones_like() - below
    } else {
        // e_ŷ: 1 at the first 0 of `below` (at c = C − 1 when the row has none).
        let ones = Tensor::<2>::ones(
            [n, 1],
            TensorCreationOptions::new(device.clone()).with_dtype(F64),
        );
        let zeros = Tensor::<2>::zeros(
            [n, 1],
            TensorCreationOptions::new(device.clone()).with_dtype(F64),
        );
        let head = below.narrow(1, 0, c_out - 1);
        Tensor::cat(vec![ones, head.clone()], 1) - Tensor::cat(vec![head, zeros], 1)
    };
    (p - label).cast(f.dtype())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::tensor_from_rows;
    use burn::tensor::Device;
    use faer::Mat;
    use ngd_core::testing::targets;

    /// Outputs (N × C) with moderate and large logits (p near 0 and 1), row-major.
    fn outputs(n: usize, c: usize) -> Vec<f64> {
        (0..n * c)
            .map(|k| ((k * 7 + 3) as f64 * 0.77).sin() * if k % 5 == 0 { 30.0 } else { 2.0 })
            .collect()
    }

    fn f32_rows(t: Tensor<2>) -> Vec<f32> {
        t.into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap()
    }

    /// The host's sampler as it was before the step moved to the device: the reference.
    fn host_sampled(loss: Loss, f: &Mat<f64>, rng: &mut ChaCha8Rng) -> Vec<f32> {
        let (n, c_out) = (f.nrows(), f.ncols());
        let mut w = vec![0.0f32; n * c_out];
        for i in 0..n {
            if loss == Loss::Mse {
                for c in 0..c_out {
                    let z: f64 = rand_distr::Distribution::sample(&rand_distr::StandardNormal, rng);
                    w[i * c_out + c] = z as f32;
                }
                continue;
            }
            let p = ngd_core::loss::probabilities_of(f, i);
            let u: f64 = rng.random();
            if c_out == 1 {
                w[i] = (p[0] - if u < p[0] { 1.0 } else { 0.0 }) as f32;
                continue;
            }
            let (mut acc, mut label) = (0.0, c_out - 1);
            for (c, pc) in p.iter().enumerate() {
                acc += pc;
                if u < acc {
                    label = c;
                    break;
                }
            }
            for c in 0..c_out {
                w[i * c_out + c] = (p[c] - if c == label { 1.0 } else { 0.0 }) as f32;
            }
        }
        w
    }

    /// g and L on the device equal the host's `Loss::output_gradient` and `Loss::value`: g to
    /// the last bit once rounded to f32 (the backward's weights), L to 1e-14.
    #[test]
    fn device_gradient_and_loss_are_the_host_formulas() {
        let device = Device::default();
        for (loss, c) in [
            (Loss::CrossEntropy, 4),
            (Loss::CrossEntropy, 1),
            (Loss::Mse, 3),
        ] {
            let n = 7;
            let (f, y) = (outputs(n, c), targets(n, c));
            let f32_f: Vec<f64> = f.iter().map(|&v| v as f32 as f64).collect();
            let host_f = Mat::from_fn(n, c, |i, j| f32_f[i * c + j]);
            let want_g = loss.output_gradient(&host_f, &y);
            let want_l = loss.value(&f32_f, &y, c);
            let (ft, yt) = (
                tensor_from_rows(&f, n, c, &device),
                tensor_from_rows(&y, n, c, &device),
            );
            let got_g = f32_rows(output_gradient(loss, &ft, &yt).cast(ft.dtype()));
            for i in 0..n {
                for j in 0..c {
                    assert_eq!(got_g[i * c + j], want_g[j * n + i] as f32, "{loss} C = {c}");
                }
            }
            let got_l = crate::curvature::total(value(loss, &ft, &yt).reshape([1, 1]));
            let read = Objective::new(loss, &ft, &yt, &ft).read(1).unwrap();
            assert_eq!(read, got_l, "the one read is L");
            assert!(
                (got_l - want_l).abs() <= 1e-14 * want_l.abs(),
                "{loss} C = {c}: {got_l} vs {want_l}"
            );
        }
    }

    /// The device's sampled-Fisher weights equal the host sampler's, draw for draw, for
    /// softmax, one logistic output and MSE.
    #[test]
    fn device_sampled_weights_are_the_host_sampler() {
        let device = Device::default();
        for (loss, c) in [
            (Loss::CrossEntropy, 10),
            (Loss::CrossEntropy, 1),
            (Loss::Mse, 3),
        ] {
            let n = 64;
            let f = outputs(n, c);
            let ft = tensor_from_rows(&f, n, c, &device);
            let host_f = crate::convert::tensor_to_mat(ft.clone());
            let want = host_sampled(loss, &host_f, &mut crate::Stream::Labels(3).rng(9));
            let got = sampled_weights(loss, &ft, &mut crate::Stream::Labels(3).rng(9));
            assert_eq!(f32_rows(got), want, "{loss} C = {c}");
        }
    }

    /// The one read refuses non-finite targets, inputs and outputs, in that order.
    #[test]
    fn read_refuses_non_finite_batches_in_order() {
        let device = Device::default();
        let (n, c) = (3, 2);
        let ok = tensor_from_rows(&targets(n, c), n, c, &device);
        let nan = tensor_from_rows(&[f64::NAN; 6], n, c, &device);
        let what = |f: &Tensor<2>, y: &Tensor<2>, x: &Tensor<2>| match Objective::new(
            Loss::CrossEntropy,
            f,
            y,
            x,
        )
        .read(4)
        {
            Err(OptimError::NonFinite { step: 4, what }) => what,
            other => panic!("{:?}", other.map(|_| ())),
        };
        assert_eq!(what(&nan, &nan, &nan), "targets");
        assert_eq!(what(&nan, &ok, &nan), "inputs");
        assert_eq!(what(&nan, &ok, &ok), "network outputs");
        let loss = Objective::new(Loss::CrossEntropy, &ok, &ok, &ok).read(4);
        assert!(loss.unwrap().is_finite());
    }
}
