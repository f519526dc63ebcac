//! Backend parity on real MNIST: the same seed gives identical initial weights on every
//! backend, and the Jacobian factors, layer Grams and three steps of exact, block-diagonal,
//! K-FAC, unit-wise, diagonal and quasi-diagonal NGD (dual-coefficient and dense updates)
//! agree between backends within tolerances close to the measured differences. Compares flex
//! and ndarray always, and tch-cpu when built with `--features tch`.

use faer::Mat;
use ngd_cli::backend::Backend;
use ngd_data::{DataConfig, DatasetName};
use ngd_model::{Mlp, MlpConfig};
use ngd_optim::Factors;
use ngd_optim::convert::tensor_from_rows;
use ngd_optim::{Method, MethodCurvature};

/// f32 tolerance, relative to the Frobenius norm of the reference: factors and Grams go
/// through different f32 matmul kernels (blocking, FMA, summation order), so they differ at
/// the level of a few ulps × √(inner dimension): measured ≤ 1.2e-7 (flex, ndarray, tch-cpu).
const FACTOR_TOL: f64 = 1e-6;
/// After 3 NGD steps, differences are amplified by the condition number of the Grams solved:
/// measured ≤ 5.3e-6 between flex and ndarray and ≤ 7.9e-6 with tch-cpu (block-diagonal at
/// ρ = 0 the largest; K-FAC, unit-wise and the dense diagonal steps ≤ 8.1e-7).
const STEP_TOL: f64 = 1e-4;

/// Methods stepped on every backend: the dual-coefficient updates (exact, block-diagonal at
/// ρ = 0; K-FAC and unit-wise at ρ = 1e-3) and the dense ones (diagonal, quasi-diagonal).
const STEPPED: [Method; 6] = [
    Method::Exact,
    Method::BlockDiagonal,
    Method::Kfac,
    Method::UnitWise,
    Method::Diagonal,
    Method::QuasiDiagonal,
];
/// Steps taken before the outputs are compared.
const STEPS: usize = 3;

struct Snapshot {
    backend: Backend,
    weights: Vec<Vec<f32>>,
    factors: Factors,
    grams: Vec<Mat<f64>>,
    after_step: Vec<(Method, Vec<f64>)>,
}

fn data(classes: Vec<usize>) -> ngd_data::Dataset {
    let cfg = DataConfig {
        dataset: DatasetName::Mnist,
        classes,
        n_train: 24,
        n_test: 8,
    };
    ngd_data::load(&cfg)
        .expect("MNIST installed (bash datasets/install.sh mnist ../shared/datasets/mnist)")
}

fn config(data: &ngd_data::Dataset) -> MlpConfig {
    MlpConfig::new(data.train.dim, 128, 3, data.outputs).with_variances(2.0, 0.1)
}

fn snapshot(backend: Backend, data: &ngd_data::Dataset) -> Snapshot {
    let device = backend.device().unwrap();
    let cfg = config(data);
    let model = cfg.init(11, &device).unwrap();
    let weights = model
        .weights
        .iter()
        .map(|w| {
            w.val()
                .into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .unwrap()
        })
        .collect();
    let x = tensor_from_rows(&data.train.x, data.train.n, data.train.dim, &device);
    let factors = model.factors(x.clone());
    let grams = factors.layers.iter().map(|l| l.jacobian_gram()).collect();
    let after_step = STEPPED
        .into_iter()
        .map(|method| (method, outputs_after_step(&cfg, method, &x, data, &device)))
        .collect();
    Snapshot {
        backend,
        weights,
        factors,
        grams,
        after_step,
    }
}

fn outputs_after_step(
    cfg: &MlpConfig,
    method: Method,
    x: &ngd_model::Tensor<2>,
    data: &ngd_data::Dataset,
    device: &ngd_model::Device,
) -> Vec<f64> {
    let mut model: Mlp = cfg.init(11, device).unwrap();
    let damping = if matches!(method, Method::Exact | Method::BlockDiagonal) {
        0.0
    } else {
        1e-3
    };
    let lr = method.default_lr(&model.factors(x.clone())).unwrap();
    let mut ngd = ngd_optim::NgdConfig::new(method)
        .with_loss(ngd_optim::Loss::Mse)
        .with_damping(ngd_optim::DampingConfig::new().with_value(damping))
        .with_lr(Some(lr))
        .init()
        .unwrap();
    let split = &data.train;
    let targets = tensor_from_rows(&split.y, split.n, split.outputs(), device);
    for _ in 0..STEPS {
        ngd.step(&mut model, x.clone(), targets.clone()).unwrap();
    }
    ngd_optim::convert::tensor_to_rows(model.forward(x.clone()))
}

