//! Mini-batches on the device and chunked evaluation (loss and accuracy) of a split.

use burn::tensor::{Device, Tensor, TensorData};
use ngd_data::{Augment, ImageSplit};
use ngd_optim::{FactoredModel, Loss};

/// Rows `idx` of `split` as the inputs (B × M_0) and one-hot targets (B × C) on `device`.
pub fn batch(
    split: &ImageSplit,
    idx: &[usize],
    classes: usize,
    device: &Device,
) -> (Tensor<2>, Tensor<2>) {
    let y: Vec<f32> = one_hot(split, idx, classes);
    (
        inputs(split, idx, device),
        Tensor::from_data(TensorData::new(y, [idx.len(), classes]), device),
    )
}

/// [`batch`] of the training step `step` (0-based) of a run seeded `seed`, with `augment` applied
/// to its images (shape `image`, C × H × W): each row flip-cropped with its own draw, in row
/// order, from [`ngd_optim::Stream::Augment`]`(step)`.
pub fn augmented_batch(
    split: &ImageSplit,
    idx: &[usize],
    classes: usize,
    device: &Device,
    (augment, image): (Augment, [usize; 3]),
    (seed, step): (u64, u64),
) -> (Tensor<2>, Tensor<2>) {
    if augment == Augment::None {
        return batch(split, idx, classes, device);
    }
    let mut x = rows(split, idx);
    ngd_data::flip_crop_rows(
        &mut x,
        image,
        &mut ngd_optim::Stream::Augment(step).rng(seed),
    );
    let y: Vec<f32> = one_hot(split, idx, classes);
    (
        Tensor::from_data(TensorData::new(x, [idx.len(), split.dim]), device),
        Tensor::from_data(TensorData::new(y, [idx.len(), classes]), device),
    )
}

/// Rows `idx` of `split`'s inputs (B × M_0), row-major.
fn rows(split: &ImageSplit, idx: &[usize]) -> Vec<f32> {
    let mut x = Vec::with_capacity(idx.len() * split.dim);
    for &i in idx {
        x.extend_from_slice(split.row(i));
    }
    x
}

/// Rows `idx` of `split`'s inputs (B × M_0) on `device`.
fn inputs(split: &ImageSplit, idx: &[usize], device: &Device) -> Tensor<2> {
    Tensor::from_data(
        TensorData::new(rows(split, idx), [idx.len(), split.dim]),
        device,
    )
}

/// One-hot targets of rows `idx` (B × C, row-major).
fn one_hot<T: From<u8> + Clone>(split: &ImageSplit, idx: &[usize], classes: usize) -> Vec<T> {
    let mut y = vec![T::from(0); idx.len() * classes];
    for (row, &i) in idx.iter().enumerate() {
        y[row * classes + split.labels[i]] = T::from(1);
    }
    y
}

/// The loss as a differentiable tensor (mean over the batch), equal to [`Loss::value`]:
/// ½‖f − y‖² per sample (MSE, eq. 3) or −Σ_c y_c log softmax(f)_c (cross-entropy).
pub fn loss_tensor(loss: Loss, f: Tensor<2>, y: Tensor<2>) -> Tensor<1> {
    let per_sample = match loss {
        Loss::Mse => (f - y).square().sum_dim(1).mul_scalar(0.5),
        Loss::CrossEntropy => (y * burn::tensor::activation::log_softmax(f, 1))
            .sum_dim(1)
            .neg(),
    };
    per_sample.mean()
}

/// Mean loss and accuracy of `model` on `split`, in forward passes of `chunk` rows.
pub fn evaluate<M: FactoredModel>(
    model: &M,
    split: &ImageSplit,
    classes: usize,
    loss: Loss,
    chunk: usize,
    device: &Device,
) -> (f64, f64) {
    if split.n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let (mut total, mut correct) = (0.0, 0usize);
    let all: Vec<usize> = (0..split.n).collect();
    for idx in all.chunks(chunk.max(1)) {
        let f_rows =
            ngd_optim::convert::tensor_to_rows(model.forward_plain(inputs(split, idx, device)));
        let y_rows: Vec<f64> = one_hot(split, idx, classes);
        total += loss.value(&f_rows, &y_rows, classes) * idx.len() as f64;
        for (row, &i) in idx.iter().enumerate() {
            let scores = &f_rows[row * classes..(row + 1) * classes];
            let best = (0..classes)
                .max_by(|&a, &b| scores[a].total_cmp(&scores[b]))
                .unwrap_or(0);
            correct += usize::from(best == split.labels[i]);
        }
    }
    (total / split.n as f64, correct as f64 / split.n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ngd_data::{CROP_PAD, FlipCrop};

    fn split() -> ImageSplit {
        let (n, shape) = (64, [3, 6, 6]);
        let dim: usize = shape.iter().product();
        ImageSplit {
            x: (0..n * dim)
                .map(|k| ((k * 37) % 101) as f32 + 1.0)
                .collect(),
            n,
            dim,
            labels: (0..n).map(|i| i % 10).collect(),
        }
    }

    /// Without augmentation the batch is [`batch`]'s; with flip-crop every row is one of the
    /// 2·81 transforms of its image (found by search), the batch uses many of them, the targets
    /// are untouched, the same (seed, step) gives the same batch and another step another one.
    #[test]
    fn flip_crop_batches_hold_transforms_of_their_images() {
        let (data, shape) = (split(), [3, 6, 6]);
        let device = Device::default();
        let idx: Vec<usize> = (0..64).rev().collect();
        let of = |t: Tensor<2>| t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
        let (x0, y0) = batch(&data, &idx, 10, &device);
        let off = augmented_batch(&data, &idx, 10, &device, (Augment::None, shape), (5, 3));
        assert_eq!((of(off.0), of(off.1)), (of(x0.clone()), of(y0.clone())));

        let on = |step| {
            let (x, y) = augmented_batch(
                &data,
                &idx,
                10,
                &device,
                (Augment::FlipCrop, shape),
                (5, step),
            );
            (of(x), of(y))
        };
        let (x, y) = on(3);
        assert_eq!(y, of(y0));
        let pad = CROP_PAD as i64;
        let mut used = std::collections::HashSet::new();
        for (row, &i) in idx.iter().enumerate() {
            let got = &x[row * data.dim..(row + 1) * data.dim];
            let mut out = vec![0.0; data.dim];
            let hit = (-pad..=pad)
                .flat_map(|dy| {
                    (-pad..=pad)
                        .flat_map(move |dx| [false, true].map(|flip| FlipCrop { dy, dx, flip }))
                })
                .find(|t| {
                    t.apply(data.row(i), &mut out, shape);
                    out == got
                });
            used.insert(format!(
                "{:?}",
                hit.unwrap_or_else(|| panic!("row {row}: no transform"))
            ));
        }
        assert!(
            used.len() > 30,
            "only {} distinct transforms in 64 rows",
            used.len()
        );
        assert_eq!(on(3).0, x, "same seed and step");
        assert_ne!(on(4).0, x, "another step");
    }
}
