//! Saving and restoring the optimizer in burn's burnpack format: every curvature block's state
//! (K-FAC's running factors in f64, their weight Σβ^{t−s} and its inverses,
//! `kfac.{l}.{a,s,weight,a_inv,s_inv}`; the
//! diagonal's `diagonal.{l}.f`), the momentum buffers as the backend's tensors, and the step,
//! learning rate and damping ρ (which adaptive damping moves) as scalars. Restoring and stepping
//! gives the same numbers as stepping on.

use super::{Ngd, NgdState};
use crate::curvature::{BlockKind, CurvatureBlock};
use crate::{OptimError, Result};
use burn::tensor::{Bytes, Device, Tensor, TensorCreationOptions, TensorData};
use burn_pack::{Reader, Scalar, Writer};
use std::collections::BTreeMap;
use std::path::Path;

impl Ngd {
    /// The state as a burnpack byte buffer.
    pub fn to_bytes(&self) -> Result<Bytes> {
        self.writer().into_bytes().map_err(record_error)
    }

    /// Restores the state from [`Ngd::to_bytes`]' buffer; tensors go to `device`. A record of
    /// another method or network, or a damaged one, is an error and leaves the optimizer as it
    /// was.
    pub fn load_bytes(&mut self, bytes: Bytes, device: &Device) -> Result<()> {
        let reader = Reader::from_bytes(bytes).map_err(record_error)?;
        let (state, blocks, damping) = self.read(reader, device)?;
        if let Some(damping) = damping {
            self.set_damping(damping)?;
        }
        self.state = state;
        self.blocks = blocks;
        Ok(())
    }

    /// Saves the state to a burnpack file.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        self.writer()
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
    OptimError::Record(e.to_string())
}

/// The record's name prefix of a block kind (`kfac` keeps earlier K-FAC records loadable).
fn prefix(kind: BlockKind) -> &'static str {
    match kind {
        BlockKind::Kronecker => "kfac",
        BlockKind::Diagonal => "diagonal",
        BlockKind::Identity => "identity",
    }
}

impl Ngd {
    fn writer(&self) -> Writer {
        let state = &self.state;
        let mut tensors = Vec::new();
        let mut push = |name: String, data: TensorData| {
            let (bytes, shape, dtype) = data.into_parts();
            tensors.push(burn_pack::Tensor::new(name, dtype, shape, None, bytes));
        };
        for (l, block) in self.blocks.iter().enumerate() {
            for (leaf, t) in block.state() {
                push(format!("{}.{l}.{leaf}", prefix(block.kind())), t.to_data());
            }
        }
        for (l, (w, b)) in state.momentum.iter().enumerate() {
            push(format!("momentum.{l}.weight"), w.to_data());
            push(format!("momentum.{l}.bias"), b.to_data());
        }
        let mut writer = Writer::new(tensors)
            .with_scalar("step", Scalar::from(state.step))
            .with_scalar("kfac_layers", Scalar::from(self.blocks.len() as u64))
            .with_scalar("momentum_layers", Scalar::from(state.momentum.len() as u64))
            .with_scalar("damping", Scalar::from(self.config.damping.value));
        if let Some(lr) = state.lr {
            writer = writer.with_scalar("lr", Scalar::from(lr));
        }
        writer
    }

    /// The state, the blocks and the saved damping (absent in records before it was saved).
    #[allow(clippy::type_complexity)]
    fn read(
        &self,
        reader: Reader,
        device: &Device,
    ) -> Result<(NgdState, Vec<Box<dyn CurvatureBlock>>, Option<f64>)> {
        let scalars = reader.scalars().clone();
        let count = |key: &str| -> Result<u64> {
            scalars
                .get(key)
                .and_then(|s| u64::try_from(*s).ok())
                .ok_or_else(|| record_error(format!("missing scalar '{key}'")))
        };
        let step = count("step")?;
        let (layers, momentum_layers) = (count("kfac_layers")?, count("momentum_layers")?);
        let lr = scalars.get("lr").and_then(|s| f64::try_from(*s).ok());
        let damping = scalars.get("damping").and_then(|s| f64::try_from(*s).ok());
        let mut tensors: BTreeMap<String, TensorData> = BTreeMap::new();
        for t in reader.into_tensors().map_err(record_error)? {
            let (name, dtype, shape, _, bytes) = t.into_parts().map_err(record_error)?;
            tensors.insert(name, TensorData::from_bytes(bytes, shape, dtype));
        }
        // Each layer's block kind from its tensors' prefix (an identity block has none).
        let kinds: Vec<BlockKind> = (0..layers)
            .map(|l| {
                [BlockKind::Kronecker, BlockKind::Diagonal]
                    .into_iter()
                    .find(|&k| {
                        let start = format!("{}.{l}.", prefix(k));
                        tensors.keys().any(|t| t.starts_with(&start))
                    })
                    .unwrap_or(BlockKind::Identity)
            })
            .collect();
        let mut take = |name: String| {
            tensors
                .remove(&name)
                .ok_or_else(|| record_error(format!("missing tensor '{name}'")))
        };
        let mut blocks = Vec::new();
        if layers > 0 {
            if self.config.block_kind().is_none() {
                return Err(OptimError::StateMismatch(format!(
                    "the record holds curvature blocks for {layers} layers, but {} with these \
                     options keeps none",
                    self.config.method
                )));
            }
            let dtype = self.config.block_precision.dtype();
            for l in 0..layers {
                let kind = kinds[l as usize];
                let mut block = kind.block(dtype, self.config.kfac_or_default().inverse_precision);
                let mut leaf = |name: &str| {
                    let data = take(format!("{}.{l}.{name}", prefix(kind)))?;
                    check_matrix(&data, name)?;
                    // Keep the record's dtype (the f64 running averages stay f64).
                    let options =
                        TensorCreationOptions::new(device.clone()).with_dtype(data.dtype());
                    Ok(Tensor::<2>::from_data(data, options))
                };
                block.load_state(&mut leaf)?;
                blocks.push(block);
            }
        }
        let mut momentum = Vec::new();
        for l in 0..momentum_layers {
            let w = Tensor::<2>::from_data(take(format!("momentum.{l}.weight"))?, device);
            let b = Tensor::<1>::from_data(take(format!("momentum.{l}.bias"))?, device);
            momentum.push((w, b));
        }
        let state = NgdState { step, lr, momentum };
        Ok((state, blocks, damping))
    }
}

/// Refuses a block tensor that is not a matrix.
fn check_matrix(data: &TensorData, name: &str) -> Result<()> {
    match data.shape().as_slice() {
        [_, _] => Ok(()),
        other => Err(record_error(format!(
            "block tensor '{name}': expected a matrix, got shape {other:?}"
        ))),
    }
}