fn rel(a: faer::MatRef<'_, f64>, b: faer::MatRef<'_, f64>) -> f64 {
    (a - b).norm_l2() / b.norm_l2().max(1e-300)
}

fn rel_vec(a: &[f64], b: &[f64]) -> f64 {
    let d: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).powi(2))
        .sum::<f64>()
        .sqrt();
    d / b.iter().map(|y| y * y).sum::<f64>().sqrt()
}

fn backends() -> Vec<Backend> {
    Backend::available()
}

fn compare_all(classes: Vec<usize>) {
    let data = data(classes);
    let snaps: Vec<Snapshot> = backends().into_iter().map(|b| snapshot(b, &data)).collect();
    // Every pair, so that a GPU run reports tch-cuda against tch-cpu as well as against flex.
    let pairs = snaps
        .iter()
        .enumerate()
        .flat_map(|(i, a)| snaps[..i].iter().map(move |b| (a, b)));
    for (s, reference) in pairs {
        let who = format!("{} vs {}", s.backend, reference.backend);
        assert_eq!(
            s.weights, reference.weights,
            "{who}: initial weights differ"
        );
        for (l, (a, b)) in s
            .factors
            .layers
            .iter()
            .zip(&reference.factors.layers)
            .enumerate()
        {
            let (dh, dd) = (
                rel(a.input.as_ref(), b.input.as_ref()),
                rel(a.delta.as_ref(), b.delta.as_ref()),
            );
            eprintln!("{who} layer {}: h̃ {dh:.1e}, δ {dd:.1e}", l + 1);
            assert!(
                dh < FACTOR_TOL && dd < FACTOR_TOL,
                "{who} layer {}: factors differ (h̃ {dh:e}, δ {dd:e})",
                l + 1
            );
        }
        for (l, (a, b)) in s.grams.iter().zip(&reference.grams).enumerate() {
            let d = rel(a.as_ref(), b.as_ref());
            assert!(
                d < FACTOR_TOL,
                "{who}: Gram of layer {} differs by {d:e}",
                l + 1
            );
        }
        for ((method, a), (_, b)) in s.after_step.iter().zip(&reference.after_step) {
            let d = rel_vec(a, b);
            eprintln!("{who} {method}: outputs after {STEPS} steps differ by {d:.1e}");
            assert!(d < STEP_TOL, "{who}: {method} step differs by {d:e}");
        }
    }
}

#[test]
fn backends_agree_on_two_class_mnist() {
    compare_all(vec![0, 7]);
}

#[test]
fn backends_agree_on_three_class_mnist() {
    compare_all(vec![1, 4, 9]);
}

#[test]
fn parity_covers_every_built_backend() {
    let names: Vec<String> = backends().iter().map(|b| b.to_string()).collect();
    assert!(names.contains(&"flex".to_string()) && names.contains(&"ndarray".to_string()));
    assert_eq!(
        names.contains(&"tch-cpu".to_string()),
        cfg!(feature = "tch")
    );
}

/// The CNN (`--arch cnn`) on 8 CIFAR-10 images, per backend: its outputs, and after one K-FAC
/// step (empirical Fisher, so that no label is drawn) with reduce and with expand factors,
/// every layer's A and S and the outputs. The initial weights are drawn on the host.
struct CnnSnapshot {
    backend: Backend,
    outputs: Vec<f64>,
    /// Per variant: the blocks' A and S (flattened, layer by layer) and the outputs after.
    stepped: Vec<(ngd_optim::ConvFactors, Vec<Vec<f64>>, Vec<f64>)>,
}

