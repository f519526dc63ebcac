//! The optimizer's step through per-layer curvature blocks ([`crate::curvature`]; K-FAC and the
//! diagonal Fisher with state, MATH.md §8): one probed pass gives every layer's input h̃ and loss
//! signals Y = ∂(N·L)/∂u on the device; on statistics steps the Fisher's output roots X (sampled,
//! empirical or exact) feed the blocks' running averages, which are synced and, every T steps,
//! refreshed; each block then preconditions its layer's gradient.

use super::objective::{Objective, sampled_weights};
use super::{ConvFactors, Fisher, Ngd, PhaseTimes};
use crate::convert::{mat_to_tensor_dtype, split_bias, tensor_to_rows};
use crate::curvature::{BlockKind, BlockStatistics, LayerKind, LayerSignals, total};
use crate::im2col::{mean_patches, patch_rows, signal_rows, summed_signals};
use crate::model::{OutputWeights, tapped_pass, tapped_pass_with_conv_gradients};
use crate::tap::Recorded;
use crate::{FactoredModel, Factors, Loss, OptimError, OutputRoot, Result};
use burn::tensor::{FloatDType, Tensor};
use faer::Mat;
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

/// The planned update of one batch.
pub(crate) struct BlockStep {
    /// L(θ) on the batch (the step's one read).
    pub loss: f64,
    /// (ΔW_l, Δb_l) per layer.
    pub updates: Vec<(Tensor<2>, Tensor<1>)>,
    /// ∇LᵀΔθ (adaptive damping and KL clipping only).
    pub slope: Option<f64>,
    /// Every layer's batch signals, kept for adaptive damping's quadratic model (else empty).
    pub layers: Vec<LayerSignals>,
}

/// ⟨∇_{W̃}L, V⟩ of one layer: Σ (h̃V) ⊙ Y / N from the batch rows (no d_in × d_out gradient
/// formed), or the entry-wise product with a given gradient.
pub(super) fn gradient_dot(layer: &LayerSignals, v: &Tensor<2>, dtype: FloatDType) -> f64 {
    read_scalar(gradient_dot_on_device(layer, v, dtype))
}

/// [`gradient_dot`] left on the device: the sum in `dtype`, then in f64 (`[1]`).
fn gradient_dot_on_device(layer: &LayerSignals, v: &Tensor<2>, dtype: FloatDType) -> Tensor<1> {
    let v = v.clone().cast(dtype);
    let f64 = FloatDType::F64;
    match (&layer.rows, &layer.gradient) {
        (_, Some(grad)) => (v * grad.clone().cast(dtype)).sum().cast(f64),
        (Some((h, y)), None) => (h.clone().cast(dtype).matmul(v) * y.clone().cast(dtype))
            .sum()
            .cast(f64)
            .div_scalar(layer.samples as f64),
        (None, None) => unreachable!("a batch has rows or a gradient"),
    }
}

/// The one value of a `[1]` tensor, read to the host without rounding.
fn read_scalar(t: Tensor<1>) -> f64 {
    total(t.reshape([1, 1]))
}

/// H̃ = [h | s_b·1] (N × (M+1)) on the device.
fn with_bias(h: &Tensor<2>, bias_scale: f64) -> Tensor<2> {
    let [n, _] = h.dims();
    let column = Tensor::<2>::ones([n, 1], &h.device()).mul_scalar(bias_scale);
    Tensor::cat(vec![h.clone(), column], 1)
}

impl Ngd {
    /// Whether this step updates the blocks' statistics and whether it refreshes their inverses
    /// (every `kfac_stats_interval` and `kfac_inverse_interval` steps, at the first, and with
    /// every statistics update during the `inverse_warmup` steps).
    pub(super) fn block_schedule(&self) -> (bool, bool) {
        let (step, first) = (
            self.state.step,
            self.blocks.iter().all(|b| b.dims().is_none()),
        );
        let every = |interval: usize| first || step.is_multiple_of(interval as u64);
        let kfac = self.config.kfac_or_default();
        let stats = every(kfac.stats_interval);
        let warming = stats && step < kfac.inverse_warmup.unwrap_or(0) as u64;
        (stats, warming || every(kfac.inverse_interval))
    }

