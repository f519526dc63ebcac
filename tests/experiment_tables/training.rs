//! Tables from training and prediction records: Fig. 1b (and its precision study), Theorem 5.1
//! (and its damping sweep), K-FAC, Fig. 2 and its Forster panel.

use crate::fmt::{e, e_short, fixed, g};
use crate::json::{int, list, load, num, opt_num, text, train_losses};
use crate::markdown_table;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// Python's `.3g`, or `—` for a missing value (the table scripts' `fmt`).
fn g3(x: Option<f64>) -> String {
    x.map_or("—".into(), |x| g(x, 3))
}

/// The train loss of a run record at `step`, if it got there.
fn loss_at(record: &Value, step: usize) -> Option<f64> {
    list(record, "steps")
        .iter()
        .find(|s| int(s, "step") == step)
        .and_then(|s| opt_num(s, "train_loss"))
}

/// experiments/README.md: Fig. 1b's train loss at steps 0, 1, 2, 4, 8 (`fig1b/L4`, `L5`).
pub fn fig1b(root: &Path) -> String {
    let rows = ["L4", "L5"].iter().flat_map(|l| {
        let doc = load(root, &format!("experiments/fig1b/{l}/results.json"));
        list(&doc, "runs")
            .iter()
            .map(|run| {
                let mut row = vec![text(run, "label").to_string()];
                row.extend([0, 1, 2, 4, 8].map(|t| g3(loss_at(&run["record"], t))));
                row
            })
            .collect::<Vec<_>>()
    });
    markdown_table("run | t=0 | 1 | 2 | 4 | 8", rows)
}

/// fig1b-precision/table.md (was `table.py`): per run the loss at steps 0, 1, 2, 4, 8, the
/// largest ‖ηΔθ_l‖/‖W_l‖ over layers and steps (with its layer) and the largest null component.
pub fn fig1b_precision(root: &Path) -> String {
    let mut out = String::new();
    for depth in ["4", "5", "5-below"] {
        let rel = format!("experiments/fig1b-precision/L{depth}/results.json");
        if !root.join(&rel).exists() {
            continue;
        }
        let doc = load(root, &rel);
        out += &format!("### L{depth}\n\n");
        let rows = list(&doc, "runs").iter().map(|run| {
            let record = &run["record"];
            let steps = list(record, "steps");
            // (value, layer) with the largest value; ties go to the later layer, as Python's max
            let top = steps
                .iter()
                .flat_map(|s| {
                    s.get("relative_step")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .enumerate()
                        .map(|(l, v)| (v.as_f64().expect("relative step"), l + 1))
                })
                .max_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let null = steps
                .iter()
                .filter_map(|s| opt_num(s, "null_component"))
                .max_by(f64::total_cmp);
            let mut cells: Vec<String> = [0, 1, 2, 4, 8].map(|t| g3(loss_at(record, t))).into();
            if let Some(div) = run.get("diverged").filter(|d| !d.is_null()) {
                let step = int(div, "step");
                cells[4] = match div.get("error").and_then(Value::as_str) {
                    Some(e) if !e.is_empty() => format!("dual solve singular at step {step}"),
                    _ => format!("diverged at step {step}"),
                };
            }
            let mut row = vec![text(run, "label").to_string()];
            row.extend(cells);
            row.push(top.map_or("—".into(), |(v, l)| format!("{} ({l})", g(v, 3))));
            row.push(g3(null));
            row
        });
        out += &markdown_table(
            "run | loss₀ | loss₁ | loss₂ | loss₄ | loss₈ | max ‖ηΔθ_l‖/‖W_l‖ (layer) | max null component",
            rows,
        );
        out += "\n";
    }
    out
}

/// experiments/README.md: Theorem 5.1, unit-wise NGD on MNIST: α̂ and κ of `ngd isotropy`
/// against γM(L−1)+1, and two steps at η = 1/α̂ (`theorem51/`).
pub fn theorem51(root: &Path) -> String {
    let iso: Vec<Value> = [
        "iso_mnist_relu.json",
        "iso_mnist_relu_4096.json",
        "iso_mnist_unitwise_tanh.json",
    ]
    .iter()
    .map(|f| load(root, &format!("experiments/theorem51/{f}")))
    .collect();
    let mut rows = Vec::new();
    for (act, gamma) in [("relu", 0.5), ("tanh", 1.0)] {
        for width in [256, 1024, 4096] {
            let (doc, r) = iso
                .iter()
                .filter(|d| text(&d["config"], "activation") == act)
                .find_map(|d| {
                    list(d, "results")
                        .iter()
                        .find(|r| text(r, "method") == "unit-wise" && int(r, "width") == width)
                        .map(|r| (d, r))
                })
                .unwrap_or_else(|| panic!("no unit-wise {act} M = {width} isotropy entry"));
            let seeds = int(r, "seeds");
            let depth = int(&doc["config"], "depth") as f64;
            let run = load(
                root,
                &format!("experiments/theorem51/train_unitwise_{act}_M{width}.json"),
            );
            let losses: Vec<String> = train_losses(&run).into_iter().map(|l| g(l, 3)).collect();
            rows.push(vec![
                act.to_string(),
                width.to_string(),
                format!(
                    "{} ({seeds} seed{})",
                    fixed(num(r, "alpha_mean"), 1),
                    if seeds == 1 { "" } else { "s" }
                ),
                fixed(gamma * width as f64 * (depth - 1.0) + 1.0, 0),
                fixed(num(r, "condition_number_mean"), 4),
                losses.join(" → "),
            ]);
        }
    }
    markdown_table(
        "activation | M | α̂ (mean eigenvalue) | γM(L−1)+1 | κ | η = 1/α̂: loss₀ → loss₁ → loss₂",
        rows,
    )
}

