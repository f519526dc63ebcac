//! Patches of a convolution's input (im2col, MATH.md §8c): a_{n,r} ∈ R^{C_in·k_h·k_w} at each
//! output location r, entry c·k_h·k_w + i·k_w + j, the order of burn's conv weight
//! [C_out, C_in, k_h, k_w].
//!
//! [`patches`] pads once and stacks k_h·k_w strided windows of the padded images (memory moves
//! only); burn's `unfold4d` gives the same tensor but, with padding, runs as a full convolution
//! with a one-hot kernel (the example `im2col` measures both: the windows are 1.8–3.1× faster).

use crate::curvature::LayerKind;
use burn::tensor::ops::PadMode;
use burn::tensor::{Slice, Tensor};

/// The geometry of a [`LayerKind::Conv2d`]: (kernel, stride, padding [top, bottom, left, right]).
fn geometry(kind: LayerKind) -> ([usize; 2], [usize; 2], [usize; 4]) {
    match kind {
        LayerKind::Conv2d {
            kernel,
            stride,
            padding,
            ..
        } => (kernel, stride, padding),
        LayerKind::Linear => panic!("patches of a Linear layer"),
    }
}

/// The output size H′ × W′ of a convolution of `kind` on H × W images.
pub fn output_size(kind: LayerKind, height: usize, width: usize) -> [usize; 2] {
    let ([kh, kw], [sh, sw], [top, bottom, left, right]) = geometry(kind);
    [
        (height + top + bottom - kh) / sh + 1,
        (width + left + right - kw) / sw + 1,
    ]
}

/// The k_h·k_w strided windows of the zero-padded images x (N × C × H × W), each N × C × H′ × W′,
/// in tap order (i, j).
fn windows(x: Tensor<4>, kind: LayerKind) -> Vec<Tensor<4>> {
    let ([kh, kw], [sh, sw], [top, bottom, left, right]) = geometry(kind);
    let [_, _, height, width] = x.dims();
    let [ho, wo] = output_size(kind, height, width);
    let padded = if top + bottom + left + right > 0 {
        x.pad([(top, bottom), (left, right)], PadMode::Constant(0.0))
    } else {
        x
    };
    let window = |start: usize, stride: usize, count: usize| {
        Slice::new(
            start as isize,
            Some((start + stride * (count - 1) + 1) as isize),
            stride as isize,
        )
    };
    let mut out = Vec::with_capacity(kh * kw);
    for i in 0..kh {
        for j in 0..kw {
            out.push(padded.clone().slice([
                Slice::full(),
                Slice::full(),
                window(i, sh, ho),
                window(j, sw, wo),
            ]));
        }
    }
    out
}

/// The patches of images x (N × C × H × W) for a convolution of `kind` (dilation 1):
/// N × (C·k_h·k_w) × R with R = H′·W′, the layout of burn's `unfold4d`.
pub fn patches(x: Tensor<4>, kind: LayerKind) -> Tensor<3> {
    let [n, c, _, _] = x.dims();
    let windows = windows(x, kind);
    let [_, _, ho, wo] = windows[0].dims();
    let taps = windows.len();
    Tensor::stack::<5>(windows, 2).reshape([n, c * taps, ho * wo])
}

/// The mean patch over the output locations of each sample, ā_n (N × C·k_h·k_w): K-FAC-reduce's
/// input statistic, from the k_h·k_w window means without forming the N·R patch rows.
pub fn mean_patches(x: Tensor<4>, kind: LayerKind) -> Tensor<2> {
    let [n, c, _, _] = x.dims();
    let means: Vec<Tensor<2>> = windows(x, kind)
        .into_iter()
        .map(|w| {
            let [n, c, ho, wo] = w.dims();
            w.reshape([n, c, ho * wo]).mean_dim(2).reshape([n, c])
        })
        .collect();
    let taps = means.len();
    Tensor::stack::<3>(means, 2).reshape([n, c * taps])
}

/// The sum of a convolution's output signals y (N × C_out × H′ × W′) over the locations,
/// x̄_n (N × C_out): K-FAC-reduce's output statistic.
pub fn summed_signals(y: Tensor<4>) -> Tensor<2> {
    let [n, c, h, w] = y.dims();
    y.reshape([n, c, h * w]).sum_dim(2).reshape([n, c])
}

/// The patch rows of images x: (N·R) × (C·k_h·k_w), ordered (sample, location).
pub fn patch_rows(x: Tensor<4>, kind: LayerKind) -> Tensor<2> {
    let p = patches(x, kind);
    let [n, d, r] = p.dims();
    p.swap_dims(1, 2).reshape([n * r, d])
}

/// The signal rows of a convolution's output gradient y (N × C_out × H′ × W′):
/// (N·R) × C_out, ordered (sample, location) like [`patch_rows`].
pub fn signal_rows(y: Tensor<4>) -> Tensor<2> {
    let [n, c, h, w] = y.dims();
    y.reshape([n, c, h * w])
        .swap_dims(1, 2)
        .reshape([n * h * w, c])
}