fn cnn_snapshot(backend: Backend, data: &ngd_data::Holdout) -> CnnSnapshot {
    use ngd_model::CnnConfig;
    use ngd_optim::FactoredModel;
    use ngd_optim::{Fisher, NgdConfig, Precision};
    let device = backend.device().unwrap().autodiff();
    let split = &data.train;
    // CIFAR-10 has saturated regions whose equal pixels give exactly equal convolution
    // outputs: max-pooling's tie-breaking (which location gets the gradient) is the backend's
    // own choice. A deterministic perturbation of 1e-3 breaks the ties.
    let pixels: Vec<f32> = split
        .x
        .iter()
        .enumerate()
        .map(|(k, v)| v + 1e-3 * (k as f32 * 0.731).sin())
        .collect();
    let x = ngd_model::Tensor::<2>::from_data(
        ngd_model::TensorData::new(pixels, [split.n, split.dim]),
        &device,
    );
    let y: Vec<f64> = (0..split.n * 10)
        .map(|k| f64::from(u8::from(split.labels[k / 10] == k % 10)))
        .collect();
    let y = tensor_from_rows(&y, split.n, 10, &device);
    let cnn = CnnConfig::new(data.image, 10);
    let outputs =
        ngd_optim::convert::tensor_to_rows(cnn.init(3, &device).unwrap().forward(x.clone()));
    let stepped = [
        ngd_optim::ConvFactors::Reduce,
        ngd_optim::ConvFactors::Expand,
    ]
    .into_iter()
    .map(|conv| {
        let mut model = cnn.init(3, &device).unwrap();
        let mut opt = NgdConfig::new(Method::Kfac)
            .with_damping(ngd_optim::DampingConfig::new().with_value(0.1))
            .with_lr(Some(0.05))
            .kfac_with(|k| k.with_fisher(Fisher::Empirical).with_conv(conv))
            .with_block_precision(Precision::F32)
            .init()
            .unwrap();
        opt.step(&mut model, x.clone(), y.clone()).unwrap();
        let factors = opt
            .blocks()
            .iter()
            .flat_map(|b| {
                b.state()
                    .into_iter()
                    .filter(|(name, _)| *name == "a" || *name == "s")
                    .map(|(_, t)| ngd_optim::convert::tensor_to_rows(t))
            })
            .collect();
        let after = ngd_optim::convert::tensor_to_rows(model.forward_plain(x.clone()));
        (conv, factors, after)
    })
    .collect();
    CnnSnapshot {
        backend,
        outputs,
        stepped,
    }
}

/// The CNN's tolerance, relative: measured flex vs ndarray ≤ 2.9e-7 (outputs), ≤ 6.5e-7 (A),
/// ≤ 8.0e-7 (S) and ≤ 3.0e-7 (outputs after one K-FAC step), once max-pooling has no exact
/// ties (see [`cnn_snapshot`]; with CIFAR-10's ties S differs by up to 5e-3, a legitimate
/// choice of subgradient).
const CNN_TOL: f64 = 8e-6;

/// flex, ndarray (and tch-cpu with `--features tch`) agree on the CNN's forward pass, its
/// convolution factors (every layer's A and S, reduce and expand) and one K-FAC step.
#[test]
fn backends_agree_on_the_cnn_forward_factors_and_kfac_step() {
    let data = ngd_data::load_holdout_with(
        &DataConfig {
            dataset: DatasetName::Cifar10,
            classes: (0..10).collect(),
            n_train: 16,
            n_test: 8,
        },
        8,
        ngd_data::Standardisation::Channels,
    )
    .expect("CIFAR-10 installed (bash datasets/install.sh cifar10 ../shared/datasets/cifar10)");
    let snaps: Vec<CnnSnapshot> = backends()
        .into_iter()
        .map(|b| cnn_snapshot(b, &data))
        .collect();
    let reference = &snaps[0];
    for s in &snaps[1..] {
        let who = format!("{} vs {}", s.backend, reference.backend);
        let d = rel_vec(&s.outputs, &reference.outputs);
        eprintln!("{who} CNN outputs: {d:.1e}");
        assert!(d < FACTOR_TOL, "{who}: CNN outputs differ by {d:e}");
        for ((conv, factors, after), (_, ref_factors, ref_after)) in
            s.stepped.iter().zip(&reference.stepped)
        {
            // Even entries are the A's, odd ones the S's (layer by layer).
            let worst = |parity: usize| {
                factors
                    .iter()
                    .zip(ref_factors)
                    .skip(parity)
                    .step_by(2)
                    .map(|(a, b)| rel_vec(a, b))
                    .fold(0.0, f64::max)
            };
            let (a, s_err) = (worst(0), worst(1));
            let d = rel_vec(after, ref_after);
            eprintln!(
                "{who} K-FAC-{conv}: A {a:.1e}, S {s_err:.1e}, outputs after the step {d:.1e}"
            );
            assert!(a < CNN_TOL, "{who} {conv}: A differs by {a:e}");
            assert!(s_err < CNN_TOL, "{who} {conv}: S differs by {s_err:e}");
            assert!(
                d < CNN_TOL,
                "{who} {conv}: outputs after the step differ by {d:e}"
            );
        }
    }
}

