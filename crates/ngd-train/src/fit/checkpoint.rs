//! Checkpoints: one burnpack file with the model's float parameters in the order burn visits
//! them, `param.{k}` (with their parameter ids, so that a first-order optimizer's state finds
//! them again), the optimizer's state as an embedded burnpack, and the run so far
//! ([`Progress`], JSON metadata). Any burn module round-trips; the CLI's MLP also records its
//! shape, so that `ngd eval` rebuilds it.

use super::FitRecord;
use super::stepper::Stepper;
use crate::{Result, TrainError};
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::tensor::{Bytes, DType, Device, Tensor, TensorCreationOptions, TensorData};
use burn_pack::{Reader, Scalar, Writer};
use ngd_model::{Classifier, CnnConfig, MlpConfig};
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
    /// The network's shape when it is the crate's MLP (`None` for another model).
    pub network: Option<MlpConfig>,
    /// The network's shape when it is the crate's CNN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnn: Option<CnnConfig>,
    /// The record so far.
    pub record: FitRecord,
}

fn error(path: &Path, e: impl std::fmt::Display) -> TrainError {
    TrainError::Checkpoint {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Collects every float parameter (id and data) in visiting order.
struct Collect(Vec<(ParamId, TensorData)>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0
            .push((param.id, param.val().without_autodiff().to_data()));
    }
}

/// Replaces every float parameter, in visiting order, by the next one read back.
struct Restore {
    params: std::vec::IntoIter<(ParamId, TensorData)>,
    device: Device,
    error: Option<String>,
}

impl ModuleMapper for Restore {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some((id, data)) = self.params.next() else {
            self.error
                .get_or_insert_with(|| "it holds fewer parameters than the model".into());
            return param;
        };
        let want = param.val().dims();
        if data.shape().as_slice() != want.as_slice() {
            self.error.get_or_insert_with(|| {
                format!(
                    "a parameter has shape {:?} in the checkpoint, {want:?} in the model",
                    data.shape().as_slice()
                )
            });
            return param;
        }
        let dtype = data.dtype();
        let options = TensorCreationOptions::new(self.device.clone()).with_dtype(dtype);
        let tensor = Tensor::<D>::from_data(data, options);
        Param::initialized(id, tensor.require_grad())
    }
}

