//! Tables from `ngd isotropy` records (condition number κ and α̂ of Θ̄ at initialisation):
//! `fig3/`, `fig3-damping/` and the α-vs-paper and relative-step tables of `theorem51/`.

use crate::fmt::{e, e_short, fixed, g, sig2, thousands};
use crate::json::{int, list, load, num, nums, text};
use crate::markdown_table;
use serde_json::Value;
use std::path::Path;

/// The results of one isotropy record, looked up by method and width.
struct Iso {
    /// The whole record (`config` and `results`).
    doc: Value,
}

impl Iso {
    /// Loads `root/rel`.
    fn load(root: &Path, rel: &str) -> Self {
        Self {
            doc: load(root, rel),
        }
    }

    /// The entry of `method` at `width`, if it was run.
    fn get(&self, method: &str, width: usize) -> Option<&Value> {
        list(&self.doc, "results")
            .iter()
            .find(|r| text(r, "method") == method && int(r, "width") == width)
    }

    /// The entries of `method` that did not fail, in width order.
    fn of(&self, method: &str) -> Vec<&Value> {
        let mut v: Vec<&Value> = list(&self.doc, "results")
            .iter()
            .filter(|r| text(r, "method") == method && !failed(r))
            .collect();
        v.sort_by_key(|r| int(r, "width"));
        v
    }

    /// The widths of the config.
    fn widths(&self) -> Vec<usize> {
        nums(&self.doc["config"], "widths")
            .into_iter()
            .map(|w| w as usize)
            .collect()
    }
}

/// Whether an entry records an error instead of a measurement.
fn failed(r: &Value) -> bool {
    r.get("error").is_some_and(|e| !e.is_null())
}

/// κ − 1 below this counts as exactly isotropic (rounding only).
const ISOTROPIC: f64 = 1e-9;

/// Fig. 3's table (experiments/README.md): κ per method and width, Python's `.3g ± .2g`.
pub fn fig3_kappa(root: &Path) -> String {
    let iso = Iso::load(root, "experiments/fig3/iso.json");
    let cell = |method: &str, width: usize| match iso.get(method, width) {
        None => "—".to_string(),
        Some(r) if failed(r) => "error".into(),
        Some(r) => {
            let k = num(r, "condition_number_mean");
            if k - 1.0 < ISOTROPIC {
                return "1.000".into();
            }
            let seeds = if int(r, "seeds") == 1 {
                " (1 seed)"
            } else {
                ""
            };
            format!(
                "{} ± {}{seeds}",
                g(k, 3),
                g(num(r, "condition_number_std"), 2)
            )
        }
    };
    let header = "width | NTK | exact | BD | BTD | K-FAC | unit-wise | diagonal = quasi-diagonal";
    let methods = [
        "ntk",
        "exact",
        "block-diagonal",
        "block-tri-diagonal",
        "kfac",
        "unit-wise",
    ];
    let rows = iso.widths().into_iter().map(|w| {
        let mut row = vec![w.to_string()];
        row.extend(methods.iter().map(|m| cell(m, w)));
        // σ_b² = 0 makes the two the same; say so in the cell if they ever differ.
        let (d, q) = (cell("diagonal", w), cell("quasi-diagonal", w));
        row.push(if d == q { d } else { format!("{d} / {q}") });
        row
    });
    markdown_table(header, rows)
}

/// κ as the damping tables of the READMEs show it: decimals by size and spread, the std
/// left out when it rounds to zero, `1` for an exactly isotropic Θ̄.
fn kappa_cell(mean: f64, std: f64) -> String {
    if mean - 1.0 < ISOTROPIC {
        return "1".into();
    }
    let d = if mean >= 100.0 {
        0
    } else if mean >= 10.0 {
        1
    } else if mean >= 2.0 {
        if std >= 1.0 { 1 } else { 2 }
    } else if mean < 1.1 && std < 5e-4 {
        4
    } else {
        3
    };
    let s = fixed(std, d);
    if s.chars().all(|c| c == '0' || c == '.') {
        fixed(mean, d)
    } else {
        format!("{} ± {s}", fixed(mean, d))
    }
}

