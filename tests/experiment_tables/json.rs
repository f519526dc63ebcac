//! Reading the committed JSON: loading with the path in every error, numbers read exactly as
//! Python reads them, and typed field access that names the missing or mistyped key.

use serde_json::{Number, Value};
use std::path::Path;

/// Parses `root/rel` as JSON.
pub fn load(root: &Path, rel: &str) -> Value {
    let text = std::fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    parse_exact(&text).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Marks a number that [`parse_exact`] passed through serde_json as a string.
const NUMBER: char = '\u{1}';

/// Parses JSON with every number read by the standard library's correctly rounded parser.
/// serde_json's default float parsing may be one unit in the last place off, which shows in
/// quantities such as |κ/κ_predicted − 1| ≈ 1e-14; the table scripts read the JSON exactly.
fn parse_exact(text: &str) -> serde_json::Result<Value> {
    let bytes = text.as_bytes();
    let mut quoted = Vec::with_capacity(bytes.len() + bytes.len() / 4);
    let (mut i, mut in_string) = (0, false);
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            let n = if b == b'\\' { 2 } else { 1 };
            in_string = b != b'"';
            quoted.extend_from_slice(&bytes[i..(i + n).min(bytes.len())]);
            i += n;
        } else if b == b'-' || b.is_ascii_digit() {
            let start = i;
            while i < bytes.len()
                && matches!(bytes[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
            {
                i += 1;
            }
            quoted.extend_from_slice(b"\"\\u0001");
            quoted.extend_from_slice(&bytes[start..i]);
            quoted.push(b'"');
        } else {
            in_string = b == b'"';
            quoted.push(b);
            i += 1;
        }
    }
    let text = String::from_utf8(quoted).expect("only ASCII was inserted");
    Ok(unquote(serde_json::from_str(&text)?))
}

/// Turns the strings marked by [`parse_exact`] back into numbers.
fn unquote(v: Value) -> Value {
    match v {
        Value::String(s) => match s.strip_prefix(NUMBER) {
            None => Value::String(s),
            Some(n) if n.contains(['.', 'e', 'E']) => {
                let x: f64 = n.parse().unwrap_or_else(|e| panic!("number {n}: {e}"));
                Value::Number(Number::from_f64(x).expect("a finite number"))
            }
            Some(n) => match n.parse::<u64>() {
                Ok(u) => Value::Number(u.into()),
                Err(_) => Value::Number(
                    n.parse::<i64>()
                        .unwrap_or_else(|e| panic!("number {n}: {e}"))
                        .into(),
                ),
            },
        },
        Value::Array(a) => Value::Array(a.into_iter().map(unquote).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, unquote(v))).collect()),
        other => other,
    }
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
