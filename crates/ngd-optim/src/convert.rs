//! Host ↔ device conversions: f64 matrices on the host, f32 tensors on the backend.

use burn::tensor::{Device, Tensor, TensorData};

/// Uploads a row-major `rows × cols` f64 array to `device` as an f32 tensor.
pub fn tensor_from_rows(values: &[f64], rows: usize, cols: usize, device: &Device) -> Tensor<2> {
    assert_eq!(values.len(), rows * cols, "tensor_from_rows: wrong length");
    let data: Vec<f32> = values.iter().map(|&v| v as f32).collect();
    Tensor::from_data(TensorData::new(data, [rows, cols]), device)
}

/// Reads a 2-D tensor back as a row-major f64 vector.
pub fn tensor_to_rows(t: Tensor<2>) -> Vec<f64> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("float tensor data")
        .into_iter()
        .map(f64::from)
        .collect()
}

/// Reads a 2-D tensor back as an f64 matrix (faer, column-major).
pub fn tensor_to_mat(t: Tensor<2>) -> faer::Mat<f64> {
    let [rows, cols] = t.dims();
    let v = tensor_to_rows(t);
    faer::MatRef::from_row_major_slice(&v, rows, cols).to_owned()
}

/// Uploads an f64 matrix to `device` as an f32 tensor.
pub fn mat_to_tensor(m: faer::MatRef<'_, f64>, device: &Device) -> Tensor<2> {
    let (rows, cols) = (m.nrows(), m.ncols());
    Tensor::from_data(
        TensorData::new(row_major(m, |v| v as f32), [rows, cols]),
        device,
    )
}

/// Reads a 2-D tensor back as a row-major f64 vector in its own precision (f64 averages
/// exactly; one download, no transposition).
pub fn tensor_to_vec_f64(t: Tensor<2>) -> Vec<f64> {
    t.into_data()
        .convert::<f64>()
        .try_into_vec::<f64>()
        .expect("float tensor data")
}

/// Uploads an exactly symmetric f32 matrix (a Cholesky inverse) to `device` as an f32 tensor:
/// its columns are its rows, so no transposition.
pub fn symmetric_f32_to_tensor(m: faer::MatRef<'_, f32>, device: &Device) -> Tensor<2> {
    let n = m.nrows();
    debug_assert!((0..n).all(|i| (0..i).all(|j| m[(i, j)] == m[(j, i)])));
    let mut data = Vec::with_capacity(n * n);
    for j in 0..n {
        data.extend(m.col(j).iter().copied());
    }
    Tensor::from_data(TensorData::new(data, [n, n]), device)
}

/// Uploads an exactly symmetric f64 matrix (a Cholesky inverse: faer fills its upper triangle
/// from the lower) to `device` in `dtype`: its columns are its rows, so no transposition; the
/// same values as [`mat_to_tensor_dtype`].
pub fn symmetric_to_tensor(
    m: faer::MatRef<'_, f64>,
    device: &Device,
    dtype: burn::tensor::FloatDType,
) -> Tensor<2> {
    debug_assert!((0..m.nrows()).all(|i| (0..i).all(|j| m[(i, j)] == m[(j, i)])));
    let n = m.nrows();
    if dtype == burn::tensor::FloatDType::F32 {
        let mut data = Vec::with_capacity(n * n);
        for j in 0..n {
            data.extend(m.col(j).iter().map(|&v| v as f32));
        }
        return Tensor::from_data(TensorData::new(data, [n, n]), device);
    }
    let mut data = Vec::with_capacity(n * n);
    for j in 0..n {
        data.extend(m.col(j).iter().copied());
    }
    let options = burn::tensor::TensorCreationOptions::new(device.clone())
        .with_dtype(burn::tensor::DType::from(dtype));
    Tensor::from_data(TensorData::new(data, [n, n]), options)
}

/// The entries of `m` in row-major order, each mapped by `f`: one blocked transposing copy
/// (the columns of mᵀ are the rows of m), then one contiguous pass.
fn row_major<T>(m: faer::MatRef<'_, f64>, f: impl Fn(f64) -> T) -> Vec<T> {
    let t = m.transpose().to_owned();
    let mut out = Vec::with_capacity(m.nrows() * m.ncols());
    for j in 0..t.ncols() {
        out.extend(t.col(j).iter().map(|&v| f(v)));
    }
    out
}

/// Reads a 2-D tensor of any float dtype back as an f64 matrix without rounding through f32.
pub fn tensor_to_mat_f64(t: Tensor<2>) -> faer::Mat<f64> {
    let [rows, cols] = t.dims();
    let data = t.into_data().convert::<f64>();
    let v = data.as_slice::<f64>().expect("float tensor data");
    faer::MatRef::from_row_major_slice(v, rows, cols).to_owned()
}

/// Uploads an f64 matrix to `device` in `dtype` (f32 through [`mat_to_tensor`], so that the
/// rounding is the same as there; f64 exactly).
pub fn mat_to_tensor_dtype(
    m: faer::MatRef<'_, f64>,
    device: &Device,
    dtype: burn::tensor::FloatDType,
) -> Tensor<2> {
    if dtype == burn::tensor::FloatDType::F32 {
        return mat_to_tensor(m, device);
    }
    let (rows, cols) = (m.nrows(), m.ncols());
    let data = row_major(m, |v| v);
    let options = burn::tensor::TensorCreationOptions::new(device.clone())
        .with_dtype(burn::tensor::DType::from(dtype));
    Tensor::from_data(TensorData::new(data, [rows, cols]), options)
}

/// ΔW̃ = [ΔW; Δb] (d_in × d_out, bias last row) of a layer's (ΔW, Δb).
pub(crate) fn join_bias(dw: Tensor<2>, db: Tensor<1>) -> Tensor<2> {
    let d_out = db.dims()[0];
    Tensor::cat(vec![dw, db.reshape([1, d_out])], 0)
}

/// (ΔW, Δb) of a layer step ΔW̃ (the inverse of [`join_bias`]).
pub(crate) fn split_bias(step: Tensor<2>) -> (Tensor<2>, Tensor<1>) {
    let [d_in, d_out] = step.dims();
    let dw = step.clone().narrow(0, 0, d_in - 1);
    let db = step.narrow(0, d_in - 1, 1).reshape([d_out]);
    (dw, db)
}