    /// One step through the blocks (see the module documentation).
    pub(super) fn block_step<M: FactoredModel>(
        &mut self,
        model: &mut M,
        x: Tensor<2>,
        targets: Tensor<2>,
        times: &mut PhaseTimes,
    ) -> Result<BlockStep> {
        let config = self.config.clone();
        let kfac = config.kfac_or_default();
        let dtype = config.block_precision.dtype();
        let step = self.state.step;
        let (stats_step, invert_step) = self.block_schedule();
        let t = Instant::now();
        let x = x.without_autodiff();
        let n = x.dims()[0];
        let k = kfac.stats_batch.map_or(n, |k| k.min(n));
        let targets = targets.without_autodiff();
        // Y_l = Σ_c g_c(n) δ_l^{(c)}(n), g = N∂L/∂f, with g and L computed on the device.
        let mut objective = None;
        let pass = tapped_pass_with_conv_gradients(model, x.clone(), |f| {
            let [rows, c_out] = f.dims();
            if targets.dims() != [rows, c_out] {
                let values = targets.dims().iter().product();
                objective = Some(Err(super::targets_mismatch(values, rows, c_out)));
                return OutputWeights::PerSample(Box::new(f.zeros_like()));
            }
            let o = Objective::new(config.loss, f, &targets, &x);
            let w = o.weights.clone();
            objective = Some(Ok(o));
            OutputWeights::PerSample(Box::new(w))
        });
        // The step's one read; a batch with non-finite values stops here, before any state.
        let objective = objective.expect("the pass asks for its output weights");
        let loss = objective?.read(step + 1)?;
        require_blocks(config.method.name(), &pass.kinds)?;
        let conv = pass.kinds.iter().any(|k| *k != LayerKind::Linear);
        if conv && kfac.fisher == Fisher::Exact && stats_step {
            return Err(OptimError::Invalid(format!(
                "{}'s exact Fisher builds its statistics from per-class factors of Linear layers; \
                 a convolutional network takes the sampled or the empirical Fisher",
                config.method
            )));
        }
        if self.blocks.is_empty() {
            let kind = config.block_kind().expect("a block method");
            self.blocks = pass
                .inputs
                .iter()
                .map(|_| kind.block(dtype, kfac.inverse_precision))
                .collect();
        }
        let layers: Vec<LayerSignals> = (0..pass.kinds.len())
            .map(|l| match (&pass.inputs[l], &pass.conv_gradients[l]) {
                (_, Some(gradient)) => {
                    LayerSignals::of_gradient(gradient.clone().div_scalar(n as f64), n)
                }
                (input, None) => LayerSignals::rows(
                    with_bias(&input.flat(), pass.bias_scales[l]),
                    pass.signals[l].flat(),
                ),
            })
            .collect();
        self.check_block_dims(&layers)?;
        // The Fisher's output roots of the first k samples: per-sample rows (Linear), the
        // signal images (Conv2d), or the exact Fisher's C·k class-major rows (Linear only).
        let roots: Option<Vec<Recorded>> = match (stats_step, kfac.fisher) {
            (false, _) => None,
            (true, Fisher::Empirical) => Some(pass.signals.iter().map(|s| s.first(k)).collect()),
            (true, Fisher::Sampled) => {
                let mut rng = label_rng(config.seed, step);
                let loss = config.loss;
                let sampled = tapped_pass(model, x.clone().narrow(0, 0, k), |f| {
                    OutputWeights::PerSample(Box::new(sampled_weights(loss, f, &mut rng)))
                });
                Some(sampled.signals)
            }
            (true, Fisher::Exact) => {
                let stats = model.factors(x.clone().narrow(0, 0, k));
                let y = tensor_to_rows(targets.clone().narrow(0, 0, k));
                let g = self.output_gradient(&stats.outputs, &y)?;
                let device = x.device();
                let roots = exact_roots(config.loss, &stats, &g);
                Some(
                    roots
                        .iter()
                        .map(|r| Recorded::Rows(mat_to_tensor_dtype(r.as_ref(), &device, dtype)))
                        .collect(),
                )
            }
        };
        times.forward_backward = t.elapsed().as_secs_f64();
        let t = Instant::now();
        if let Some(roots) = roots {
            for (l, (block, root)) in self.blocks.iter_mut().zip(&roots).enumerate() {
                let (kind, s_b) = (pass.kinds[l], pass.bias_scales[l]);
                // K-FAC-reduce is a Kronecker approximation; the diagonal block needs the
                // per-location rows of its per-sample gradients.
                let reduce =
                    kfac.conv == ConvFactors::Reduce && block.kind() == BlockKind::Kronecker;
                let (input, root) = match (&pass.inputs[l].first(k), root) {
                    (Recorded::Images(images), Recorded::Images(root)) if reduce => (
                        with_bias(&mean_patches(images.clone(), kind), s_b),
                        summed_signals(root.clone()),
                    ),
                    (Recorded::Images(images), Recorded::Images(root)) => (
                        with_bias(&patch_rows(images.clone(), kind), s_b),
                        signal_rows(root.clone()),
                    ),
                    // A Linear layer's h̃ = [h | s_b·1] is already in its batch rows.
                    (_, root) => match &layers[l].rows {
                        Some((h, _)) => (h.clone().narrow(0, 0, k), root.flat()),
                        None => unreachable!("a Linear layer's batch comes as rows"),
                    },
                };
                let (input, root) = (input.cast(dtype), root.cast(dtype));
                let batch = BlockStatistics {
                    input: &input,
                    root: &root,
                    samples: k,
                };
                block.update_statistics(batch, kfac.decay);
            }
            for (l, block) in self.blocks.iter_mut().enumerate() {
                block.sync(l, self.sync.as_mut());
            }
        }
        times.curvature = t.elapsed().as_secs_f64();
        let damping = config.damping.value;
        if invert_step {
            let t = Instant::now();
            for (l, block) in self.blocks.iter_mut().enumerate() {
                block.refresh(damping, l)?;
            }
            times.inversion = t.elapsed().as_secs_f64();
        }
        let t = Instant::now();
        let mut updates = Vec::with_capacity(layers.len());
        let need_slope = config.damping.adaptive || config.clipping.kl.is_some();
        // ∇LᵀΔθ summed over the layers on the device, in f64, and read once.
        let mut slope: Option<Tensor<1>> = None;
        for (block, layer) in self.blocks.iter().zip(&layers) {
            let step = block.precondition(layer, damping);
            if need_slope {
                let dot = gradient_dot_on_device(layer, &step, dtype);
                slope = Some(match slope {
                    Some(s) => s + dot,
                    None => dot,
                });
            }
            updates.push(split_bias(step.cast(x.dtype())));
        }
        times.curvature += t.elapsed().as_secs_f64();
        Ok(BlockStep {
            loss,
            updates,
            slope: slope.map(read_scalar),
            layers: if config.damping.adaptive {
                layers
            } else {
                Vec::new()
            },
        })
    }

