//! Every committed mini-batch experiment still loads with the sectioned run config: the sweep
//! configs (flat keys), their records and every kept run. A resumed sweep keeps a finished run
//! only when the config it builds now equals the run's recorded one, so each committed run must
//! match a config of its sweep exactly: the flat keys keep their meaning.

use ngd_train::fit::{FitConfig, FitRecord, StepTiming, SweepConfig, SweepRecord};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments")
}

fn read(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The sweep folders: those whose config.json lists optimizers.
fn sweeps() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|d| {
            let c = d.join("config.json");
            c.exists() && read(&c).get("optimizers").is_some()
        })
        .collect();
    dirs.sort();
    dirs
}

/// Every run config a sweep would build: each contender's tuning runs, then its final runs at
/// the chosen point, per seed.
fn planned(sweep: &SweepConfig, chosen: Option<&SweepRecord>) -> Vec<FitConfig> {
    let mut configs = Vec::new();
    for c in &sweep.optimizers {
        for point in SweepConfig::grid_points(c) {
            let mut cfg = sweep
                .run_config(c, &point)
                .unwrap_or_else(|e| panic!("{} {point:?}: {e}", c.label));
            cfg.schedule.epochs = sweep.tune_epochs;
            cfg.seed = sweep.seeds[0];
            configs.push(cfg);
        }
        if let Some(record) = chosen {
            for &seed in &sweep.seeds {
                let mut cfg = sweep.run_config(c, &record.chosen[&c.label]).unwrap();
                cfg.seed = seed;
                configs.push(cfg);
            }
        }
    }
    configs
}

#[test]
fn committed_sweeps_and_their_runs_load_and_match_their_configs() {
    let dirs = sweeps();
    assert!(dirs.len() >= 4, "{dirs:?}");
    let mut runs_checked = 0;
    for dir in dirs {
        let name = dir.display().to_string();
        let sweep: SweepConfig = serde_json::from_value(read(&dir.join("config.json")))
            .unwrap_or_else(|e| panic!("{name}/config.json: {e}"));
        if !dir.join("sweep.json").exists() {
            // Not run yet (or in pieces): every run it would make is a valid config.
            assert!(!planned(&sweep, None).is_empty(), "{name}");
            continue;
        }
        let record: SweepRecord = serde_json::from_value(read(&dir.join("sweep.json")))
            .unwrap_or_else(|e| panic!("{name}/sweep.json: {e}"));
        assert_eq!(record.config, sweep, "{name}: sweep.json holds config.json");
        let configs = planned(&sweep, Some(&record));
        // The final runs in sweep.json: the config each was run with is the one built now.
        for (label, runs) in &record.runs {
            let contender = sweep.optimizers.iter().find(|c| &c.label == label).unwrap();
            for run in runs {
                let mut cfg = sweep.run_config(contender, &record.chosen[label]).unwrap();
                cfg.seed = run.config.seed;
                assert_eq!(run.config, cfg, "{name}: {label} seed {}", run.config.seed);
                runs_checked += 1;
            }
        }
        // Every kept run (tuning included) matches a config of the sweep, so a resume keeps it.
        let Ok(entries) = std::fs::read_dir(dir.join("runs")) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let run: FitRecord = serde_json::from_value(read(&path))
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(
                configs.contains(&run.config),
                "{}: no config of the sweep matches {:#?}",
                path.display(),
                run.config
            );
            // Written back in sections, it reads as the same config.
            let again = FitConfig::from_json(serde_json::to_value(&run.config).unwrap()).unwrap();
            assert_eq!(again, run.config);
            assert!(
                serde_json::to_value(&run.config)
                    .unwrap()
                    .get("data")
                    .is_some()
            );
            runs_checked += 1;
        }
    }
    assert!(runs_checked >= 50, "{runs_checked}");
}

/// The benchmark records of `ngd bench --batch-size` hold their timed configs.
#[test]
fn committed_bench_records_load() {
    let dir = root().join("bench/minibatch");
    let mut timings = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let doc = read(&path);
        for result in doc["results"].as_array().into_iter().flatten() {
            let timing: StepTiming = serde_json::from_value(result["timing"].clone())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            timing.config.validate().unwrap();
            timings += 1;
        }
    }
    assert!(timings >= 10, "{timings}");
}
