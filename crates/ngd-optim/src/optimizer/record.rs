//! Saving and restoring [`NgdState`] in burn's burnpack format: K-FAC's factors and inverses
//! in f64, the momentum buffers as the backend's tensors, the step and learning rate as
//! scalars. Restoring and stepping gives the same numbers as stepping on.

use super::{KfacLayer, Ngd, NgdState};
use crate::{OptimError, Result};
use burn::tensor::{Bytes, Device, Tensor, TensorData};
use burn_pack::{Reader, Scalar, Writer};
use faer::Mat;
use std::collections::BTreeMap;
use std::path::Path;

impl Ngd {
    /// The state as a burnpack byte buffer.
    pub fn to_bytes(&self) -> Result<Bytes> {
        writer(&self.state).into_bytes().map_err(record_error)
    }

    /// Restores the state from [`Ngd::to_bytes`]' buffer; tensors go to `device`.
    pub fn load_bytes(&mut self, bytes: Bytes, device: &Device) -> Result<()> {
        self.state = read(Reader::from_bytes(bytes).map_err(record_error)?, device)?;
        self.device_inverses.clear();
        Ok(())
    }

    /// Saves the state to a burnpack file.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        writer(&self.state)
            .overwrite(true)
            .write_to_file(path)
            .map_err(record_error)
    }

    /// Restores the state from a file written by [`Ngd::save`] (read whole: the file may go).
    pub fn load(&mut self, path: impl AsRef<Path>, device: &Device) -> Result<()> {
        let path = path.as_ref();
        let bytes = std::fs::read(path)
            .map_err(|e| record_error(format!("cannot read {}: {e}", path.display())))?;
        self.load_bytes(Bytes::from_bytes_vec(bytes), device)
    }
}

fn record_error(e: impl std::fmt::Display) -> OptimError {
    OptimError::Unsupported(format!("NGD optimizer record: {e}"))
}

fn writer(state: &NgdState) -> Writer {
    let mut tensors = Vec::new();
    let mut push = |name: String, data: TensorData| {
        let (bytes, shape, dtype) = data.into_parts();
        tensors.push(burn_pack::Tensor::new(name, dtype, shape, None, bytes));
    };
    for (l, k) in state.kfac.iter().enumerate() {
        for (leaf, m) in [
            ("a", &k.a),
            ("s", &k.s),
            ("a_inv", &k.a_inv),
            ("s_inv", &k.s_inv),
        ] {
            push(format!("kfac.{l}.{leaf}"), mat_data(m));
        }
    }
    for (l, (w, b)) in state.momentum.iter().enumerate() {
        push(format!("momentum.{l}.weight"), w.to_data());
        push(format!("momentum.{l}.bias"), b.to_data());
    }
    let mut writer = Writer::new(tensors)
        .with_scalar("step", Scalar::from(state.step))
        .with_scalar("kfac_layers", Scalar::from(state.kfac.len() as u64))
        .with_scalar("momentum_layers", Scalar::from(state.momentum.len() as u64));
    if let Some(lr) = state.lr {
        writer = writer.with_scalar("lr", Scalar::from(lr));
    }
    writer
}

fn read(reader: Reader, device: &Device) -> Result<NgdState> {
    let scalars = reader.scalars().clone();
    let count = |key: &str| -> Result<u64> {
        scalars
            .get(key)
            .and_then(|s| u64::try_from(*s).ok())
            .ok_or_else(|| record_error(format!("missing scalar '{key}'")))
    };
    let step = count("step")?;
    let (kfac_layers, momentum_layers) = (count("kfac_layers")?, count("momentum_layers")?);
    let lr = scalars.get("lr").and_then(|s| f64::try_from(*s).ok());
    let mut tensors: BTreeMap<String, TensorData> = BTreeMap::new();
    for t in reader.into_tensors().map_err(record_error)? {
        let (name, dtype, shape, _, bytes) = t.into_parts().map_err(record_error)?;
        tensors.insert(name, TensorData::from_bytes(bytes, shape, dtype));
    }
    let mut take = |name: String| {
        tensors
            .remove(&name)
            .ok_or_else(|| record_error(format!("missing tensor '{name}'")))
    };
    let mut kfac = Vec::new();
    for l in 0..kfac_layers {
        let mut m = |leaf: &str| take(format!("kfac.{l}.{leaf}")).and_then(data_mat);
        kfac.push(KfacLayer {
            a: m("a")?,
            s: m("s")?,
            a_inv: m("a_inv")?,
            s_inv: m("s_inv")?,
        });
    }
    let mut momentum = Vec::new();
    for l in 0..momentum_layers {
        let w = Tensor::<2>::from_data(take(format!("momentum.{l}.weight"))?, device);
        let b = Tensor::<1>::from_data(take(format!("momentum.{l}.bias"))?, device);
        momentum.push((w, b));
    }
    Ok(NgdState {
        step,
        lr,
        kfac,
        momentum,
    })
}

/// An f64 matrix as row-major f64 tensor data (full precision).
fn mat_data(m: &Mat<f64>) -> TensorData {
    TensorData::new(ngd_linalg::to_rows(m), [m.nrows(), m.ncols()])
}

fn data_mat(data: TensorData) -> Result<Mat<f64>> {
    let shape = data.shape().to_vec();
    let (r, c) = match shape.as_slice() {
        [r, c] => (*r, *c),
        other => {
            return Err(record_error(format!(
                "expected a matrix, got shape {other:?}"
            )));
        }
    };
    let values = data
        .try_into_vec::<f64>()
        .map_err(|e| record_error(format!("{e:?}")))?;
    Ok(ngd_linalg::from_rows(&values, r, c))
}
