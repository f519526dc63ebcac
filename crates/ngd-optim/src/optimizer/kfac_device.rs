//! K-FAC's step on the device (MATH.md §8) when the Fisher is sampled or empirical: the loss
//! signals Y_l and the layer inputs stay device tensors (f32), the statistics Â = H̃ᵀH̃/N and
//! Ŝ = XᵀX/N are formed there and only they go to the host (f64) for the running averages and
//! the damped inversions (every T steps), whose results come back as device tensors. The step
//! ΔW̃_l = (A_l + ρ_A)⁻¹ (H̃ᵀY/N) (S_l + ρ_B)⁻¹ is the same arithmetic as the host path
//! ([`super::kfac_state`]), in f32.

use super::kfac_state::{class_major_to_mat, label_rng, sampled_weights};
use super::{Fisher, Ngd, PhaseTimes};
use crate::convert::{mat_to_tensor, tensor_to_mat, tensor_to_rows};
use crate::model::{OutputWeights, tapped_pass};
use crate::{FactoredModel, Result};
use burn::tensor::Tensor;
use faer::Mat;
use std::time::Instant;

/// The device step of one batch.
pub(crate) struct DeviceStep {
    /// f(x), N × C.
    pub outputs: Mat<f64>,
    /// (ΔW_l, Δb_l) per layer.
    pub updates: Vec<(Tensor<2>, Tensor<1>)>,
    /// ∇LᵀΔθ (adaptive damping only).
    pub slope: Option<f64>,
}

/// H̃ = [h | s_b·1] (N × (M+1)) on the device.
fn with_bias(h: &Tensor<2>, bias_scale: f64) -> Tensor<2> {
    let [n, _] = h.dims();
    let column = Tensor::<2>::ones([n, 1], &h.device()).mul_scalar(bias_scale);
    Tensor::cat(vec![h.clone(), column], 1)
}

/// ZᵀZ/k as a host matrix.
fn gram(z: Tensor<2>, k: usize) -> Mat<f64> {
    let g = z.clone().transpose().matmul(z).div_scalar(k as f64);
    tensor_to_mat(g)
}

impl Ngd {
    /// K-FAC with state, on the device (see the module documentation).
    pub(super) fn kfac_device_step<M: FactoredModel>(
        &mut self,
        model: &mut M,
        x: Tensor<2>,
        y: &[f64],
        times: &mut PhaseTimes,
    ) -> Result<DeviceStep> {
        let config = self.config.clone();
        let step = self.state.step;
        let (stats_step, invert_step) = self.kfac_schedule();
        let t = Instant::now();
        let x = x.without_autodiff();
        let n = x.dims()[0];
        let k = config.kfac_stats_batch.map_or(n, |k| k.min(n));
        // Y_l = Σ_c g_c(n) δ_l^{(c)}(n), g = N∂L/∂f.
        let mut g = Ok(Vec::new());
        let pass = tapped_pass(model, x.clone(), |f| {
            g = self.output_gradient(f, y);
            let w = match &g {
                Ok(g) => class_major_to_mat(g, f.nrows(), f.ncols()),
                Err(_) => Mat::zeros(f.nrows(), f.ncols()),
            };
            OutputWeights::PerSample(w)
        });
        g?;
        let inputs: Vec<Tensor<2>> = pass
            .inputs
            .iter()
            .zip(&pass.bias_scales)
            .map(|(h, &s)| with_bias(h, s))
            .collect();
        let roots: Option<Vec<Tensor<2>>> = match (stats_step, config.fisher) {
            (false, _) => None,
            (true, Fisher::Empirical) => Some(
                pass.signals
                    .iter()
                    .map(|s| s.clone().narrow(0, 0, k))
                    .collect(),
            ),
            (true, _) => {
                let mut rng = label_rng(config.seed, step);
                let loss = config.loss;
                let sampled = tapped_pass(model, x.clone().narrow(0, 0, k), |f| {
                    OutputWeights::PerSample(sampled_weights(loss, f, &mut rng))
                });
                Some(sampled.signals)
            }
        };
        times.forward_backward = t.elapsed().as_secs_f64();
        let t = Instant::now();
        if let Some(roots) = roots {
            for (l, (h, x_root)) in inputs.iter().zip(roots).enumerate() {
                let a = gram(h.clone().narrow(0, 0, k), k);
                let s = gram(x_root, k);
                self.accumulate_kfac(l, a, s);
            }
        }
        times.curvature = t.elapsed().as_secs_f64();
        if invert_step {
            let t = Instant::now();
            self.invert_kfac()?;
            self.device_inverses.clear();
            times.inversion = t.elapsed().as_secs_f64();
        }
        let t = Instant::now();
        let device = x.device();
        if self.device_inverses.is_empty() {
            self.device_inverses = self
                .state
                .kfac
                .iter()
                .map(|k| {
                    (
                        mat_to_tensor(k.a_inv.as_ref(), &device),
                        mat_to_tensor(k.s_inv.as_ref(), &device),
                    )
                })
                .collect();
        }
        let mut updates = Vec::with_capacity(inputs.len());
        let mut slope = 0.0;
        for ((h, y_l), (a_inv, s_inv)) in
            inputs.iter().zip(&pass.signals).zip(&self.device_inverses)
        {
            let [_, d_in] = h.dims();
            let [_, d_out] = y_l.dims();
            let step = if n < d_in.min(d_out) {
                let u = h.clone().matmul(a_inv.clone());
                let v = y_l.clone().matmul(s_inv.clone());
                u.transpose().matmul(v).div_scalar(n as f64)
            } else {
                let grad = h
                    .clone()
                    .transpose()
                    .matmul(y_l.clone())
                    .div_scalar(n as f64);
                a_inv.clone().matmul(grad).matmul(s_inv.clone())
            };
            if config.adaptive_damping {
                let change = h.clone().matmul(step.clone()) * y_l.clone();
                slope += tensor_to_rows(change.sum().reshape([1, 1]))[0] / n as f64;
            }
            let dw = step.clone().narrow(0, 0, d_in - 1);
            let db = step.narrow(0, d_in - 1, 1).reshape([d_out]);
            updates.push((dw, db));
        }
        times.curvature += t.elapsed().as_secs_f64();
        Ok(DeviceStep {
            outputs: pass.outputs,
            updates,
            slope: config.adaptive_damping.then_some(slope),
        })
    }
}
