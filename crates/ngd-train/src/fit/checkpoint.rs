//! Checkpoints: one burnpack file with the model's weights (and parameter ids, so that a
//! first-order optimizer's state finds its parameters again), the optimizer's state as an
//! embedded burnpack, and the run so far ([`Progress`], JSON metadata).

use super::FitRecord;
use super::stepper::Stepper;
use crate::{Result, TrainError};
use burn::module::{Param, ParamId};
use burn::tensor::{Bytes, DType, Device, Tensor, TensorData};
use burn_pack::{Reader, Scalar, Writer};
use ngd_model::{Mlp, MlpConfig};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Where a run stands at a checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Progress {
    /// Completed epochs.
    pub epochs_done: usize,
    /// Steps taken.
    pub step: u64,
    /// Training wall time so far (evaluation excluded), seconds.
    pub train_seconds: f64,
    /// The network's shape.
    pub network: MlpConfig,
    /// The record so far.
    pub record: FitRecord,
}

fn error(path: &Path, e: impl std::fmt::Display) -> TrainError {
    TrainError::Invalid(format!("checkpoint {}: {e}", path.display()))
}

/// Writes `model`, the optimizer state and `progress` to `path` (atomically, overwriting).
pub fn save(path: &Path, model: &Mlp, stepper: &Stepper, progress: &Progress) -> Result<()> {
    let mut tensors = Vec::new();
    let mut writer_scalars = Vec::new();
    let params = model
        .weights
        .iter()
        .map(|w| (w.id, w.val().without_autodiff().to_data()))
        .chain(
            model
                .biases
                .iter()
                .map(|b| (b.id, b.val().without_autodiff().to_data())),
        );
    let depth = model.weights.len();
    for (k, (id, data)) in params.enumerate() {
        let name = if k < depth {
            format!("weight.{k}")
        } else {
            format!("bias.{}", k - depth)
        };
        writer_scalars.push((format!("id.{name}"), Scalar::from(id.val())));
        let (bytes, shape, dtype) = data.into_parts();
        tensors.push(burn_pack::Tensor::new(name, dtype, shape, None, bytes));
    }
    let optimizer = optimizer_bytes(stepper, path)?;
    let len = optimizer.len();
    tensors.push(burn_pack::Tensor::new(
        "optimizer".into(),
        DType::U8,
        [len],
        None,
        optimizer,
    ));
    let json = serde_json::to_string(progress).map_err(|e| error(path, e))?;
    let mut writer = Writer::new(tensors)
        .with_metadata("progress", &json)
        .auto_extension(false)
        .overwrite(true);
    for (key, value) in writer_scalars {
        writer = writer.with_scalar(&key, value);
    }
    writer.write_to_file(path).map_err(|e| error(path, e))
}

fn optimizer_bytes(stepper: &Stepper, path: &Path) -> Result<Bytes> {
    match stepper {
        Stepper::Ngd(ngd) => Ok(ngd.to_bytes()?),
        Stepper::Burn(optim) => optim
            .into_bytes()
            .map_err(|e| error(path, format!("{e:?}"))),
    }
}

/// A checkpoint read back: the model on `device`, the optimizer's state bytes and the progress.
pub struct Loaded {
    /// The model.
    pub model: Mlp,
    /// The optimizer state (burnpack bytes).
    pub optimizer: Bytes,
    /// The run so far.
    pub progress: Progress,
}

/// Reads a checkpoint written by `ngd train --save` (the run's checkpoint after each epoch).
pub fn load(path: &Path, device: &Device) -> Result<Loaded> {
    let bytes = std::fs::read(path).map_err(|e| error(path, e))?;
    let reader = Reader::from_bytes(Bytes::from_bytes_vec(bytes)).map_err(|e| error(path, e))?;
    let progress: Progress = reader
        .metadata()
        .get("progress")
        .ok_or_else(|| {
            error(
                path,
                "no 'progress' entry (not written by ngd train --save)",
            )
        })
        .and_then(|s| serde_json::from_str(s).map_err(|e| error(path, e)))?;
    let ids: BTreeMap<String, u64> = reader
        .scalars()
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("id.")?.to_string(), u64::try_from(*v).ok()?)))
        .collect();
    let mut tensors: BTreeMap<String, TensorData> = BTreeMap::new();
    for t in reader.into_tensors().map_err(|e| error(path, e))? {
        let (name, dtype, shape, _, bytes) = t.into_parts().map_err(|e| error(path, e))?;
        tensors.insert(name, TensorData::from_bytes(bytes, shape, dtype));
    }
    let mut take = |name: String| {
        let data = tensors
            .remove(&name)
            .ok_or_else(|| error(path, format!("missing tensor '{name}'")))?;
        let id = ids
            .get(&name)
            .copied()
            .ok_or_else(|| error(path, format!("missing id of '{name}'")))?;
        Ok::<_, TrainError>((ParamId::from(id), data))
    };
    let depth = progress.network.depth();
    let mut weights = Vec::with_capacity(depth);
    let mut biases = Vec::with_capacity(depth);
    for l in 0..depth {
        let (id, data) = take(format!("weight.{l}"))?;
        weights.push(Param::initialized(
            id,
            Tensor::<2>::from_data(data, device).require_grad(),
        ));
        let (id, data) = take(format!("bias.{l}"))?;
        biases.push(Param::initialized(
            id,
            Tensor::<1>::from_data(data, device).require_grad(),
        ));
    }
    let optimizer = tensors
        .remove("optimizer")
        .ok_or_else(|| error(path, "missing the optimizer state"))?;
    let (bytes, _, _) = optimizer.into_parts();
    Ok(Loaded {
        model: Mlp {
            weights,
            biases,
            config: progress.network.clone(),
        },
        optimizer: bytes,
        progress,
    })
}

/// `stepper` with the state of a loaded checkpoint.
pub fn restore_optimizer(
    stepper: Stepper,
    bytes: Bytes,
    device: &Device,
    damping: Option<f64>,
) -> Result<Stepper> {
    match stepper {
        Stepper::Ngd(mut ngd) => {
            ngd.load_bytes(bytes, device)?;
            if let Some(rho) = damping {
                ngd.set_damping(rho)?;
            }
            Ok(Stepper::Ngd(ngd))
        }
        Stepper::Burn(optim) => optim
            .from_bytes(bytes)
            .map(Stepper::Burn)
            .map_err(|e| TrainError::Invalid(format!("optimizer state: {e:?}"))),
    }
}