/// experiments/README.md: K-FAC's train loss over 4 steps at η = 1/(NL) and η = 1/α per width,
/// with the first step's ratio against the linear prediction (1 − αη)² (`kfac/`).
pub fn kfac(root: &Path) -> String {
    let mut widths: Vec<usize> = std::fs::read_dir(root.join("experiments/kfac"))
        .expect("reading experiments/kfac")
        .filter_map(|e| {
            let name = e.expect("directory entry").file_name();
            let name = name.to_string_lossy();
            name.strip_prefix("kfac_eta_1_over_NL_M")?
                .strip_suffix(".json")?
                .parse()
                .ok()
        })
        .collect();
    widths.sort_unstable();
    let load_run = |rate: &str, w: usize| {
        load(
            root,
            &format!("experiments/kfac/kfac_eta_1_over_{rate}_M{w}.json"),
        )
    };
    let cells = |run: &Value| {
        let losses = train_losses(run);
        let lr = num(run, "lr");
        let linear = (1.0 - num(run, "alpha") * lr).powi(2);
        let linear = if linear < 1e-12 { 0.0 } else { linear };
        [
            losses
                .iter()
                .map(|&l| g(l, 3))
                .collect::<Vec<_>>()
                .join(" → "),
            format!(
                "{} (lin. {})",
                fixed(losses[1] / losses[0], 3),
                g(linear, 3)
            ),
        ]
    };
    let first = |rate| (1.0 / num(&load_run(rate, widths[0]), "lr")).round();
    let header = format!(
        "M | η = 1/(NL) = 1/{} | step-1 ratio | η = 1/α = 1/{} | step-1 ratio",
        first("NL"),
        first("alpha")
    );
    let rows = widths.iter().map(|&w| {
        let mut row = vec![w.to_string()];
        row.extend(cells(&load_run("NL", w)));
        row.extend(cells(&load_run("alpha", w)));
        row
    });
    markdown_table(&header, rows)
}

/// A damping-sweep run's train losses (steps 0.., up to a failure) and α̂, from its JSON.
fn sweep_losses(root: &Path, stem: &str) -> (Vec<f64>, Option<f64>) {
    let run = load(root, &format!("experiments/theorem51-damping/{stem}.json"));
    (train_losses(&run), Some(num(&run, "alpha")))
}

/// theorem51-damping/table.md (was `table.py`): per activation, width and ε the damped α̂ and
/// the loss ratios of three seeds after 1 and 10 steps, or where a run failed.
pub fn theorem51_damping(root: &Path) -> String {
    let dir = root.join("experiments/theorem51-damping");
    let mut stems: Vec<String> = std::fs::read_dir(&dir)
        .expect("reading experiments/theorem51-damping")
        .filter_map(|e| {
            let name = e
                .expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned();
            // every run of run.sh leaves a .log beside its .json record
            name.strip_suffix(".log").map(str::to_string)
        })
        .collect();
    stems.sort();
    // (activation, M, order of ε: 1/48, 1/24, 1/12, then 0) → (ε, runs)
    type Runs = Vec<(Vec<f64>, Option<f64>)>;
    let mut groups: BTreeMap<(String, usize, i64), (u32, Runs)> = BTreeMap::new();
    for stem in &stems {
        let parts: Vec<&str> = stem.split('_').collect();
        let [act, m, eps, _seed] = parts[..] else {
            panic!("unexpected run name {stem}.log")
        };
        let m: usize = m
            .strip_prefix('M')
            .and_then(|m| m.parse().ok())
            .expect("M<width>");
        let eps: u32 = eps
            .strip_prefix("eps")
            .and_then(|e| e.parse().ok())
            .expect("eps<k>");
        let order = if eps == 0 { -1 } else { -i64::from(eps) };
        let entry = groups
            .entry((act.to_string(), m, order))
            .or_insert((eps, Vec::new()));
        entry.1.push(sweep_losses(root, stem));
    }
    let rows = groups.into_iter().map(|((act, m, _), (eps, runs))| {
        let rho = if eps == 0 {
            0.0
        } else {
            (m as f64).powf(-(1.0 + 1.0 / f64::from(eps)))
        };
        let gamma = if act == "relu" { 0.5 } else { 1.0 };
        let alphas: Vec<f64> = runs.iter().filter_map(|(_, a)| *a).collect();
        let alpha = if alphas.is_empty() {
            "n/a".to_string()
        } else {
            fixed(alphas.iter().sum::<f64>() / alphas.len() as f64, 1)
        };
        let first: Vec<String> = runs
            .iter()
            .filter(|(l, _)| l.len() > 1)
            .map(|(l, _)| g(l[1] / l[0], 3))
            .collect();
        let end: Vec<String> = runs
            .iter()
            .map(|(l, _)| match l.len() {
                11 => e(l[10] / l[0], 1),
                n => format!("failed after step {} ({})", n - 1, e(l[n - 1], 1)),
            })
            .collect();
        vec![
            act.clone(),
            m.to_string(),
            if eps == 0 {
                "0 (ρ=0)".into()
            } else {
                format!("1/{eps}")
            },
            g(rho, 3),
            alpha,
            fixed(gamma * m as f64 * 2.0 + 1.0, 0),
            first.join(", "),
            end.join("; "),
        ]
    });
    markdown_table(
        "act | M | ε | ρ (code) = M^−(1+ε) | α̂ (damped, mean) | γM(L−1)+1 | loss₁/loss₀ (3 seeds) | loss₁₀/loss₀ or failure",
        rows,
    )
}

