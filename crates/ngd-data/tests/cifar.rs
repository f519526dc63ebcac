//! CIFAR-10 loading against an independent decoding of the PNG files.

use std::path::Path;

use ngd_data::{DataConfig, DataError, DatasetName, cache_dir, load, parse_classes};

/// Pixels of a PNG as decoded by the `png` crate (must be 8-bit RGB), HWC order.
fn decode_png(path: &Path) -> Vec<f64> {
    let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let mut reader = png::Decoder::new(file).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (32, 32));
    assert_eq!(
        (info.color_type, info.bit_depth),
        (png::ColorType::Rgb, png::BitDepth::Eight)
    );
    buf[..info.buffer_size()]
        .iter()
        .map(|&p| p as f64)
        .collect()
}

/// Standardise the whole array, then unit rows (independent of the crate's helpers).
fn preprocess(mut x: Vec<f64>, dim: usize) -> Vec<f64> {
    let m = x.iter().sum::<f64>() / x.len() as f64;
    let s = (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / x.len() as f64).sqrt();
    for row in x.chunks_mut(dim) {
        row.iter_mut().for_each(|v| *v = (*v - m) / s);
        let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
        row.iter_mut().for_each(|v| *v /= norm);
    }
    x
}

fn cfg(classes: Vec<usize>, n_train: usize, n_test: usize) -> DataConfig {
    DataConfig {
        dataset: DatasetName::Cifar10,
        classes,
        n_train,
        n_test,
    }
}

#[test]
fn airplane_horse_round_robin_matches_the_png_files() {
    let classes = parse_classes(DatasetName::Cifar10, "airplane,horse").unwrap();
    let d = load(&cfg(classes, 10, 6)).unwrap();
    assert_eq!(d.class_names, ["airplane", "horse"]);
    assert_eq!((d.outputs, d.train.n, d.train.dim), (1, 10, 3072));
    assert_eq!(d.train.labels, [0, 1, 0, 1, 0, 1, 0, 1, 0, 1]);
    assert_eq!(
        d.train.y,
        [0.5, -0.5, 0.5, -0.5, 0.5, -0.5, 0.5, -0.5, 0.5, -0.5]
    );
    assert_eq!(d.test.labels, [0, 1, 0, 1, 0, 1]);

    for (split, n) in [("train", 10), ("test", 6)] {
        let dir = cache_dir().join("cifar10").join(split);
        let raw: Vec<f64> = (0..n)
            .flat_map(|i| {
                let class = if i % 2 == 0 { "airplane" } else { "horse" };
                decode_png(&dir.join(class).join(format!("{:04}.png", i / 2)))
            })
            .collect();
        let expect = preprocess(raw, 3072);
        let got = if split == "train" { &d.train } else { &d.test };
        let worst = expect
            .iter()
            .zip(&got.x)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(worst < 1e-12, "{split}: max deviation {worst}");
        for i in 0..n {
            let norm2: f64 = got.row(i).iter().map(|v| v * v).sum();
            assert!((norm2 - 1.0).abs() < 1e-12);
        }
    }
    // The first image is train/airplane/0000.png: its preprocessed row is a positive multiple
    // of (pixels − mean) — check the raw pixel order directly.
    let first = decode_png(&cache_dir().join("cifar10/train/airplane/0000.png"));
    let ranks = |v: &[f64]| (0..v.len()).filter(|&j| v[j] > v[0]).count();
    assert_eq!(ranks(&first), ranks(d.train.row(0)));
}

#[test]
fn three_classes_one_hot_and_limits() {
    let d = load(&cfg(vec![9, 3, 1], 7, 3)).unwrap();
    assert_eq!(d.class_names, ["truck", "cat", "automobile"]);
    assert_eq!(d.outputs, 3);
    assert_eq!(d.train.labels, [0, 1, 2, 0, 1, 2, 0]);
    assert_eq!(&d.train.y[..6], &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);

    let e = load(&cfg(vec![0, 7], 10_001, 10)).unwrap_err();
    assert!(
        matches!(
            e,
            DataError::NotEnoughSamples {
                available: 10_000,
                split: "train",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("airplane, horse"), "{e}");
    let e = load(&cfg(vec![0, 7], 10, 2_001)).unwrap_err();
    assert!(
        matches!(
            e,
            DataError::NotEnoughSamples {
                available: 2_000,
                split: "test",
                ..
            }
        ),
        "{e:?}"
    );
    let e = load(&cfg(vec![0, 12], 10, 10)).unwrap_err();
    assert!(e.to_string().contains("airplane (0)"), "{e}");
}