    /// Refuses a batch whose layers do not match the blocks' statistics (another model, or a
    /// loaded state of another network).
    fn check_block_dims(&self, layers: &[LayerSignals]) -> Result<()> {
        if self.blocks.len() != layers.len() {
            return Err(OptimError::StateMismatch(format!(
                "the optimizer state has {} layers, the model {}",
                self.blocks.len(),
                layers.len()
            )));
        }
        for (l, (block, layer)) in self.blocks.iter().zip(layers).enumerate() {
            let want = layer.dims();
            if let Some(have) = block.dims()
                && have != want
            {
                return Err(OptimError::StateMismatch(format!(
                    "layer {}: the optimizer state holds factors of {} × {} (inputs with bias \
                     × outputs), the model's layer is {} × {}",
                    l + 1,
                    have.0,
                    have.1,
                    want.0,
                    want.1
                )));
            }
        }
        Ok(())
    }
}

/// Refuses layers the per-layer blocks cannot precondition (convolutions with dilation or
/// groups).
pub(crate) fn require_blocks(method: &'static str, kinds: &[LayerKind]) -> Result<()> {
    match kinds.iter().position(|k| !k.has_blocks()) {
        Some(l) => Err(OptimError::UnsupportedLayer {
            method,
            layer: l + 1,
            kind: Box::new(kinds[l]),
            note: "the curvature blocks take convolutions with dilation 1 and one group",
        }),
        None => Ok(()),
    }
}

/// Refuses layers the dual forms cannot precondition: every layer but `Linear`.
pub(crate) fn require_linear(method: &'static str, kinds: &[LayerKind]) -> Result<()> {
    match kinds.iter().position(|k| *k != LayerKind::Linear) {
        Some(l) => Err(OptimError::UnsupportedLayer {
            method,
            layer: l + 1,
            kind: Box::new(kinds[l]),
            note: "the dual forms take Linear layers only; K-FAC and the diagonal Fisher \
                   precondition convolutions through per-layer blocks (a sampled or empirical \
                   Fisher, and an explicit learning rate)",
        }),
        None => Ok(()),
    }
}

/// The output-side roots X_l of every layer (S = XᵀX/N) from per-class factors.
fn exact_roots(loss: Loss, factors: &Factors, g: &[f64]) -> Vec<Mat<f64>> {
    factors
        .layers
        .iter()
        .map(|l| OutputRoot::new(loss, &l.delta, &factors.outputs, g).x)
        .collect()
}

/// The generator of step `step`'s sampled labels ([`Fisher::Sampled`]): its own stream of the
/// seed, apart from the initial weights and the shuffles ([`crate::Stream`]).
pub(super) fn label_rng(seed: u64, step: u64) -> ChaCha8Rng {
    crate::Stream::Labels(step).rng(seed)
}
