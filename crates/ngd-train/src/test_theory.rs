//! Theory columns on the test set (MATH.md §4, eq. 10): f_t(x') predicted from the empirical
//! (finite-width) layer kernels of the run's own network at initialisation, with f_0 of that
//! network, through `ngd_kernels::FunctionSpace`. Also the chunked factor computation and the
//! empirical-kernel helper shared with `ngd predict --kernel empirical`.

use faer::Mat;
use ngd_data::Split;
use ngd_kernels::{
    FactorRef, FunctionSpace, KernelError, KernelSet, LayerKernels, Predictor,
    empirical_layer_kernels,
};
use ngd_model::{Device, Mlp};
use ngd_optim::LayerFactors;
use ngd_optim::Method;
use ngd_optim::convert::tensor_from_rows;

/// Jacobian factors of every layer at all samples of a split, computed `chunk` samples at a
/// time (bounds the autodiff memory), with the outputs f(x).
pub struct SplitFactors {
    /// Layers l = 1..L: h̃_{l−1} (n × (M_{l−1}+1)) and δ_l (class-major, C·n × M_l).
    pub layers: Vec<LayerFactors>,
    /// f(x): n × C.
    pub outputs: Mat<f64>,
}

impl SplitFactors {
    /// Borrowed per-layer factors for [`empirical_layer_kernels`].
    pub fn refs(&self) -> Vec<FactorRef<'_>> {
        factor_refs(&self.layers)
    }
}

/// Borrowed per-layer factors for [`empirical_layer_kernels`].
pub fn factor_refs(layers: &[LayerFactors]) -> Vec<FactorRef<'_>> {
    layers
        .iter()
        .map(|l| FactorRef {
            input: l.input.as_ref(),
            delta: l.delta.as_ref(),
        })
        .collect()
}

/// The rows of `split` uploaded `chunk` at a time: (first row, rows, N_chunk × M_0 tensor).
pub fn row_chunks<'a>(
    split: &'a Split,
    chunk: usize,
    device: &'a Device,
) -> impl Iterator<Item = (usize, usize, ngd_model::Tensor<2>)> + 'a {
    let (n, dim) = (split.n, split.dim);
    let chunk = chunk.max(1);
    (0..n).step_by(chunk).map(move |start| {
        let len = chunk.min(n - start);
        let x = tensor_from_rows(&split.x[start * dim..(start + len) * dim], len, dim, device);
        (start, len, x)
    })
}

/// `model.factors` on the rows of `split`, `chunk` samples at a time, stitched together
/// (δ stays class-major over the whole split). Each chunk is copied into place as soon as it
/// is computed, so the peak is the result plus one chunk ([`split_factor_bytes`]).
pub fn split_factors(model: &Mlp, split: &Split, chunk: usize, device: &Device) -> SplitFactors {
    let blocks = model.config.outputs();
    stitch_chunks(model, split, chunk, device, blocks, |x| model.factors(x))
}

/// [`split_factors`] for output c alone: δ_l^{(c)} is n × M_l (`Mlp::factors_of_output`).
pub fn split_factors_of_output(
    model: &Mlp,
    split: &Split,
    chunk: usize,
    device: &Device,
    c: usize,
) -> SplitFactors {
    stitch_chunks(model, split, chunk, device, 1, |x| {
        model.factors_of_output(x, c)
    })
}

/// `factors` on each chunk of rows, copied into factors of the whole split with `blocks` δ
/// blocks (class-major).
fn stitch_chunks(
    model: &Mlp,
    split: &Split,
    chunk: usize,
    device: &Device,
    blocks: usize,
    factors: impl Fn(ngd_model::Tensor<2>) -> ngd_optim::Factors,
) -> SplitFactors {
    let n = split.n;
    let mut stitched: Option<SplitFactors> = None;
    for (start, len, x) in row_chunks(split, chunk, device) {
        let f = factors(x);
        if len == n {
            return SplitFactors {
                layers: f.layers,
                outputs: f.outputs,
            };
        }
        let dst = stitched.get_or_insert_with(|| zeroed(&model.config.widths, n, blocks));
        copy_chunk(dst, &f, start, len, n, blocks);
    }
    stitched.unwrap_or_else(|| zeroed(&model.config.widths, n, blocks))
}

