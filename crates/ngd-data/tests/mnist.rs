//! MNIST loading against an independent reading of the original IDX files.

use std::io::Read;
use std::path::PathBuf;

use ngd_data::{DataConfig, DataError, DatasetName, accuracy, load, mse_loss};

/// The original gzip-compressed IDX files: `$NGD_SHARED/datasets/mnist`, as `.ci/run` reads
/// them (NGD_SHARED relative to the workspace root; default `../shared`).
fn shared_mnist() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let shared =
        std::env::var_os("NGD_SHARED").map_or_else(|| PathBuf::from("../shared"), PathBuf::from);
    root.join(shared).join("datasets/mnist")
}

/// Reads a gzip-compressed IDX file: (payload after the header).
fn read_idx(name: &str, header: usize) -> Vec<u8> {
    let file = std::fs::File::open(shared_mnist().join(name)).expect("shared MNIST file");
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(file)
        .read_to_end(&mut bytes)
        .unwrap();
    bytes.split_off(header)
}

/// Independently computed expected split: first `n` images with label in `classes`,
/// standardised over the whole array (population std), then unit rows.
fn expected(prefix: &str, classes: &[u8], n: usize) -> (Vec<f64>, Vec<usize>) {
    let images = read_idx(&format!("{prefix}-images-idx3-ubyte.gz"), 16);
    let labels = read_idx(&format!("{prefix}-labels-idx1-ubyte.gz"), 8);
    let mut x = Vec::new();
    let mut lab = Vec::new();
    for (i, l) in labels.iter().enumerate() {
        if let Some(k) = classes.iter().position(|c| c == l) {
            x.extend(images[i * 784..(i + 1) * 784].iter().map(|&p| p as f64));
            lab.push(k);
            if lab.len() == n {
                break;
            }
        }
    }
    let m = x.iter().sum::<f64>() / x.len() as f64;
    let s = (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / x.len() as f64).sqrt();
    for row in x.chunks_mut(784) {
        row.iter_mut().for_each(|v| *v = (*v - m) / s);
        let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
        row.iter_mut().for_each(|v| *v /= norm);
    }
    (x, lab)
}

fn cfg(classes: Vec<usize>, n_train: usize, n_test: usize) -> DataConfig {
    DataConfig {
        dataset: DatasetName::Mnist,
        classes,
        n_train,
        n_test,
    }
}

#[test]
fn zero_vs_seven_matches_the_idx_files() {
    let d = load(&cfg(vec![0, 7], 100, 50)).unwrap();
    assert_eq!(
        (d.outputs, d.class_names.clone()),
        (1, vec!["0".to_string(), "7".to_string()])
    );
    assert!(d.source.contains("MnistDataset"), "{}", d.source);
    for (split, n, prefix) in [(&d.train, 100, "train"), (&d.test, 50, "t10k")] {
        assert_eq!(
            (split.n, split.dim, split.x.len(), split.y.len()),
            (n, 784, n * 784, n)
        );
        for i in 0..n {
            let norm2: f64 = split.row(i).iter().map(|v| v * v).sum();
            assert!((norm2 - 1.0).abs() < 1e-12, "row {i} norm² {norm2}");
            assert!(split.labels[i] <= 1);
            assert_eq!(split.y[i], if split.labels[i] == 0 { 0.5 } else { -0.5 });
        }
        let (x, labels) = expected(prefix, &[0, 7], n);
        assert_eq!(split.labels, labels);
        let worst = x
            .iter()
            .zip(&split.x)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(worst < 1e-12, "{prefix}: max deviation {worst}");
    }
    // Both classes occur, and the first training sample is the first '0' (index 1) of the file.
    assert!(d.train.labels.contains(&0) && d.train.labels.contains(&1));
    assert_eq!(d.train.labels[0], 0);
}

#[test]
fn class_order_decides_the_sign() {
    let a = load(&cfg(vec![0, 7], 30, 10)).unwrap();
    let b = load(&cfg(vec![7, 0], 30, 10)).unwrap();
    assert_eq!(a.train.x, b.train.x);
    assert!(a.train.y.iter().zip(&b.train.y).all(|(p, q)| *p == -*q));
    assert!(
        a.train
            .labels
            .iter()
            .zip(&b.train.labels)
            .all(|(p, q)| p + q == 1)
    );
}

#[test]
fn ten_classes_are_one_hot() {
    let d = load(&cfg((0..10).collect(), 200, 100)).unwrap();
    assert_eq!(d.outputs, 10);
    for split in [&d.train, &d.test] {
        assert_eq!(split.y.len(), split.n * 10);
        for i in 0..split.n {
            let row = &split.y[i * 10..(i + 1) * 10];
            assert_eq!(row.iter().sum::<f64>(), 1.0);
            assert_eq!(row[split.labels[i]], 1.0);
        }
        assert_eq!(accuracy(&split.y, split), 1.0);
        let negated: Vec<f64> = split.y.iter().map(|v| -v).collect();
        assert_eq!(accuracy(&negated, split), 0.0);
        assert_eq!(mse_loss(&split.y, split), 0.0);
        assert_eq!(mse_loss(&negated, split), 2.0); // ½ · (2² per sample)
    }
    // With ten classes in the first 200 training samples every class occurs.
    assert!((0..10).all(|c| d.train.labels.contains(&c)));
}

#[test]
fn binary_accuracy_of_targets() {
    let d = load(&cfg(vec![3, 5], 40, 20)).unwrap();
    assert_eq!(accuracy(&d.test.y, &d.test), 1.0);
    let negated: Vec<f64> = d.test.y.iter().map(|v| -v).collect();
    assert_eq!(accuracy(&negated, &d.test), 0.0);
    assert_eq!(mse_loss(&negated, &d.test), 0.5); // ½ · 1² per sample
}

#[test]
fn too_many_samples_says_how_many_exist() {
    // Test split: 980 zeros + 1028 sevens.
    let e = load(&cfg(vec![0, 7], 10, 2009)).unwrap_err();
    assert!(
        matches!(
            e,
            DataError::NotEnoughSamples {
                available: 2008,
                requested: 2009,
                split: "test",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("holds only 2008"), "{e}");
    // Train split: 5923 zeros + 6265 sevens; exactly all of them is fine.
    let e = load(&cfg(vec![0, 7], 12_189, 10)).unwrap_err();
    assert!(
        matches!(
            e,
            DataError::NotEnoughSamples {
                available: 12_188,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(load(&cfg(vec![0, 7], 10, 2008)).unwrap().test.n, 2008);
}

#[test]
fn bad_configurations_are_rejected() {
    let e = load(&cfg(vec![0, 7], 0, 10)).unwrap_err();
    assert!(
        matches!(e, DataError::ZeroSamples { split: "train" }),
        "{e:?}"
    );
    let e = load(&cfg(vec![0, 7], 10, 0)).unwrap_err();
    assert!(
        matches!(e, DataError::ZeroSamples { split: "test" }),
        "{e:?}"
    );
    let e = load(&cfg(vec![0, 10], 10, 10)).unwrap_err();
    assert!(matches!(e, DataError::UnknownClass { .. }), "{e:?}");
    let e = load(&cfg(vec![4], 10, 10)).unwrap_err();
    assert!(matches!(e, DataError::TooFewClasses { got: 1 }), "{e:?}");
    let e = load(&cfg(vec![4, 1, 4], 10, 10)).unwrap_err();
    assert!(matches!(e, DataError::DuplicateClass { .. }), "{e:?}");
}
