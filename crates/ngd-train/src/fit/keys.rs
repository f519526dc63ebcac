//! [`FitConfig`] as JSON: options addressed by key path (`optimizer.kfac.decay`), and the flat
//! keys of the records and sweep configs written before the config had sections
//! (`kfac_decay`), which keep their meaning.

use super::FitConfig;
use crate::{Result, TrainError};
use ngd_optim::KfacConfig;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

/// Each flat key of the old configs and the key path that holds the option now.
pub const FLAT_KEYS: [(&str, &str); 34] = [
    ("dataset", "data.dataset"),
    ("classes", "data.classes"),
    ("n_train", "data.n_train"),
    ("n_test", "data.n_test"),
    ("validation", "data.validation"),
    ("augment", "data.augment"),
    ("arch", "model.arch"),
    ("depth", "model.depth"),
    ("width", "model.width"),
    ("activation", "model.activation"),
    ("parameterization", "model.parameterization"),
    ("sigma_w2", "model.sigma_w2"),
    ("sigma_b2", "model.sigma_b2"),
    ("optimizer", "optimizer.name"),
    ("lr", "optimizer.lr"),
    ("momentum", "optimizer.momentum"),
    ("nesterov", "optimizer.nesterov"),
    ("weight_decay", "optimizer.weight_decay"),
    ("damping", "optimizer.damping.value"),
    ("adaptive_damping", "optimizer.damping.adaptive"),
    ("max_step_norm", "optimizer.clipping.max_step_norm"),
    ("kl_clip", "optimizer.clipping.kl"),
    ("fisher", "optimizer.kfac.fisher"),
    ("kfac_conv", "optimizer.kfac.conv"),
    ("curvature_batch", "optimizer.kfac.stats_batch"),
    ("kfac_decay", "optimizer.kfac.decay"),
    ("kfac_stats_interval", "optimizer.kfac.stats_interval"),
    ("kfac_inverse_interval", "optimizer.kfac.inverse_interval"),
    ("inverse_precision", "optimizer.kfac.inverse_precision"),
    ("batch_size", "schedule.batch_size"),
    ("epochs", "schedule.epochs"),
    ("evals_per_epoch", "schedule.evals_per_epoch"),
    ("schedule", "schedule.lr"),
    ("warmup_steps", "schedule.warmup_steps"),
];

/// The section of the K-FAC options, `None` in a config until one of them is set.
const KFAC: &str = "optimizer.kfac";

/// The key path of `key` in a layer of options: a path as given, or a flat key's path (a
/// value that is not an object under a section's name, `"optimizer": "adam"`, is flat).
pub fn key_path<'a>(key: &'a str, value: &Value) -> &'a str {
    if value.is_object() {
        return key;
    }
    FLAT_KEYS
        .iter()
        .find(|(flat, _)| *flat == key)
        .map_or(key, |(_, path)| path)
}

/// A config's JSON with `layers` of options set on it in order, each key a path or a flat key
/// (objects merge into the section they name). Every path must exist in the config (an
/// unset [`KfacConfig`] is filled with its defaults first), so that a misspelt key is an error.
/// When a layer sets K-FAC options by their flat keys, options that are all at their defaults
/// leave K-FAC unset, as the old flat configs meant.
pub fn overlay<'a>(
    base: Value,
    layers: impl IntoIterator<Item = &'a Map<String, Value>>,
) -> Result<Value> {
    let mut config = base;
    let mut flat_kfac = false;
    for layer in layers {
        for (key, value) in layer {
            let path = key_path(key, value);
            flat_kfac |= path != key && path.starts_with(KFAC);
            set(&mut config, path, value.clone())?;
        }
    }
    if flat_kfac && pointer(&config, KFAC) == Some(&kfac_defaults()) {
        set(&mut config, KFAC, Value::Null)?;
    }
    Ok(config)
}

/// Sets `value` at the dotted `path` of `config`, merging objects into objects.
pub fn set(config: &mut Value, path: &str, value: Value) -> Result<()> {
    let unknown = || TrainError::Invalid(format!("unknown config key '{path}'"));
    let mut node = config;
    let mut walked = String::new();
    for part in path.split('.') {
        if !walked.is_empty() {
            walked.push('.');
        }
        walked.push_str(part);
        if node.is_null() && walked.len() > KFAC.len() && walked.starts_with(KFAC) {
            *node = kfac_defaults();
        }
        node = node
            .as_object_mut()
            .and_then(|o| o.get_mut(part))
            .ok_or_else(unknown)?;
    }
    merge(node, value, &walked)
        .map_err(|key| TrainError::Invalid(format!("unknown config key '{key}'")))
}

/// Merges `value` into `node` at `path`: objects key by key (an unset K-FAC section starts
/// from its defaults), anything else replaced; a key the section lacks is returned as the error.
fn merge(node: &mut Value, value: Value, path: &str) -> std::result::Result<(), String> {
    if path == KFAC && node.is_null() && value.is_object() {
        *node = kfac_defaults();
    }
    match (node, value) {
        (Value::Object(target), Value::Object(source)) => {
            for (k, v) in source {
                let key = format!("{path}.{k}");
                merge(target.get_mut(&k).ok_or_else(|| key.clone())?, v, &key)?;
            }
        }
        (node, value) => *node = value,
    }
    Ok(())
}

fn pointer<'a>(config: &'a Value, path: &str) -> Option<&'a Value> {
    config.pointer(&format!("/{}", path.replace('.', "/")))
}

fn kfac_defaults() -> Value {
    serde_json::to_value(KfacConfig::new()).expect("K-FAC config to JSON")
}

impl FitConfig {
    /// A config from JSON in sections, or in the flat keys of older records.
    pub fn from_json(value: Value) -> Result<Self> {
        let invalid = |e: serde_json::Error| TrainError::Invalid(format!("run config: {e}"));
        let Value::Object(map) = value else {
            return Err(TrainError::Invalid("run config: not an object".into()));
        };
        let flat = map.iter().any(|(k, v)| key_path(k, v) != k);
        if !flat {
            return serde_json::from_value(Value::Object(map)).map_err(invalid);
        }
        let name = map
            .get("optimizer")
            .and_then(Value::as_str)
            .ok_or_else(|| TrainError::Invalid("run config: no optimizer".into()))?
            .parse()
            .map_err(TrainError::Invalid)?;
        // The flat records wrote every option; the new sections' own fields start from the
        // defaults and take each flat value.
        let base = serde_json::to_value(FitConfig::new(name)).expect("config to JSON");
        let config = overlay(base, [&map])?;
        serde_json::from_value(config).map_err(invalid)
    }

    /// Deserialises a config in sections or in flat keys ([`FitConfig::from_json`]).
    pub fn deserialize_any<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Self::from_json(Value::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}
