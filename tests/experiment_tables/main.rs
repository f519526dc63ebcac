//! The experiment tables are regenerated from the committed JSON under `experiments/` and
//! compared with the Markdown: every `<!-- table: ID -->` … `<!-- /table -->` block in
//! `README.md`, `experiments/README.md` and `experiments/*/README.md`, and every generated
//! `table.md` / `tables.md` file. A mismatch fails naming the file, the table and each differing
//! line. `NGD_BLESS_TABLES=1 cargo test --release --test experiment_tables` rewrites the blocks
//! and files from the JSON instead. JSON only, no training: it runs in well under a second.

mod diagnostics;
mod fmt;
mod isotropy;
mod json;
mod measured;
mod training;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Opening marker of a generated block; the table's id follows it.
const OPEN: &str = "<!-- table: ";
/// Closing marker of a generated block.
const CLOSE: &str = "<!-- /table -->";
/// Environment variable that switches the test from checking to rewriting.
const BLESS: &str = "NGD_BLESS_TABLES";

/// A table's renderer: the repository root in, the Markdown table (lines ending in `\n`) out.
type Render = fn(&Path) -> String;

/// The marked blocks: id (`<folder> <name>`) and renderer.
const BLOCKS: &[(&str, Render)] = &[
    ("experiments/bench steps", measured::bench),
    ("experiments/full-mnist summary", |r| {
        measured::sweep_rows(r, "full-mnist")
    }),
    ("experiments/full-mnist-batch summary", |r| {
        measured::sweep_rows(r, "full-mnist-batch")
    }),
    ("experiments/full-mnist-batch batch", |r| {
        measured::batch_rows(r, "full-mnist-batch")
    }),
    ("experiments/full-mnist-intervals summary", |r| {
        measured::sweep_rows(r, "full-mnist-intervals")
    }),
    ("experiments/full-mnist-dual summary", |r| {
        measured::sweep_rows(r, "full-mnist-dual")
    }),
    ("experiments/full-cifar10 summary", |r| {
        measured::sweep_rows(r, "full-cifar10")
    }),
    ("experiments/cifar10-cnn summary", |r| {
        measured::sweep_rows(r, "cifar10-cnn")
    }),
    ("experiments/fig3 condition-numbers", isotropy::fig3_kappa),
    (
        "experiments/fig3-damping condition-numbers",
        isotropy::damping_kappa,
    ),
    (
        "experiments/fig3-damping condition-numbers-selected",
        isotropy::damping_kappa_selected,
    ),
    ("experiments/fig3 alpha-vs-paper", isotropy::alpha_vs_paper),
    (
        "experiments/theorem51 relative-step",
        isotropy::relative_step,
    ),
    ("experiments/fig1b train-loss", training::fig1b),
    ("experiments/theorem51 unit-wise", training::theorem51),
    ("experiments/kfac train-loss", training::kfac),
    ("experiments/fig2 accuracy", training::fig2),
    ("experiments/fig2-forster kfac", training::fig2_forster),
];

/// The generated files: path under the root and renderer.
const FILES: &[(&str, Render)] = &[
    (
        "experiments/fig1b-precision/table.md",
        training::fig1b_precision,
    ),
    (
        "experiments/fig3-damping/tables.md",
        isotropy::damping_tables,
    ),
    (
        "experiments/theorem51-damping/table.md",
        training::theorem51_damping,
    ),
    (
        "experiments/theorem51-relu/table.md",
        diagnostics::theorem51_relu,
    ),
    ("experiments/full-mnist/table.md", |r| {
        measured::sweep_table(r, "full-mnist")
    }),
    ("experiments/full-mnist-batch/table.md", |r| {
        measured::sweep_table(r, "full-mnist-batch")
    }),
    ("experiments/full-mnist-intervals/table.md", |r| {
        measured::sweep_table(r, "full-mnist-intervals")
    }),
    ("experiments/full-mnist-dual/table.md", |r| {
        measured::sweep_table(r, "full-mnist-dual")
    }),
    ("experiments/full-cifar10/table.md", |r| {
        measured::sweep_table(r, "full-cifar10")
    }),
    ("experiments/cifar10-cnn/table.md", |r| {
        measured::sweep_table(r, "cifar10-cnn")
    }),
];

/// A Markdown table: the header's cells (joined by ` | `, without the outer bars), then the rows.
pub fn markdown_table(header: &str, rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let columns = header.split(" | ").count();
    let mut out = format!("| {header} |\n|{}\n", "---|".repeat(columns));
    for row in rows {
        out += &format!("| {} |\n", row.join(" | "));
    }
    out
}

/// The repository root (the root package's folder).
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Markdown files that may hold marked blocks, relative to the root.
fn markdown_files(root: &Path) -> Vec<PathBuf> {
    let mut files = vec![
        PathBuf::from("README.md"),
        PathBuf::from("experiments/README.md"),
    ];
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root.join("experiments"))
        .expect("reading experiments/")
        .map(|e| e.expect("reading experiments/").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        if dir.join("README.md").is_file() {
            let rel = dir.strip_prefix(root).expect("under the root");
            files.push(rel.join("README.md"));
        }
    }
    files
}

/// The renderer of a block id.
fn renderer(id: &str) -> Option<Render> {
    BLOCKS.iter().find(|(i, _)| *i == id).map(|(_, r)| *r)
}