/// Zero factors for `n` samples of a network with widths M_0, …, M_L (M_L = C) and `blocks`
/// δ blocks.
fn zeroed(widths: &[usize], n: usize, blocks: usize) -> SplitFactors {
    SplitFactors {
        layers: widths
            .windows(2)
            .map(|w| LayerFactors {
                input: Mat::zeros(n, w[0] + 1),
                delta: Mat::zeros(blocks * n, w[1]),
            })
            .collect(),
        outputs: Mat::zeros(n, *widths.last().expect("at least one layer")),
    }
}

/// Copies the chunk `f` (samples start..start+len) into `dst` (n samples, `blocks` δ blocks).
fn copy_chunk(
    dst: &mut SplitFactors,
    f: &ngd_optim::Factors,
    start: usize,
    len: usize,
    n: usize,
    blocks: usize,
) {
    dst.outputs
        .as_mut()
        .subrows_mut(start, len)
        .copy_from(f.outputs.as_ref());
    for (d, src) in dst.layers.iter_mut().zip(&f.layers) {
        d.input
            .as_mut()
            .subrows_mut(start, len)
            .copy_from(src.input.as_ref());
        for c in 0..blocks {
            d.delta
                .as_mut()
                .subrows_mut(c * n + start, len)
                .copy_from(src.delta.as_ref().subrows(c * len, len));
        }
    }
}

/// Bytes of split factors for `n` samples of a network with widths M_0, …, M_L, with `blocks`
/// δ blocks (C for [`split_factors`], 1 for [`split_factors_of_output`]):
/// Σ_l n(M_{l−1}+1) for h̃_{l−1} plus blocks·n·M_l for δ_l, in f64.
pub fn split_factor_bytes(n: usize, widths: &[usize], blocks: usize) -> u64 {
    let (n, blocks) = (n as u64, blocks as u64);
    let per_layer = widths
        .windows(2)
        .map(|w| n * (w[0] as u64 + 1) + blocks * n * w[1] as u64);
    8 * per_layer.sum::<u64>()
}

/// Empirical (train N×N, test N'×N) layer kernels of the families in `set`.
pub fn empirical_kernels(
    set: KernelSet,
    train: &[LayerFactors],
    test: &[LayerFactors],
    outputs: usize,
    sigma_w2: f64,
    sigma_b2: f64,
) -> Result<(LayerKernels, LayerKernels), KernelError> {
    let tr = factor_refs(train);
    let te = factor_refs(test);
    let k_train = empirical_layer_kernels(set, &tr, &tr, outputs, sigma_w2, sigma_b2)?;
    let k_test = empirical_layer_kernels(set, &te, &tr, outputs, sigma_w2, sigma_b2)?;
    Ok((k_train, k_test))
}

/// Empirical layer kernels (train N×N, test N'×N) and f_0 (train, test) of `model`, computed
/// one output at a time so that only one class's δ^{(c)} is held (C× less memory than
/// [`empirical_kernels`] on [`split_factors`]): B_l = (1/C) Σ_c δ_l^{(c)}·δ_l^{(c)} is
/// accumulated over classes, A_l comes from the first pass, and Θ_l = B_l ⊙ Q_l with
/// Q_l = σ_w²A_{l−1} + σ_b² is formed at the end (MATH.md §2). Equal to [`empirical_kernels`].
pub fn empirical_kernels_by_output(
    set: KernelSet,
    model: &Mlp,
    (train, test): (&Split, &Split),
    chunk: usize,
    device: &Device,
) -> Result<(LayerKernels, LayerKernels, Mat<f64>, Mat<f64>), KernelError> {
    let cfg = &model.config;
    let c_out = cfg.outputs();
    let need_b = set.theta || set.b;
    // A_l alone needs only the first pass; B_l needs one pass per output.
    let passes = if need_b { c_out } else { 1 };
    let mut sums: Option<(LayerKernels, LayerKernels, Mat<f64>, Mat<f64>)> = None;
    for c in 0..passes {
        let ft = split_factors_of_output(model, train, chunk, device, c);
        let fv = split_factors_of_output(model, test, chunk, device, c);
        let set_c = KernelSet {
            theta: false,
            a: c == 0,
            b: need_b,
        };
        let (kt, kv) =
            empirical_kernels(set_c, &ft.layers, &fv.layers, 1, cfg.sigma_w2, cfg.sigma_b2)?;
        match sums.as_mut() {
            None => sums = Some((kt, kv, ft.outputs, fv.outputs)),
            Some((st, sv, _, _)) => {
                add_b(st, &kt);
                add_b(sv, &kv);
            }
        }
    }
    let (mut kt, mut kv, f0_train, f0_test) = sums.expect("at least one output");
    finish_class_average(&mut kt, set, c_out);
    finish_class_average(&mut kv, set, c_out);
    Ok((kt, kv, f0_train, f0_test))
}