/// Writes `model`, the optimizer state and `progress` to `path` (atomically, overwriting).
pub fn save<M: Module>(
    path: &Path,
    model: &M,
    stepper: &Stepper,
    progress: &Progress,
) -> Result<()> {
    let mut tensors = Vec::new();
    let mut writer_scalars = Vec::new();
    let mut params = Collect(Vec::new());
    model.visit(&mut params);
    for (k, (id, data)) in params.0.into_iter().enumerate() {
        let name = format!("param.{k}");
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
pub struct Loaded<M = Classifier> {
    /// The model.
    pub model: M,
    /// The optimizer state (burnpack bytes).
    pub optimizer: Bytes,
    /// The run so far.
    pub progress: Progress,
}

/// Reads a checkpoint of the crate's MLP or CNN written by `ngd train --save` (after each
/// epoch); the checkpoint's recorded shape rebuilds the network.
pub fn load(path: &Path, device: &Device) -> Result<Loaded> {
    let raw = read(path)?;
    let template = match (&raw.progress.network, &raw.progress.cnn) {
        (Some(mlp), _) => Classifier::Mlp(mlp.init(0, device)?),
        (None, Some(cnn)) => Classifier::Cnn(cnn.init(0, device)?),
        (None, None) => {
            return Err(error(
                path,
                "it holds a user's own model, not the MLP or CNN of `ngd train` (load it with \
                 fit::load_model_checkpoint and the model's definition)",
            ));
        }
    };
    raw.into_model(template, path, device)
}

/// Reads a checkpoint of any model into `template` (a model of the same definition, whose
/// parameters are replaced by the checkpoint's).
pub fn load_model<M: Module>(path: &Path, template: M, device: &Device) -> Result<Loaded<M>> {
    read(path)?.into_model(template, path, device)
}

/// A checkpoint's parameters (in order), optimizer bytes and progress.
struct Raw {
    params: Vec<(ParamId, TensorData)>,
    optimizer: Bytes,
    progress: Progress,
}

impl Raw {
    fn into_model<M: Module>(self, template: M, path: &Path, device: &Device) -> Result<Loaded<M>> {
        let count = self.params.len();
        let mut restore = Restore {
            params: self.params.into_iter(),
            device: device.clone(),
            error: None,
        };
        let model = template.map(&mut restore);
        if restore.params.len() > 0 {
            restore.error.get_or_insert_with(|| {
                format!("it holds {count} parameters, more than the model's")
            });
        }
        if let Some(e) = restore.error {
            return Err(error(path, format!("does not fit the model: {e}")));
        }
        Ok(Loaded {
            model,
            optimizer: self.optimizer,
            progress: self.progress,
        })
    }
}

fn read(path: &Path) -> Result<Raw> {
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
    // Parameters in visiting order: `param.{k}`, or the MLP's earlier `weight.{l}` then
    // `bias.{l}` (the same order).
    let legacy = !tensors.contains_key("param.0") && tensors.contains_key("weight.0");
    let layers = tensors.keys().filter(|k| k.starts_with("weight.")).count();
    let names: Vec<String> = if legacy {
        (0..layers)
            .map(|l| format!("weight.{l}"))
            .chain((0..layers).map(|l| format!("bias.{l}")))
            .collect()
    } else {
        let count = tensors.keys().filter(|k| k.starts_with("param.")).count();
        (0..count).map(|k| format!("param.{k}")).collect()
    };
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
    let params = names
        .into_iter()
        .map(&mut take)
        .collect::<Result<Vec<_>>>()?;
    let optimizer = tensors
        .remove("optimizer")
        .ok_or_else(|| error(path, "missing the optimizer state"))?;
    let (bytes, _, _) = optimizer.into_parts();
    Ok(Raw {
        params,
        optimizer: bytes,
        progress,
    })
}

/// `stepper` with the state of a loaded checkpoint.
pub fn restore_optimizer(stepper: Stepper, bytes: Bytes, device: &Device) -> Result<Stepper> {
    match stepper {
        Stepper::Ngd(mut ngd) => {
            ngd.load_bytes(bytes, device)?;
            Ok(Stepper::Ngd(ngd))
        }
        Stepper::Burn(optim) => optim
            .from_bytes(bytes)
            .map(Stepper::Burn)
            .map_err(|e| TrainError::Invalid(format!("optimizer state: {e:?}"))),
    }
}

/// The run saved at `path` (its parameters put into `template`), checked against `cfg` (which
/// may only add epochs, and not under a cosine schedule, whose length they set).
pub(super) fn resume<M: super::Trainable>(
    cfg: &super::FitConfig,
    path: &std::path::Path,
    template: M,
    device: &Device,
) -> Result<super::Run<M>> {
    let loaded = load_model(path, template, device)?;
    let saved = &loaded.progress.record.config;
    let mut same = saved.clone();
    same.schedule.epochs = cfg.schedule.epochs;
    if &same != cfg {
        return Err(TrainError::Invalid(format!(
            "cannot resume {}: it was saved with a different configuration (only --epochs may \
             change); saved: {}",
            path.display(),
            serde_json::to_string(saved).unwrap_or_default()
        )));
    }
    if cfg.schedule.lr == super::Schedule::Cosine && cfg.schedule.epochs != saved.schedule.epochs {
        return Err(TrainError::Invalid(format!(
            "cannot resume {} with {} epochs: its cosine schedule spans the {} epochs it was \
             started with, and another length would change every later learning rate (resume \
             with --epochs {}; only a constant schedule may add epochs)",
            path.display(),
            cfg.schedule.epochs,
            saved.schedule.epochs,
            saved.schedule.epochs
        )));
    }
    // The optimizer's record holds its own state, the adapted damping included.
    let fresh = Stepper::new(cfg, &loaded.model)?;
    let stepper = restore_optimizer(fresh, loaded.optimizer, device)?;
    let mut record = loaded.progress.record;
    record.config = cfg.clone();
    let mut trainer = super::Trainer::new(loaded.model, stepper);
    trainer.step = loaded.progress.step;
    trainer.train_seconds = loaded.progress.train_seconds;
    trainer.phase_seconds = record.phase_seconds;
    Ok(super::Run {
        trainer,
        record,
        epochs_done: loaded.progress.epochs_done,
    })
}