/// fig2/README.md (was `table.py`): test accuracy and loss of f_∞ (mean ± std over seeds) and of
/// kernel regression per panel and method.
pub fn fig2(root: &Path) -> String {
    const ORDER: [&str; 5] = [
        "exact",
        "block-diagonal",
        "block-tri-diagonal",
        "kfac",
        "kfac-printed",
    ];
    let panels = [
        (
            "cifar10_airplane_horse",
            "CIFAR-10 airplane vs horse, N = 10000, N' = 2000",
        ),
        ("mnist_10class", "MNIST 10 classes, N = 10000, N' = 10000"),
        (
            "cifar10_10class",
            "CIFAR-10 10 classes, N = 10000, N' = 10000",
        ),
    ];
    let mut rows = Vec::new();
    for (name, title) in panels {
        let rel = format!("experiments/fig2/{name}.json");
        if !root.join(&rel).exists() {
            rows.push(vec![
                title.into(),
                "*not run*".into(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]);
            continue;
        }
        let doc = load(root, &rel);
        for m in ORDER {
            let Some(v) = doc["methods"].get(m) else {
                continue;
            };
            let (c, k) = (&v["converged"], &v["kernel_regression"]);
            rows.push(vec![
                title.into(),
                m.into(),
                format!(
                    "{} ± {}",
                    fixed(num(c, "test_accuracy_mean"), 4),
                    fixed(num(c, "test_accuracy_std"), 4)
                ),
                format!(
                    "{} ± {}",
                    fixed(num(c, "test_loss_mean"), 5),
                    fixed(num(c, "test_loss_std"), 5)
                ),
                fixed(num(k, "test_accuracy"), 4),
                fixed(num(k, "test_loss"), 5),
            ]);
        }
    }
    markdown_table(
        "panel | method | f_∞ test acc. (mean ± std, 10 seeds) | f_∞ test loss (mean ± std) | kernel regression acc. | kernel regression loss",
        rows,
    )
}

/// fig2-forster/README.md: the K-FAC panel on raw and Forster-transformed inputs — f_∞ and
/// kernel regression (`predict_*.json`) and three training steps (`train_*.json`).
pub fn fig2_forster(root: &Path) -> String {
    let rows = [("raw inputs", "raw"), ("Forster", "forster")].map(|(label, name)| {
        let predict = load(
            root,
            &format!("experiments/fig2-forster/predict_{name}.json"),
        );
        let train = load(root, &format!("experiments/fig2-forster/train_{name}.json"));
        let acc = |m: &str| {
            let c = &predict["methods"][m]["converged"];
            format!(
                "{} ± {}",
                fixed(num(c, "test_accuracy_mean"), 4),
                fixed(num(c, "test_accuracy_std"), 4)
            )
        };
        let steps = list(&train, "steps");
        let (first, last) = (&steps[1], &steps[steps.len() - 1]);
        let losses = train_losses(&train);
        let test_loss = num(last, "test_loss");
        // a test loss that rose after the first step shows where it was then
        let after_first = if test_loss > num(first, "test_loss") {
            format!(" ({} after step 1)", g(num(first, "test_loss"), 2))
        } else {
            String::new()
        };
        vec![
            label.to_string(),
            acc("exact"),
            acc("kfac"),
            fixed(
                num(
                    &predict["methods"]["kfac"]["kernel_regression"],
                    "test_accuracy",
                ),
                3,
            ),
            format!(
                "{} → {} / {}",
                g(losses[0], 3),
                e_short(losses[1], 1),
                e_short(losses[losses.len() - 1], 1)
            ),
            fixed(num(last, "test_accuracy"), 3),
            format!("{}{after_first}", g(test_loss, 3)),
        ]
    });
    markdown_table(
        "MNIST 0 vs 7, N = 1000 | exact f_∞ acc | K-FAC f_∞ acc (3 seeds) | K-FAC kernel regression | K-FAC train: loss after 1 / 3 steps | test acc after 3 steps | test loss after 3 steps",
        rows,
    )
}
