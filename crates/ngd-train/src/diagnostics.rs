//! Per-step diagnostics of a training run (`TrainConfig::diagnostics`).

use crate::{DeviceSplit, GateFlips, StepRecord};
use ngd_data::Split;
use ngd_model::{Mlp, Tensor};
use ngd_optim::{DualView, Loss};

/// What a diagnosed step measured before the evaluation of θ_t.
pub(crate) struct Diagnosis {
    /// ‖ηΔθ_l‖_F/‖W_l‖_F per layer.
    relative: Vec<f64>,
    /// The dual solve's null component (layer-wise methods).
    null: Option<f64>,
    /// L(f_{t−1} − ηJΔθ).
    linearised: f64,
}

/// Per-step diagnostics of a run (`TrainConfig::diagnostics`): step sizes, the dual solve's
/// null component, the first-order prediction of each step and, for ReLU, the gates it
/// switches and the loss with the gates frozen at initialisation.
pub(crate) struct Diagnostics {
    /// ReLU gates at initialisation and after the previous step (ReLU only).
    gates: Option<(Vec<Tensor<2>>, Vec<Tensor<2>>)>,
    /// The training loss.
    loss: Loss,
}

impl Diagnostics {
    pub(crate) fn new(model: &Mlp, train: &DeviceSplit, relu: bool, loss: Loss) -> Self {
        let gates = relu.then(|| {
            let g = model.relu_gates(train.x.clone());
            (g.clone(), g)
        });
        Self { gates, loss }
    }

    /// Measures a dual-form step before its update ([`ngd_optim::Ngd::step_observed`]):
    /// ‖ηΔθ_l‖_F/‖W_l‖_F per layer (W_l before the step; ‖Δθ_l‖²_F = tr(Rᵀh̃h̃ᵀR) for dual
    /// coefficients R), the dual solve's null component and the loss of f − ηJΔθ.
    pub(crate) fn observe(&self, model: &Mlp, view: &DualView<'_>, train: &Split) -> Diagnosis {
        let (factors, direction, lr) = (view.factors, view.direction, view.lr);
        let relative = direction
            .layers
            .iter()
            .enumerate()
            .map(|(l, step)| {
                let norm2 = match step {
                    ngd_optim::LayerStep::Coefficients(r) => {
                        let hr = factors.layers[l].input_gram() * r;
                        (0..r.nrows())
                            .flat_map(|i| (0..r.ncols()).map(move |j| (i, j)))
                            .map(|(i, j)| hr[(i, j)] * r[(i, j)])
                            .sum::<f64>()
                    }
                    ngd_optim::LayerStep::Dense(s) => s.squared_norm_l2(),
                };
                let w = ngd_optim::convert::tensor_to_mat(model.weights[l].val());
                lr * norm2.max(0.0).sqrt() / w.norm_l2()
            })
            .collect();
        // J Δθ is class-major (c·N + n); the outputs are row-major N × C.
        let jd = ngd_optim::function_step(factors, direction);
        let (n, c_out) = (factors.samples(), factors.outputs_dim());
        let linear: Vec<f64> = (0..n * c_out)
            .map(|k| factors.outputs[(k / c_out, k % c_out)] - lr * jd[(k % c_out) * n + k / c_out])
            .collect();
        Diagnosis {
            relative,
            null: view.dual.map(|d| d.null_component),
            linearised: self.loss.value(&linear, &train.y, c_out),
        }
    }

    /// Fills the diagnostic fields of θ_t's record: those of `diagnosis`, and for ReLU the
    /// gates switched since θ_{t−1} and the loss with the gates of θ_0.
    pub(crate) fn finish(
        &mut self,
        rec: &mut StepRecord,
        diagnosis: Diagnosis,
        model: &Mlp,
        train: &DeviceSplit,
    ) {
        rec.relative_step = Some(diagnosis.relative);
        rec.null_component = diagnosis.null;
        rec.linearised_loss = Some(diagnosis.linearised);
        let Some((initial, previous)) = self.gates.as_mut() else {
            return;
        };
        let now = model.relu_gates(train.x.clone());
        let fraction = |t: Tensor<2>| {
            let total = t.dims().iter().product::<usize>() as f64;
            f64::from(t.sum().into_scalar::<f32>()) / total
        };
        rec.gate_flips = Some(
            now.iter()
                .zip(previous.iter())
                .map(|(m, p)| GateFlips {
                    on: fraction((m.clone() - p.clone()).clamp_min(0.0)),
                    off: fraction((p.clone() - m.clone()).clamp_min(0.0)),
                })
                .collect(),
        );
        let frozen =
            ngd_optim::convert::tensor_to_rows(model.forward_gated(train.x.clone(), initial));
        let split = train.split;
        rec.frozen_gate_loss = Some(self.loss.value(&frozen, &split.y, split.outputs()));
        *previous = now;
    }
}
