//! The missing-data error, with the cache pointed at an empty folder. This file is its own
//! test process, so changing the environment here cannot disturb the other tests.

use ngd_data::{DataConfig, DataError, DatasetName, OFFLINE_ENV, cache_dir, load, missing_files};

#[test]
fn empty_cache_gives_install_instructions() {
    let dir = tempfile::tempdir().unwrap();
    // SAFETY: this is the only test in this binary, and it sets the variables before any
    // other thread could read the environment.
    unsafe {
        std::env::set_var("XDG_CACHE_HOME", dir.path());
        std::env::set_var(OFFLINE_ENV, "1");
    }
    let root = dir.path().join("burn-dataset");
    assert_eq!(cache_dir(), root);
    assert_eq!(missing_files(DatasetName::Mnist, &root).len(), 4);
    assert_eq!(missing_files(DatasetName::Cifar10, &root).len(), 20);

    let cfg = DataConfig {
        dataset: DatasetName::Mnist,
        classes: vec![0, 7],
        n_train: 10,
        n_test: 10,
    };
    let e = load(&cfg).unwrap_err();
    assert!(matches!(e, DataError::Missing(_)), "{e:?}");
    let msg = e.to_string();
    for file in [
        "mnist/train/train-images-idx3-ubyte",
        "mnist/train/train-labels-idx1-ubyte",
        "mnist/test/t10k-images-idx3-ubyte",
        "mnist/test/t10k-labels-idx1-ubyte",
    ] {
        assert!(
            msg.contains(&root.join(file).display().to_string()),
            "{file} not in:\n{msg}"
        );
    }
    assert!(msg.contains("bash datasets/install.sh mnist"), "{msg}");
    assert!(
        msg.contains(OFFLINE_ENV) && msg.contains("network access"),
        "{msg}"
    );

    let cfg = DataConfig {
        dataset: DatasetName::Cifar10,
        ..cfg
    };
    let msg = load(&cfg).unwrap_err().to_string();
    let folder = format!(
        "{}/{{train,test}}/<class>/NNNN.png",
        root.join("cifar10").display()
    );
    assert!(msg.contains(&folder), "{msg}");
    assert!(msg.contains("bash datasets/install.sh cifar10"), "{msg}");
}
