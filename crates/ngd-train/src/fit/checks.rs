//! Checks before a fit: the batch against the training split and the memory an NGD method's
//! curvature would take.

use super::{FitConfig, curvature_bytes, network_config};
use crate::{Result, TrainError};
use ngd_data::Holdout;

/// Checks what depends on the data: the batch against the training split, and the memory of
/// an NGD method's curvature at this batch.
pub fn check(cfg: &FitConfig, data: &Holdout) -> Result<()> {
    cfg.validate()?;
    check_batch(cfg, data)?;
    if cfg.model.arch == ngd_model::Arch::Cnn && data.channel_stats.is_empty() {
        return Err(TrainError::Invalid(
            "the CNN takes images laid out C × H × W and standardised per channel: load them \
             with ngd_data::load_holdout_with(…, Standardisation::Channels)"
                .into(),
        ));
    }
    let [c, h, w] = data.image;
    if !cfg.data.augment.is_none() && c * h * w != data.train.dim {
        return Err(TrainError::Invalid(format!(
            "{} augments images, but these inputs of {} features are not {c}×{h}×{w} images",
            cfg.data.augment, data.train.dim
        )));
    }
    if cfg.model.arch == ngd_model::Arch::Mlp
        && let (Some(method), Some(available)) = (cfg.optimizer.name.method(), available_memory())
    {
        let widths = network_config(cfg, data).widths;
        check_memory(method, cfg.schedule.batch_size, &widths, available)?;
    }
    Ok(())
}

/// Refuses a batch larger than the training split.
pub(super) fn check_batch(cfg: &FitConfig, data: &Holdout) -> Result<()> {
    if cfg.schedule.batch_size > data.train.n {
        return Err(TrainError::Invalid(format!(
            "the batch size {} is larger than the training set ({} images after holding out {} \
             for validation)",
            cfg.schedule.batch_size, data.train.n, data.validation.n
        )));
    }
    Ok(())
}

/// Refuses an NGD method whose curvature at `batch` ([`curvature_bytes`]) would take more than
/// 80 % of the `available` bytes, before anything is allocated.
pub fn check_memory(
    method: ngd_optim::Method,
    batch: usize,
    widths: &[usize],
    available: u64,
) -> Result<()> {
    let need = curvature_bytes(method, batch, widths);
    if need > 0.8 * available as f64 {
        return Err(TrainError::Invalid(format!(
            "{method} at batch {batch} with {} outputs needs about {:.1} GB for its curvature \
             (the C·B × C·B systems), more than the {:.1} GB available: use a smaller batch \
             or a layer-wise method",
            widths.last().copied().unwrap_or(0),
            need / 1e9,
            available as f64 / 1e9
        )));
    }
    Ok(())
}

/// MemAvailable of /proc/meminfo, bytes.
fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
