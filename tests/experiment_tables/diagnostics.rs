//! The table of `theorem51-relu/`: the first unit-wise step of each run with its diagnostics
//! (first-order prediction, loss with the gates of θ₀, gates switched, relative step sizes).

use crate::fmt::g;
use crate::json::{int, list, load, num, opt_num, text};
use crate::markdown_table;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// Mean of a non-empty slice.
fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// `experiments/theorem51-relu/table.md` from `runs/<act>_M<M>_rho<0|default>_s<seed>.json`:
/// per (activation, M, ρ) the three seeds' loss₁/loss₀ measured, first-order and with the gates
/// of θ₀, the mean percentage of gates switched on/off per hidden layer, the mean ‖ηΔθ_l‖/‖W_l‖
/// and loss₃/loss₀.
pub fn theorem51_relu(root: &Path) -> String {
    let dir = root.join("experiments/theorem51-relu/runs");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("reading experiments/theorem51-relu/runs")
        .map(|e| {
            e.expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    let mut groups: BTreeMap<(String, usize, String), Vec<Value>> = BTreeMap::new();
    for name in &names {
        let stem = name.trim_end_matches(".json");
        let [act, m, rho, _seed] = stem.split('_').collect::<Vec<_>>()[..] else {
            panic!("unexpected record name {name}")
        };
        let m = m
            .strip_prefix('M')
            .and_then(|m| m.parse().ok())
            .expect("M<width>");
        let rho = rho.strip_prefix("rho").expect("rho<0|default>").to_string();
        let run = load(root, &format!("experiments/theorem51-relu/runs/{name}"));
        groups.entry((act.into(), m, rho)).or_default().push(run);
    }
    let rows = groups.into_iter().map(|((act, m, rho), runs)| {
        let relu = act == "relu";
        let first: Vec<(&Value, f64)> = runs
            .iter()
            .filter(|r| list(r, "steps").len() > 1)
            .map(|r| {
                (
                    &list(r, "steps")[1],
                    num(&list(r, "steps")[0], "train_loss"),
                )
            })
            .collect();
        let ratios = |key: &str| {
            first
                .iter()
                .map(|(s, l0)| g(opt_num(s, key).expect(key) / l0, 3))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let flips = || {
            (0..2)
                .map(|l| {
                    let pct = |side: &str| {
                        let v: Vec<f64> = first
                            .iter()
                            .map(|(s, _)| num(&list(s, "gate_flips")[l], side))
                            .collect();
                        format!("{:.1}", 100.0 * mean(&v))
                    };
                    format!("{} / {}", pct("on"), pct("off"))
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        let relative = (0..3)
            .map(|l| {
                let v: Vec<f64> = first
                    .iter()
                    .map(|(s, _)| list(s, "relative_step")[l].as_f64().expect("a number"))
                    .collect();
                g(mean(&v), 3)
            })
            .collect::<Vec<_>>()
            .join(", ");
        let end = runs
            .iter()
            .map(|r| match r.get("failure").filter(|f| !f.is_null()) {
                Some(f) => format!("failed at step {} ({})", int(f, "step"), text(f, "error")),
                None => {
                    let steps = list(r, "steps");
                    let last = num(&steps[steps.len() - 1], "train_loss");
                    g(last / num(&steps[0], "train_loss"), 3)
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        let alphas: Vec<f64> = runs.iter().map(|r| num(r, "alpha")).collect();
        vec![
            act.clone(),
            m.to_string(),
            if rho == "0" {
                "0".into()
            } else {
                "4e-8/M".into()
            },
            format!("{:.1}", mean(&alphas)),
            ratios("train_loss"),
            ratios("linearised_loss"),
            if relu {
                ratios("frozen_gate_loss")
            } else {
                "—".into()
            },
            if relu { flips() } else { "—".into() },
            relative,
            end,
        ]
    });
    markdown_table(
        "act | M | ρ | α̂ | loss₁/loss₀: measured | first-order | gates of θ₀ | gates switched on / off (%), layer 1; 2 | ‖ηΔθ_l‖/‖W_l‖, l = 1, 2, 3 | loss₃/loss₀",
        rows,
    )
}