/// The rows of the damping κ tables: label, ρ column, series name in `merged.json`.
const DAMPING_ROWS: &[(&str, &str, &str)] = &[
    ("NTK Θ", "—", "ntk"),
    ("exact", "0", "exact ρ=0"),
    ("exact", "1e-8", "exact ρ=1e-8"),
    ("exact", "1e-6", "exact ρ=1e-6"),
    ("exact", "1e-4", "exact ρ=1e-4"),
    ("BD", "0", "block-diagonal ρ=0"),
    ("BD", "1e-10", "block-diagonal ρ=1e-10"),
    ("BD", "1e-8", "block-diagonal ρ=1e-8"),
    ("BD", "1e-6", "block-diagonal ρ=1e-6"),
    ("BD", "1e-4", "block-diagonal ρ=1e-4"),
    ("unit-wise", "0", "unit-wise ρ=0"),
    ("unit-wise", "1e-10", "unit-wise ρ=1e-10"),
    ("unit-wise", "1e-8", "unit-wise ρ=1e-8"),
    ("unit-wise", "1e-6", "unit-wise ρ=1e-6"),
    ("unit-wise", "1e-4", "unit-wise ρ=1e-4"),
];

/// A κ table from `fig3-damping/merged.json` for the given rows and widths; `merge.py` leaves
/// out the runs that failed (ρ = 0 below width N), which show as `error`.
fn damping_table(root: &Path, rows: &[(&str, &str, &str)], widths: &[usize], m: &str) -> String {
    let iso = Iso::load(root, "experiments/fig3-damping/merged.json");
    let header = format!(
        "method | ρ | {}",
        widths
            .iter()
            .enumerate()
            .map(|(i, w)| if i == 0 {
                format!("{m}{w}")
            } else {
                w.to_string()
            })
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let rows = rows.iter().map(|(label, rho, series)| {
        let mut row = vec![label.to_string(), rho.to_string()];
        row.extend(widths.iter().map(|&w| match iso.get(series, w) {
            None => "error".to_string(),
            Some(r) => kappa_cell(
                num(r, "condition_number_mean"),
                num(r, "condition_number_std"),
            ),
        }));
        row
    });
    markdown_table(&header, rows)
}

/// fig3-damping/README.md: κ of every series at every width.
pub fn damping_kappa(root: &Path) -> String {
    let widths = Iso::load(root, "experiments/fig3-damping/merged.json").widths();
    damping_table(root, DAMPING_ROWS, &widths, "")
}

/// experiments/README.md: BD and unit-wise at every ρ and exact at 1e-6, six widths.
pub fn damping_kappa_selected(root: &Path) -> String {
    let rows: Vec<_> = DAMPING_ROWS[5..]
        .iter()
        .chain(&DAMPING_ROWS[3..4])
        .copied()
        .collect();
    damping_table(root, &rows, &[16, 64, 128, 512, 2048, 4096], "M = ")
}

/// fig3-damping/tables.md (was `table.py`): κ and α̂ of every series at every width, and the
/// exact method against its closed form (1 + ρ/λ_min(Θ))/(1 + ρ/λ_max(Θ)).
pub fn damping_tables(root: &Path) -> String {
    let iso = Iso::load(root, "experiments/fig3-damping/merged.json");
    let config = &iso.doc["config"];
    let widths = iso.widths();
    let cell = |x: f64, s: f64| {
        let d = if x >= 100.0 {
            0
        } else if x >= 10.0 {
            1
        } else if x < 1.1 {
            4
        } else {
            3
        };
        format!("{} ± {}", fixed(x, d), fixed(s, d))
    };
    let mut out = String::new();
    for (key, title) in [("condition_number", "κ"), ("alpha", "α̂")] {
        out += &format!(
            "\n{title} (mean ± std over {} seeds)\n\n",
            int(config, "seeds")
        );
        let header = format!(
            "method | ρ | {}",
            widths
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(" | ")
        );
        let rows = list(config, "methods").iter().map(|m| {
            let m = m.as_str().expect("method name");
            let (name, rho) = m.split_once(" ρ=").unwrap_or((m, "—"));
            let mut row = vec![name.to_string(), rho.to_string()];
            row.extend(widths.iter().map(|&w| match iso.get(m, w) {
                None => "—".to_string(),
                Some(r) => cell(
                    num(r, &format!("{key}_mean")),
                    num(r, &format!("{key}_std")),
                ),
            }));
            row
        });
        out += &markdown_table(&header, rows);
    }
    out += "\nexact: measured κ vs (1+ρ/λmin(Θ))/(1+ρ/λmax(Θ)), NTK eigenvalues of the same run and seed\n";
    out += &format!(
        "max |κ_measured/κ_predicted − 1| = {}\n",
        e(exact_closed_form_error(root), 2)
    );
    out
}

/// The largest |κ/κ_closed-form − 1| of the exact method over the damped runs
/// `fig3-damping/iso_rho<ρ>[_4096].json`, per seed, with the NTK eigenvalues of the same seed.
fn exact_closed_form_error(root: &Path) -> f64 {
    let dir = root.join("experiments/fig3-damping");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("reading experiments/fig3-damping")
        .map(|e| {
            e.expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| {
            n.strip_prefix("iso_rho1e-")
                .and_then(|n| n.strip_suffix(".json"))
                .is_some_and(|n| {
                    let digits = n.strip_suffix("_4096").unwrap_or(n);
                    !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
                })
        })
        .collect();
    names.sort();
    let mut worst = 0.0f64;
    for name in names {
        let rho: f64 = name["iso_rho".len()..]
            .trim_end_matches(".json")
            .trim_end_matches("_4096")
            .parse()
            .expect("ρ in the file name");
        let iso = Iso::load(root, &format!("experiments/fig3-damping/{name}"));
        for r in iso.of("exact") {
            let ntk = iso
                .get("ntk", int(r, "width"))
                .expect("the NTK of the same width");
            for (s, t) in list(r, "per_seed").iter().zip(list(ntk, "per_seed")) {
                let predicted =
                    (1.0 + rho / num(t, "eigenvalue_min")) / (1.0 + rho / num(t, "eigenvalue_max"));
                worst = worst.max((num(s, "condition_number") / predicted - 1.0).abs());
            }
        }
    }
    worst
}

/// The span of values at `d` decimals: one number, or `min–max` when they differ there.
fn span(values: &[f64], d: usize) -> String {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (a, b) = (fixed(min, d), fixed(max, d));
    if a == b { a } else { format!("{a}–{b}") }
}

/// A whole number without decimals, anything else with four.
fn whole(x: f64) -> String {
    if (x - x.round()).abs() < 1e-6 {
        fixed(x, 0)
    } else {
        fixed(x, 4)
    }
}

/// `x` rounded up in its leading digit: 2.46e-14 → `3e-14`.
fn bound(x: f64) -> String {
    let exp = x.log10().floor() as i32;
    let lead = (x / 10f64.powi(exp)).ceil() as i32;
    if lead >= 10 {
        format!("1e{}", exp + 1)
    } else {
        format!("{lead}e{exp}")
    }
}

/// `κ = 1` when every entry is isotropic to 6 digits, else the largest κ.
fn kappa_note(entries: &[&Value]) -> String {
    let worst = entries
        .iter()
        .map(|r| num(r, "condition_number_mean"))
        .fold(1.0, f64::max);
    if worst - 1.0 < 1e-6 {
        "κ = 1".into()
    } else {
        format!("κ ≤ {}", g(worst, 4))
    }
}

/// α̂ of `method` in one `fig3/alpha_depth_L*.json` record (`None` if that run failed).
fn depth_alpha(root: &Path, file: &str, method: &str) -> (Option<f64>, Value) {
    let iso = Iso::load(root, &format!("experiments/fig3/{file}"));
    let r = list(&iso.doc, "results")
        .iter()
        .find(|r| text(r, "method") == method)
        .cloned()
        .unwrap_or_else(|| panic!("no {method} in {file}"));
    let alpha = (!failed(&r)).then(|| num(&r, "alpha_mean"));
    (alpha, r)
}

/// experiments/README.md: measured α̂ (and κ) of every method against the paper's α, from
/// `fig3/iso.json`, `fig3/alpha_depth_L*.json` and `theorem51/iso_mnist_*.json`.
pub fn alpha_vs_paper(root: &Path) -> String {
    let gauss = Iso::load(root, "experiments/fig3/iso.json");
    let mnist = Iso::load(root, "experiments/theorem51/iso_mnist_relu.json");
    let tanh = Iso::load(root, "experiments/theorem51/iso_mnist_unitwise_tanh.json");
    let alphas = |entries: &[&Value]| {
        entries
            .iter()
            .map(|r| num(r, "alpha_mean"))
            .collect::<Vec<_>>()
    };
    let depths = [4, 5, 6, 7];
    let deep = |method: &str| -> Vec<(usize, Option<f64>, Value)> {
        depths
            .iter()
            .map(|&l| {
                let (a, r) = depth_alpha(root, &format!("alpha_depth_L{l}.json"), method);
                (l, a, r)
            })
            .collect()
    };

    // exact: α̂ and the largest per-seed κ − 1 over every width and both inputs.
    let exact: Vec<&Value> = gauss
        .of("exact")
        .into_iter()
        .chain(mnist.of("exact"))
        .collect();
    let kappa_max = exact
        .iter()
        .flat_map(|r| list(r, "per_seed"))
        .map(|s| num(s, "condition_number") - 1.0)
        .fold(0.0, f64::max);
    let exact_cell = format!(
        "{} (κ − 1 < {}), every width, Gaussian and MNIST",
        span(&alphas(&exact), 4),
        bound(kappa_max)
    );

    // block-diagonal: L = 3 at every width, then the depth sweep.
    let bd3 = gauss.of("block-diagonal");
    let bd_deep = deep("block-diagonal");
    let bd_values: Vec<String> = bd_deep
        .iter()
        .map(|(_, a, _)| whole(a.expect("BD α")))
        .collect();
    let bd_entries: Vec<&Value> = bd3
        .iter()
        .copied()
        .chain(bd_deep.iter().map(|(_, _, r)| r))
        .collect();
    let bd_cell = format!(
        "{} (L = 3), {} for L = 4…7 ({})",
        span(&alphas(&bd3), 4),
        bd_values.join(", "),
        kappa_note(&bd_entries)
    );

    // block tri-diagonal: L = 3, 4, 6, 7 converge; L = 5 at ρ = 0 and at a small ρ.
    let btd3 = gauss.of("block-tri-diagonal");
    let btd_deep = deep("block-tri-diagonal");
    let mut parts = vec![format!("L = 3: {}", whole(alphas(&btd3)[0]))];
    let mut btd_entries: Vec<&Value> = btd3.clone();
    for (l, a, r) in &btd_deep {
        // L = 5 (Σ singular) is reported on its own below.
        if let (Some(a), false) = (a, *l == 5) {
            parts.push(format!("L = {l}: {}", whole(*a)));
            btd_entries.push(r);
        }
    }
    let l5 = btd_deep
        .iter()
        .find(|(l, _, _)| *l == 5)
        .and_then(|(_, a, _)| *a);
    let (l5_damped, l5_entry) =
        depth_alpha(root, "alpha_depth_L5_rho1e-12.json", "block-tri-diagonal");
    let l5_rho = num(
        &load(root, "experiments/fig3/alpha_depth_L5_rho1e-12.json")["config"],
        "damping",
    );
    let btd_cell = format!(
        "{} ({}); L = 5 at ρ = 0 (pseudo-inverse limit): {}; at ρ = {}: {} ({})",
        parts.join("; "),
        kappa_note(&btd_entries),
        l5.map_or("refused".into(), |a| fixed(a, 4)),
        g(l5_rho, 3),
        fixed(l5_damped.expect("BTD α at L = 5, ρ > 0"), 4),
        kappa_note(&[&l5_entry])
    );

    // K-FAC: N(L−1)+1.
    let kfac3 = gauss.of("kfac");
    let kfac_deep = deep("kfac");
    let kfac_values: Vec<String> = kfac_deep
        .iter()
        .map(|(_, a, _)| whole(a.expect("K-FAC α")))
        .collect();
    let kfac_entries: Vec<&Value> = kfac3
        .iter()
        .copied()
        .chain(kfac_deep.iter().map(|(_, _, r)| r))
        .collect();
    let kfac_cell = format!(
        "**N(L−1)+1 = {}** ({}), and {} for L = 4…7",
        span(&alphas(&kfac3), 0),
        kappa_note(&kfac_entries),
        kfac_values.join(", ")
    );

    // unit-wise: γM(L−1)+1 at the largest widths, ReLU and tanh.
    let unit = *gauss.of("unit-wise").last().expect("unit-wise entries");
    let unit_mnist = *mnist
        .of("unit-wise")
        .last()
        .expect("unit-wise MNIST entries");
    let (w, wm) = (int(unit, "width"), int(unit_mnist, "width"));
    // γM(L−1)+1 with γ = 1/2 (ReLU)
    let relu_alpha = |m: usize, doc: &Value| m * (int(&doc["config"], "depth") - 1) / 2 + 1;
    let tanh_entries = tanh.of("unit-wise");
    let tanh_exact = tanh_entries
        .iter()
        .all(|r| (num(r, "alpha_mean") - (2 * int(r, "width") + 1) as f64).abs() < 1e-6);
    let unit_cell = format!(
        "Gaussian M = {w}: {} ± {} vs {}; MNIST ReLU M = {wm}: {} vs {}; tanh: {}{}",
        fixed(num(unit, "alpha_mean"), 1),
        g(num(unit, "alpha_std"), 2),
        relu_alpha(w, &gauss.doc),
        fixed(num(unit_mnist, "alpha_mean"), 1),
        relu_alpha(wm, &mnist.doc),
        tanh_entries
            .iter()
            .map(|r| whole(num(r, "alpha_mean")))
            .collect::<Vec<_>>()
            .join(", "),
        if tanh_exact {
            " = 2M+1 exactly"
        } else {
            " (2M+1: not exactly)"
        }
    );

    // diagonal: the Gaussian widths with every seed, and MNIST.
    let diag: Vec<&Value> = gauss
        .of("diagonal")
        .into_iter()
        .filter(|r| int(r, "seeds") > 1)
        .collect();
    let (first, last) = (diag[0], diag[diag.len() - 1]);
    let kappas = |entries: &[&Value]| {
        entries
            .iter()
            .map(|r| num(r, "condition_number_mean"))
            .collect::<Vec<_>>()
    };
    let diag_cell = format!(
        "α̂ = {} (M = {}) … {} ({}), κ = {} (Gaussian), {} (MNIST)",
        thousands(num(first, "alpha_mean")),
        int(first, "width"),
        thousands(num(last, "alpha_mean")),
        int(last, "width"),
        span(&kappas(&diag), 0),
        span(&kappas(&mnist.of("diagonal")), 0)
    );

    // NTK: at the largest Gaussian width, and MNIST's κ.
    let ntk = *gauss.of("ntk").last().expect("NTK entries");
    let ntk_cell = format!(
        "{}, κ ≈ {} (Gaussian), {} (MNIST)",
        e_short(num(ntk, "alpha_mean"), 1),
        fixed(num(ntk, "condition_number_mean"), 0),
        span(&kappas(&mnist.of("ntk")), 0)
    );

    let row = |cells: [&str; 4]| cells.iter().map(|c| c.to_string()).collect::<Vec<_>>();
    let rows = vec![
        row(["exact", "1", &exact_cell, "yes"]),
        row(["block-diagonal", "L", &bd_cell, "yes"]),
        row([
            "block tri-diagonal",
            "L = 3s: s; 3s+1: s+1; 3s+2: Σ singular",
            &btd_cell,
            "yes; L = 5 has the finite limit 1ᵀΣ⁺1 = 2 (see Fig. 1b)",
        ]),
        row([
            "K-FAC",
            "N·L = 300 (L = 3)",
            &kfac_cell,
            "no: the last layer contributes 1, not N (below)",
        ]),
        row([
            "unit-wise",
            "γM(L−1) (+1 output unit)",
            &unit_cell,
            "yes (ReLU to ~1%, κ → 1 with width)",
        ]),
        row([
            "diagonal, quasi-diagonal",
            "— (not isotropic)",
            &diag_cell,
            "not isotropic, as the paper says",
        ]),
        row(["NTK (GD)", "—", &ntk_cell, "—"]),
    ];
    markdown_table("method | paper's α | measured α̂ (κ) | agrees?", rows)
}

/// experiments/README.md (K-FAC section): ‖ηΔθ_l‖_F/‖W_l‖_F of the first step at η = 1/α̂ per
/// layer, MNIST ReLU, from `theorem51/iso_mnist_relu*.json`; K-FAC's hidden layers in bold.
pub fn relative_step(root: &Path) -> String {
    let files = [
        Iso::load(root, "experiments/theorem51/iso_mnist_relu.json"),
        Iso::load(root, "experiments/theorem51/iso_mnist_relu_4096.json"),
    ];
    let methods = ["exact", "block-diagonal", "kfac", "unit-wise"];
    let rows = files.iter().flat_map(|iso| {
        iso.widths().into_iter().map(move |w| {
            let seeds = int(&iso.doc["config"], "seeds");
            let mut row = vec![if seeds == 1 {
                format!("{w} (1 seed)")
            } else {
                w.to_string()
            }];
            row.extend(methods.iter().map(|m| match iso.get(m, w) {
                Some(r) if !failed(r) => {
                    let steps: Vec<String> = nums(r, "relative_step_mean")
                        .into_iter()
                        .map(sig2)
                        .collect();
                    if *m == "kfac" {
                        let (hidden, last) = steps.split_at(steps.len() - 1);
                        format!("**{}**, {}", hidden.join(", "), last[0])
                    } else {
                        steps.join(", ")
                    }
                }
                _ => "—".to_string(),
            }));
            row
        })
    });
    markdown_table("M | exact | BD | K-FAC | unit-wise (ReLU)", rows)
}
