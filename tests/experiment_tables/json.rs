//! Reading the committed JSON: loading with the path in every error, numbers read exactly as
//! Python reads them, and typed field access that names the missing or mistyped key.

use serde_json::Value;
use std::path::Path;

/// Parses `root/rel` as JSON, every number read correctly rounded (serde_json's
/// `float_roundtrip`, as Python reads them: the default parser may be one unit in the last
/// place off, which shows in quantities such as |κ/κ_predicted − 1| ≈ 1e-14).
pub fn load(root: &Path, rel: &str) -> Value {
    let text = std::fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// `v[key]` as a number.
pub fn num(v: &Value, key: &str) -> f64 {
    opt_num(v, key).unwrap_or_else(|| panic!("no number {key:?} in {}", brief(v)))
}

/// `v[key]` as a number, `None` when absent or null.
pub fn opt_num(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64)
}

/// `v[key]` as an unsigned integer.
pub fn int(v: &Value, key: &str) -> usize {
    v.get(key)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("no integer {key:?} in {}", brief(v))) as usize
}

/// `v[key]` as a string.
pub fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string {key:?} in {}", brief(v)))
}

/// `v[key]` as an array.
pub fn list<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_else(|| panic!("no array {key:?} in {}", brief(v)))
}

/// `v[key]` as an array of numbers.
pub fn nums(v: &Value, key: &str) -> Vec<f64> {
    list(v, key)
        .iter()
        .map(|x| {
            x.as_f64()
                .unwrap_or_else(|| panic!("{key:?}: not a number: {x}"))
        })
        .collect()
}

/// The train losses of a run record's `steps`.
pub fn train_losses(record: &Value) -> Vec<f64> {
    list(record, "steps")
        .iter()
        .map(|s| num(s, "train_loss"))
        .collect()
}

/// The first 200 characters of a value, for error messages.
fn brief(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}
