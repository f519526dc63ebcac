//! Mini-batches on the device and chunked evaluation (loss and accuracy) of a split.

use burn::tensor::{Device, Tensor, TensorData};
use ngd_data::ImageSplit;
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

/// Rows `idx` of `split`'s inputs (B × M_0) on `device`.
fn inputs(split: &ImageSplit, idx: &[usize], device: &Device) -> Tensor<2> {
    let mut x = Vec::with_capacity(idx.len() * split.dim);
    for &i in idx {
        x.extend_from_slice(split.row(i));
    }
    Tensor::from_data(TensorData::new(x, [idx.len(), split.dim]), device)
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
