//! `ngd_train::fit::fit` gives bit-identical numbers with 1 and with 2 threads: every
//! evaluation's losses and accuracies, the damping, and the final parameters (each bit) and
//! their checkpoint's test loss and accuracy, for Adam and for K-FAC with a sampled Fisher,
//! running averages (β = 0.9) and inverses every 3 steps.
//!
//! The thread count is rayon's global pool, which burn's flex backend (its gemm) and faer use;
//! rayon reads `RAYON_NUM_THREADS` once per process, so each thread count runs in a child
//! process: this test binary run again, filtered to [`child_fit_record`], which writes its
//! numbers as JSON.

use ngd_data::Holdout;
use ngd_model::Classifier;
use ngd_optim::Method;
use ngd_train::fit::{self, FitConfig, FitOptions, OptimizerKind, Status};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;

/// Where the child writes its record; unset in a normal test run.
const OUT_ENV: &str = "NGD_TEST_FIT_THREADS_OUT";

/// The small MLP of tests/minibatch.rs (784-128-128-10, standard parameterisation), batch 50,
/// one epoch of 36 steps on 1,800 MNIST images, three evaluations.
fn config(optimizer: OptimizerKind) -> FitConfig {
    let mut cfg = ngd_suite::small_fit_config(optimizer);
    match optimizer {
        OptimizerKind::Adam => cfg.optimizer.lr = 1e-3,
        _ => {
            cfg.optimizer.lr = 0.1;
            ngd_suite::small_kfac(&mut cfg, 3);
        }
    }
    cfg
}

const OPTIMIZERS: [(&str, OptimizerKind); 2] = [
    ("adam", OptimizerKind::Adam),
    ("kfac", OptimizerKind::Ngd(Method::Kfac)),
];

/// One run's numbers: the evaluations without wall times, the status, and the checkpoint's
/// parameters (f32 bits, in order) with their test loss and accuracy.
fn fingerprint(cfg: &FitConfig, data: &Holdout, dir: &Path, name: &str) -> Value {
    let path = dir.join(format!("{name}.mpk"));
    let options = FitOptions {
        save: Some(path.clone()),
        resume: None,
    };
    let record = fit::fit(cfg, data, &ngd_suite::device(), &options, &mut |_| {}).expect("the run");
    assert_eq!(record.status, Status::Complete, "{name}");
    let evaluations: Vec<Value> = record
        .evaluations
        .iter()
        .map(|e| {
            json!({
                "epoch": e.epoch,
                "step": e.step,
                "train_loss": e.train_loss,
                "val_loss": e.val_loss,
                "val_accuracy": e.val_accuracy,
                "test_loss": e.test_loss,
                "test_accuracy": e.test_accuracy,
                "damping": e.damping,
            })
        })
        .collect();
    let device = ngd_suite::device().autodiff();
    let loaded = fit::load_checkpoint(&path, &device).expect("the checkpoint");
    let (loss, accuracy) = fit::evaluate(
        &loaded.model,
        &data.test,
        data.classes,
        cfg.loss,
        1000,
        &device,
    );
    let Classifier::Mlp(mlp) = &loaded.model else {
        panic!("{name}: not an MLP");
    };
    let bits = |data: burn::tensor::TensorData| -> Vec<u32> {
        data.convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap()
            .into_iter()
            .map(f32::to_bits)
            .collect()
    };
    let mut params = Vec::new();
    for (w, b) in mlp.weights.iter().zip(&mlp.biases) {
        params.extend(bits(w.val().into_data()));
        params.extend(bits(b.val().into_data()));
    }
    json!({
        "steps": record.steps,
        "evaluations": evaluations,
        "checkpoint": { "test_loss": loss, "test_accuracy": accuracy },
        "params": params,
    })
}

/// The child's side: both runs with this process's thread count, written to [`OUT_ENV`] (a
/// no-op in a normal test run).
#[test]
fn child_fit_record() {
    let Ok(out) = std::env::var(OUT_ENV) else {
        return;
    };
    let data = ngd_suite::mnist_holdout();
    let dir = tempfile::tempdir().unwrap();
    let mut doc = serde_json::Map::new();
    for (name, optimizer) in OPTIMIZERS {
        doc.insert(
            name.into(),
            fingerprint(&config(optimizer), &data, dir.path(), name),
        );
    }
    // The process's threads once the work is done: rayon's pool is among them.
    let tasks = std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count());
    doc.insert("os_threads".into(), json!(tasks));
    std::fs::write(out, serde_json::to_string(&Value::Object(doc)).unwrap()).unwrap();
}

/// Runs [`child_fit_record`] with `threads` rayon threads.
fn record_with(threads: usize, dir: &Path) -> Value {
    let out = dir.join(format!("threads-{threads}.json"));
    let run = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_fit_record", "--nocapture"])
        .env("RAYON_NUM_THREADS", threads.to_string())
        .env(OUT_ENV, &out)
        .output()
        .expect("run the test binary again");
    assert!(
        run.status.success() && out.is_file(),
        "{threads} thread(s): {}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap()
}

#[test]
fn fit_is_bit_identical_with_one_and_two_threads() {
    let dir = tempfile::tempdir().unwrap();
    let one = record_with(1, dir.path());
    let two = record_with(2, dir.path());
    // The variable reached rayon: the 2-thread process runs one more worker.
    let threads = |v: &Value| v["os_threads"].as_u64().unwrap();
    eprintln!(
        "OS threads: {} with RAYON_NUM_THREADS=1, {} with 2",
        threads(&one),
        threads(&two)
    );
    assert_eq!(threads(&two), threads(&one) + 1, "thread pools");
    for (name, _) in OPTIMIZERS {
        let (a, b) = (&one[name], &two[name]);
        let evals = a["evaluations"].as_array().unwrap();
        assert_eq!(evals.len(), 3, "{name}");
        assert_eq!(a["steps"], 36, "{name}");
        for (ea, eb) in evals.iter().zip(b["evaluations"].as_array().unwrap()) {
            assert_eq!(ea, eb, "{name}: evaluation differs with 1 and 2 threads");
        }
        assert_eq!(a["evaluations"], b["evaluations"], "{name}");
        let last = evals.last().unwrap();
        eprintln!(
            "{name}: final test loss {}, accuracy {}; checkpoint {}",
            last["test_loss"], last["test_accuracy"], a["checkpoint"]
        );
        assert_eq!(a["checkpoint"], b["checkpoint"], "{name}: checkpoint");
        assert_eq!(
            a["checkpoint"]["test_accuracy"], last["test_accuracy"],
            "{name}: the checkpoint is the final model"
        );
        let (pa, pb) = (
            a["params"].as_array().unwrap(),
            b["params"].as_array().unwrap(),
        );
        assert_eq!(pa.len(), 784 * 128 + 128 + 128 * 128 + 128 + 128 * 10 + 10);
        let differ = pa.iter().zip(pb).filter(|(x, y)| x != y).count();
        assert_eq!(
            differ,
            0,
            "{name}: {differ} of {} parameters differ",
            pa.len()
        );
    }
}