/// B_l ← B_l + B_l^{(c)} for every layer.
fn add_b(sum: &mut LayerKernels, class: &LayerKernels) {
    for (s, b) in sum.b.iter_mut().zip(&class.b) {
        *s += b;
    }
}

/// Divides the summed B_l by C, forms Θ_l = B_l ⊙ Q_l if `set` asks for it and keeps exactly
/// the families in `set`.
fn finish_class_average(k: &mut LayerKernels, set: KernelSet, c_out: usize) {
    for b in &mut k.b {
        *b *= faer::Scale(1.0 / c_out as f64);
    }
    if set.theta {
        k.theta = (1..=k.depth)
            .map(|l| {
                let (b, q) = (&k.b[l - 1], k.input_factor(l));
                Mat::from_fn(b.nrows(), b.ncols(), |i, j| b[(i, j)] * q[(i, j)])
            })
            .collect();
    }
    if !set.b {
        k.b.clear();
    }
    if !set.a {
        k.a.clear();
    }
}

/// The function-space predictor of a training method for the theory columns of training:
/// [`Predictor::for_method`] without K-FAC (whose predictor now matches training and could
/// supply a line: left for the fidelity issue) and a user Σ, and without the block tri-diagonal Σ
/// at L = 3s+2, which is singular (Lemma 4.3), so there is no f_t line (Fig. 1b, L = 5).
pub fn predictor_for(method: Method, depth: usize) -> Option<Predictor> {
    match method {
        Method::Kfac | Method::LayerWise => None,
        Method::BlockTriDiagonal if depth % 3 == 2 => None,
        _ => Predictor::for_method(method, depth, None),
    }
}

pub use ngd_linalg::{from_rows, to_rows};

/// Predicted test loss and accuracy at steps 0..=T (eq. 10 with the run's own empirical
/// kernels at initialisation); empty when the method has no predictor.
#[derive(Debug, Clone, Default)]
pub struct TestTheory {
    /// (loss, accuracy) of f_t(x') for t = 0..=T.
    pub points: Vec<(f64, f64)>,
}

impl TestTheory {
    /// No prediction (methods without a function-space form).
    pub fn none() -> Self {
        Self::default()
    }

    /// Builds the predictions for `steps` steps at learning rate `lr`.
    /// `train_layers` are the factors at the training inputs (from the step-0 factors),
    /// `f0_train`/`f0_test` the network's outputs at initialisation (n × C).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        predictor: &Predictor,
        train_layers: &[LayerFactors],
        test: &SplitFactors,
        f0_train: &Mat<f64>,
        train_split: &Split,
        test_split: &Split,
        sigma_w2: f64,
        sigma_b2: f64,
        lr: f64,
        steps: usize,
    ) -> Result<Self, KernelError> {
        let c = f0_train.ncols();
        let (k_train, k_test) = empirical_kernels(
            predictor.required_kernels(),
            train_layers,
            &test.layers,
            c,
            sigma_w2,
            sigma_b2,
        )?;
        let fs = FunctionSpace::new(predictor, &k_train, &k_test)?;
        drop(k_train);
        let y = from_rows(&train_split.y, train_split.n, c);
        let mut points = Vec::with_capacity(steps + 1);
        for t in 0..=steps {
            let f = fs.test_outputs(
                Some(t),
                lr,
                f0_train.as_ref(),
                test.outputs.as_ref(),
                y.as_ref(),
            )?;
            let rows = to_rows(&f);
            points.push((
                ngd_data::mse_loss(&rows, test_split),
                ngd_data::accuracy(&rows, test_split),
            ));
        }
        Ok(Self { points })
    }

    /// (loss, accuracy) predicted at `step`, `None` without a predictor.
    pub fn at(&self, step: usize) -> (Option<f64>, Option<f64>) {
        match self.points.get(step) {
            Some(&(l, a)) => (Some(l), Some(a)),
            None => (None, None),
        }
    }
}
