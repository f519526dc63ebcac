//! Patch extraction for K-FAC on convolutions (MATH.md §8c), measured on the CNN's four
//! convolutions at batch 128: this crate's strided windows (`ngd_optim::im2col::patches`)
//! against burn's `unfold4d` (which, with padding, runs as a convolution with a one-hot
//! kernel), and K-FAC-reduce's window means against the mean of the full patches.
//!
//! ```sh
//! cargo run --release --example im2col [-- <batch> <repeats>]
//! ```

use burn::tensor::module::unfold4d;
use burn::tensor::ops::UnfoldOptions;
use burn::tensor::{Device, Distribution, Tensor};
use ngd_optim::curvature::LayerKind;
use ngd_optim::im2col::{mean_patches, patches};
use std::time::Instant;

/// The median of `repeats` timings of `f` (after one warm-up), milliseconds.
fn time_ms(repeats: usize, mut f: impl FnMut() -> Tensor<2>) -> f64 {
    let _ = f().into_data();
    let mut times: Vec<f64> = (0..repeats)
        .map(|_| {
            let t = Instant::now();
            let _ = f().into_data();
            1e3 * t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[repeats / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let batch: usize = args.next().map_or(128, |a| a.parse().expect("batch"));
    let repeats: usize = args.next().map_or(5, |a| a.parse().expect("repeats"));
    let device = Device::default();
    let kind = LayerKind::Conv2d {
        kernel: [3, 3],
        stride: [1, 1],
        padding: [1, 1, 1, 1],
        dilation: [1, 1],
        groups: 1,
    };
    println!("batch {batch}, median of {repeats}, milliseconds");
    println!(
        "{:<16} {:>12} {:>12} {:>10} {:>14} {:>12} {:>10}",
        "input", "windows", "unfold4d", "max diff", "reduce(full)", "reduce(win)", "max diff"
    );
    for [c, h] in [[3, 32], [32, 32], [32, 16], [64, 16]] {
        let x = Tensor::<4>::random([batch, c, h, h], Distribution::Default, &device);
        let flat = |p: Tensor<3>| {
            let [n, d, r] = p.dims();
            p.reshape([n, d * r])
        };
        let ours = time_ms(repeats, || flat(patches(x.clone(), kind)));
        let options = UnfoldOptions::new([1, 1], [1, 1], [1, 1]);
        let burn = time_ms(repeats, || {
            flat(unfold4d(x.clone(), [3, 3], options.clone()))
        });
        let diff = (flat(patches(x.clone(), kind))
            - flat(unfold4d(x.clone(), [3, 3], options.clone())))
        .abs()
        .max()
        .into_scalar::<f32>();
        let full = time_ms(repeats, || {
            let p = patches(x.clone(), kind);
            let [n, d, _] = p.dims();
            p.mean_dim(2).reshape([n, d])
        });
        let windows = time_ms(repeats, || mean_patches(x.clone(), kind));
        let reduce_diff = {
            let p = patches(x.clone(), kind);
            let [n, d, _] = p.dims();
            (p.mean_dim(2).reshape([n, d]) - mean_patches(x.clone(), kind))
                .abs()
                .max()
                .into_scalar::<f32>()
        };
        println!(
            "{:<16} {:>12.1} {:>12.1} {:>10.1e} {:>14.1} {:>12.1} {:>10.1e}",
            format!("{c}×{h}×{h}"),
            ours,
            burn,
            diff,
            full,
            windows,
            reduce_diff
        );
    }
}
