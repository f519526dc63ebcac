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
    faer::Mat::from_fn(rows, cols, |i, j| v[i * cols + j])
}

/// Uploads an f64 matrix to `device` as an f32 tensor.
pub fn mat_to_tensor(m: faer::MatRef<'_, f64>, device: &Device) -> Tensor<2> {
    let (rows, cols) = (m.nrows(), m.ncols());
    let data: Vec<f32> = (0..rows * cols)
        .map(|k| m[(k / cols, k % cols)] as f32)
        .collect();
    Tensor::from_data(TensorData::new(data, [rows, cols]), device)
}

/// Reads a 2-D tensor of any float dtype back as an f64 matrix without rounding through f32.
pub fn tensor_to_mat_f64(t: Tensor<2>) -> faer::Mat<f64> {
    let [rows, cols] = t.dims();
    let v = t
        .into_data()
        .convert::<f64>()
        .try_into_vec::<f64>()
        .expect("float tensor data");
    faer::Mat::from_fn(rows, cols, |i, j| v[i * cols + j])
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
    let data: Vec<f64> = (0..rows * cols).map(|k| m[(k / cols, k % cols)]).collect();
    let options = burn::tensor::TensorCreationOptions::new(device.clone())
        .with_dtype(burn::tensor::DType::from(dtype));
    Tensor::from_data(TensorData::new(data, [rows, cols]), options)
}