/// The mini-batch tolerance, relative: after 8 steps the per-evaluation losses of Adam and of
/// K-FAC (sampled Fisher, f32 blocks on the device, running averages, inverses every 2 steps)
/// differ between backends by the f32 kernels' rounding carried through the steps: measured
/// flex vs ndarray 2.9e-8 (Adam) and 8.5e-8 (K-FAC), tch-cpu vs flex 2.9e-8 and 9.3e-8.
const MINIBATCH_TOL: f64 = 1e-6;

/// flex, ndarray (and tch-cpu with `--features tch`) agree on a mini-batch run through the
/// trainer: 8 steps of Adam and of K-FAC on 400 MNIST images (784-64-64-10, batch 50), their
/// training, validation and test losses at every evaluation, and the same accuracies.
#[test]
fn backends_agree_on_minibatch_adam_and_kfac() {
    use ngd_train::fit::{self, FitConfig, FitOptions, OptimizerKind};
    let data = ngd_data::load_holdout(
        &DataConfig {
            dataset: DatasetName::Mnist,
            classes: (0..10).collect(),
            n_train: 500,
            n_test: 200,
        },
        100,
    )
    .expect("MNIST installed (bash datasets/install.sh mnist ../shared/datasets/mnist)");
    for optimizer in [OptimizerKind::Adam, OptimizerKind::Ngd(Method::Kfac)] {
        let mut cfg = FitConfig::new(optimizer);
        cfg.model.width = 64;
        cfg.model.parameterization = ngd_model::Parameterization::Standard;
        cfg.schedule.batch_size = 50;
        cfg.schedule.epochs = 1;
        cfg.schedule.evals_per_epoch = 2;
        if optimizer == OptimizerKind::Adam {
            cfg.optimizer.lr = 1e-3;
        } else {
            cfg.optimizer.lr = 0.1;
            cfg.optimizer.damping.value = 0.1;
            cfg.kfac_with(|k| {
                k.with_fisher(ngd_optim::Fisher::Sampled)
                    .with_decay(0.95)
                    .with_inverse_interval(2)
            });
        }
        let runs: Vec<(Backend, Vec<fit::Evaluation>)> = backends()
            .into_iter()
            .map(|b| {
                let device = b.device().unwrap();
                let record = fit::fit(&cfg, &data, &device, &FitOptions::default(), &mut |_| {})
                    .expect("the run");
                assert_eq!(record.steps, 8, "{b}");
                (b, record.evaluations)
            })
            .collect();
        let (reference, ref_evals) = &runs[0];
        for (backend, evals) in &runs[1..] {
            let mut worst: f64 = 0.0;
            for (e, r) in evals.iter().zip(ref_evals) {
                let pairs = [
                    (e.train_loss, r.train_loss),
                    (e.val_loss, r.val_loss),
                    (Some(e.test_loss), Some(r.test_loss)),
                ];
                for (a, b) in pairs {
                    if let (Some(a), Some(b)) = (a, b) {
                        worst = worst.max((a - b).abs() / b.abs());
                    }
                }
                assert_eq!(e.test_accuracy, r.test_accuracy, "{backend} vs {reference}");
            }
            eprintln!("{backend} vs {reference}, {optimizer:?}: losses differ by ≤ {worst:.1e}");
            assert!(
                worst < MINIBATCH_TOL,
                "{backend} vs {reference}, {optimizer:?}: {worst:e}"
            );
        }
    }
}
