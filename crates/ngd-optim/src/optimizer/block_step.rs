//! The optimizer's step through per-layer curvature blocks ([`crate::curvature`]; K-FAC and the
//! diagonal Fisher with state, MATH.md §8): one probed pass gives every layer's input h̃ and loss
//! signals Y = ∂(N·L)/∂u on the device; on statistics steps the Fisher's output roots X (sampled,
//! empirical or exact) feed the blocks' running averages, which are synced and, every T steps,
//! refreshed; each block then preconditions its layer's gradient.

use super::{ConvFactors, Fisher, Ngd, PhaseTimes};
use crate::convert::{mat_to_tensor_dtype, split_bias};
use crate::curvature::{BlockKind, BlockStatistics, LayerKind, LayerSignals, total};
use crate::im2col::{mean_patches, patch_rows, signal_rows, summed_signals};
use crate::model::{OutputWeights, tapped_pass, tapped_pass_with_conv_gradients};
use crate::tap::Recorded;
use crate::{FactoredModel, Factors, Loss, OptimError, OutputRoot, Result};
use burn::tensor::{FloatDType, Tensor};
use faer::Mat;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

/// The planned update of one batch.
pub(crate) struct BlockStep {
    /// f(x), N × C.
    pub outputs: Mat<f64>,
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
    let v = v.clone().cast(dtype);
    match (&layer.rows, &layer.gradient) {
        (_, Some(grad)) => total(v * grad.clone().cast(dtype)),
        (Some((h, y)), None) => {
            total(h.clone().cast(dtype).matmul(v) * y.clone().cast(dtype)) / layer.samples as f64
        }
        (None, None) => unreachable!("a batch has rows or a gradient"),
    }
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
        y: &[f64],
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
        // Y_l = Σ_c g_c(n) δ_l^{(c)}(n), g = N∂L/∂f.
        let mut g = Ok(Vec::new());
        let pass = tapped_pass_with_conv_gradients(model, x.clone(), |f| {
            g = self.output_gradient(f, y);
            let w = match &g {
                Ok(g) => class_major_to_mat(g, f.nrows(), f.ncols()),
                Err(_) => Mat::zeros(f.nrows(), f.ncols()),
            };
            OutputWeights::PerSample(w)
        });
        g?;
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
                    OutputWeights::PerSample(sampled_weights(loss, f, &mut rng))
                });
                Some(sampled.signals)
            }
            (true, Fisher::Exact) => {
                let stats = model.factors(x.clone().narrow(0, 0, k));
                let c_out = stats.outputs_dim();
                let g = self.output_gradient(&stats.outputs, &y[..k * c_out])?;
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
        let mut slope = 0.0;
        for (block, layer) in self.blocks.iter().zip(&layers) {
            let step = block.precondition(layer, damping);
            if need_slope {
                slope += gradient_dot(layer, &step, dtype);
            }
            updates.push(split_bias(step.cast(x.dtype())));
        }
        times.curvature += t.elapsed().as_secs_f64();
        Ok(BlockStep {
            outputs: pass.outputs,
            updates,
            slope: need_slope.then_some(slope),
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

/// Output weights p_n − e_ŷ with ŷ ~ p(y|x_n) (softmax; C = 1: Bernoulli σ(f) on {0, 1});
/// for MSE the Fisher is exact and sampling ŷ ~ N(f, I) gives weights ε ~ N(0, I).
pub(super) fn sampled_weights(loss: Loss, f: &Mat<f64>, rng: &mut ChaCha8Rng) -> Mat<f64> {
    let (n, c_out) = (f.nrows(), f.ncols());
    let mut w = Mat::zeros(n, c_out);
    for i in 0..n {
        if loss == Loss::Mse {
            for c in 0..c_out {
                let z: f64 = rand_distr::Distribution::sample(&rand_distr::StandardNormal, rng);
                w[(i, c)] = z;
            }
            continue;
        }
        let p = crate::loss::probabilities_of(f, i);
        let u: f64 = rng.random();
        if c_out == 1 {
            w[(i, 0)] = p[0] - if u < p[0] { 1.0 } else { 0.0 };
            continue;
        }
        let mut acc = 0.0;
        let mut label = c_out - 1;
        for (c, pc) in p.iter().enumerate() {
            acc += pc;
            if u < acc {
                label = c;
                break;
            }
        }
        for c in 0..c_out {
            w[(i, c)] = p[c] - if c == label { 1.0 } else { 0.0 };
        }
    }
    w
}

/// The generator of step `step`'s sampled labels ([`Fisher::Sampled`]): its own stream of the
/// seed, apart from the initial weights and the shuffles ([`crate::Stream`]).
pub(super) fn label_rng(seed: u64, step: u64) -> ChaCha8Rng {
    crate::Stream::Labels(step).rng(seed)
}

/// A class-major vector (v[c·N + n]) as an N × C matrix.
pub(super) fn class_major_to_mat(v: &[f64], n: usize, c_out: usize) -> Mat<f64> {
    Mat::from_fn(n, c_out, |i, c| v[c * n + i])
}