/// One difference between a generated table and the committed one.
struct Mismatch {
    /// File, relative to the root.
    file: String,
    /// Table id (or the file name for generated files).
    table: String,
    /// The differing lines: (line number in the file, expected, committed).
    lines: Vec<(usize, String, String)>,
}

/// Line-by-line differences of `expected` and `committed`; `first_line` numbers the first one.
fn differences(expected: &str, committed: &str, first_line: usize) -> Vec<(usize, String, String)> {
    let e: Vec<&str> = expected.lines().collect();
    let c: Vec<&str> = committed.lines().collect();
    (0..e.len().max(c.len()))
        .filter(|&i| e.get(i) != c.get(i))
        .map(|i| {
            let show = |l: Option<&&str>| l.map_or("(no line)".to_string(), |s| s.to_string());
            (first_line + i, show(e.get(i)), show(c.get(i)))
        })
        .collect()
}

/// Checks (or, with `bless`, rewrites) the marked blocks of one Markdown file; returns the ids
/// found and the mismatches.
fn check_blocks(root: &Path, file: &Path, bless: bool) -> (Vec<String>, Vec<Mismatch>) {
    let path = root.join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let (mut out, mut ids, mut mismatches) = (String::new(), Vec::new(), Vec::new());
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        out += line;
        let trimmed = line.trim_start();
        let Some(rest) = trimmed.strip_prefix(OPEN) else {
            i += 1;
            continue;
        };
        let id = rest.trim_end().strip_suffix("-->").map(str::trim);
        let id = id.unwrap_or_else(|| panic!("{}:{}: unclosed marker", file.display(), i + 1));
        let render = renderer(id)
            .unwrap_or_else(|| panic!("{}:{}: unknown table id {id:?}", file.display(), i + 1));
        let indent = &line[..line.len() - trimmed.len()];
        let end = (i + 1..lines.len())
            .find(|&j| lines[j].trim() == CLOSE)
            .unwrap_or_else(|| panic!("{}:{}: no {CLOSE} for {id}", file.display(), i + 1));
        // The committed table, without its indentation and the blank line before the close.
        let committed: String = lines[i + 1..end]
            .iter()
            .map(|l| match l.strip_prefix(indent) {
                Some(rest) => rest,
                None if l.trim().is_empty() => "\n",
                None => l,
            })
            .collect::<String>()
            .trim_end()
            .to_string()
            + "\n";
        let expected = render(root);
        let diff = differences(&expected, &committed, i + 2);
        if !diff.is_empty() {
            mismatches.push(Mismatch {
                file: file.display().to_string(),
                table: id.to_string(),
                lines: diff,
            });
        }
        for l in expected.lines() {
            out += &format!("{indent}{l}\n");
        }
        out += "\n";
        out += lines[end];
        ids.push(id.to_string());
        i = end + 1;
    }
    if bless && out != text {
        std::fs::write(&path, out).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        eprintln!("blessed {}", file.display());
    }
    (ids, mismatches)
}

/// Checks (or, with `bless`, rewrites) one generated file.
fn check_file(root: &Path, file: &str, render: Render, bless: bool) -> Option<Mismatch> {
    let path = root.join(file);
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let expected = render(root);
    if expected == committed {
        return None;
    }
    if bless {
        std::fs::write(&path, &expected).unwrap_or_else(|e| panic!("{file}: {e}"));
        eprintln!("blessed {file}");
    }
    let mut lines = differences(&expected, &committed, 1);
    if lines.is_empty() {
        lines.push((0, "(trailing newlines differ)".into(), String::new()));
    }
    Some(Mismatch {
        file: file.to_string(),
        table: file.rsplit('/').next().unwrap_or(file).to_string(),
        lines,
    })
}

/// Every marked block and generated file equals its rendering from the JSON (bless: is made to).
#[test]
fn experiment_tables_match_their_json() {
    let start = std::time::Instant::now();
    let root = root();
    let bless = std::env::var_os(BLESS).is_some_and(|v| !v.is_empty() && v != "0");
    let mut mismatches = Vec::new();
    let mut found = BTreeSet::new();
    for file in markdown_files(&root) {
        let (ids, m) = check_blocks(&root, &file, bless);
        for id in ids {
            assert!(
                found.insert(id.clone()),
                "table {id} is marked twice ({})",
                file.display()
            );
        }
        mismatches.extend(m);
    }
    for (id, _) in BLOCKS {
        assert!(found.contains(*id), "no marked block for table {id}");
    }
    for (file, render) in FILES {
        mismatches.extend(check_file(&root, file, *render, bless));
    }
    eprintln!(
        "{} blocks and {} files checked in {:.2} s",
        found.len(),
        FILES.len(),
        start.elapsed().as_secs_f64()
    );
    if mismatches.is_empty() {
        return;
    }
    let mut report = String::new();
    for m in &mismatches {
        report += &format!("\n{} — table {}:\n", m.file, m.table);
        for (line, expected, committed) in &m.lines {
            report += &format!(
                "  line {line}\n    expected (from JSON): {expected}\n    committed:            {committed}\n"
            );
        }
    }
    if bless {
        eprintln!("rewrote from the JSON:{report}");
    } else {
        panic!(
            "{} table(s) differ from their JSON:{report}\nIf the JSON is right, rewrite the tables with \
             `{BLESS}=1 cargo test --release --test experiment_tables` and read the diff.",
            mismatches.len()
        );
    }
}
