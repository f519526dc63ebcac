//! Empirical (finite-width) layer kernels from a real network's Jacobian factors on real
//! MNIST inputs: agreement with the analytic kernels at width 4096, with the factors' own
//! Jacobian Gram, and the predictors' exact identities on them (MATH.md §2, §4, §5).

#![allow(clippy::needless_range_loop)]

use faer::{Mat, MatRef};
use ngd_data::{DataConfig, Dataset, DatasetName};
use ngd_kernels::{
    AnalyticConfig, FunctionSpace, KernelSet, LayerKernels, Predictor, relu_layer_kernels,
    relu_layer_kernels_sym,
};
use ngd_linalg::{frobenius, max_abs_diff, solve_general};
use ngd_model::{Device, MlpConfig};
use ngd_optim::convert::tensor_from_rows;
use ngd_train::test_theory::{
    empirical_kernels, empirical_kernels_by_output, from_rows, split_factor_bytes, split_factors,
    split_factors_of_output,
};

fn mnist(classes: Vec<usize>, n_train: usize, n_test: usize) -> Dataset {
    ngd_data::load(&DataConfig {
        dataset: DatasetName::Mnist,
        classes,
        n_train,
        n_test,
    })
    .expect("MNIST installed in ~/.cache/burn-dataset")
}

fn rel_frob(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> f64 {
    let mut d = a.to_owned();
    d -= b;
    frobenius(d.as_ref()) / frobenius(b)
}

struct Empirical {
    train: LayerKernels,
    test: LayerKernels,
    f0_train: Mat<f64>,
    f0_test: Mat<f64>,
    y: Mat<f64>,
    x_train: Mat<f64>,
    x_test: Mat<f64>,
}

fn empirical(data: &Dataset, width: usize, seed: u64, set: KernelSet) -> Empirical {
    let device = Device::default();
    let cfg = MlpConfig::new(data.train.dim, width, 3, data.outputs).with_variances(2.0, 0.0);
    let model = cfg.init(seed, &device).unwrap();
    let ft = split_factors(&model, &data.train, 1000, &device);
    let fv = split_factors(&model, &data.test, 1000, &device);
    let (train, test) =
        empirical_kernels(set, &ft.layers, &fv.layers, data.outputs, 2.0, 0.0).unwrap();
    Empirical {
        train,
        test,
        f0_train: ft.outputs,
        f0_test: fv.outputs,
        y: from_rows(&data.train.y, data.train.n, data.outputs),
        x_train: from_rows(&data.train.x, data.train.n, data.train.dim),
        x_test: from_rows(&data.test.x, data.test.n, data.test.dim),
    }
}

/// Mean relative Frobenius error over the layers' Θ_l, B_l (l < L) and A_l (l ≥ 1), with the
/// per-family maximum, train–train and test–train blocks.
fn kernel_errors(data: &Dataset, width: usize, seed: u64) -> (f64, f64) {
    let e = empirical(data, width, seed, KernelSet::ALL);
    let cfg = AnalyticConfig::paper(3);
    let a_train = relu_layer_kernels_sym(&cfg, e.x_train.as_ref()).unwrap();
    let a_test = relu_layer_kernels(&cfg, e.x_test.as_ref(), e.x_train.as_ref()).unwrap();
    let (mut sum, mut count, mut max) = (0.0, 0, 0.0f64);
    for (what, emp, ana) in [("train", &e.train, &a_train), ("test", &e.test, &a_test)] {
        let mut record = |name: String, err: f64| {
            eprintln!("M = {width}: {what} {name}: rel Frobenius error {err:.4}");
            sum += err;
            count += 1;
            max = max.max(err);
        };
        for l in 1..=3 {
            record(
                format!("Θ_{l}"),
                rel_frob(emp.layer_theta(l).as_ref(), ana.layer_theta(l).as_ref()),
            );
        }
        for l in 1..3 {
            record(
                format!("B_{l}"),
                rel_frob(emp.layer_b(l).as_ref(), ana.layer_b(l).as_ref()),
            );
            record(
                format!("A_{l}"),
                rel_frob(emp.layer_a(l).as_ref(), ana.layer_a(l).as_ref()),
            );
        }
        // A_0 = x·x'/M_0 and B_L = 1 do not fluctuate (f32 inputs on the device: 1e-6).
        assert!(rel_frob(emp.layer_a(0).as_ref(), ana.layer_a(0).as_ref()) < 1e-6);
        assert!(rel_frob(emp.layer_b(3).as_ref(), ana.layer_b(3).as_ref()) < 1e-12);
    }
    (sum / count as f64, max)
}

/// Width 4096, N = 50 real MNIST inputs (N' = 20): every layer's Θ_l, A_l, B_l is within 10%
/// relative Frobenius error of the infinite-width kernel (measured 3–6%: entry-wise
/// fluctuations are ≈ √5/√M ≈ 3.5% and strongly correlated across MNIST's similar inputs), and
/// the mean error is at most 0.6× that of width 256 (O(1/√M) predicts 0.25×).
#[test]
fn empirical_kernels_match_analytic_at_width_4096() {
    let data = mnist(vec![0, 7], 50, 20);
    let (mean_4096, max_4096) = kernel_errors(&data, 4096, 3);
    let (mean_256, _) = kernel_errors(&data, 256, 3);
    eprintln!(
        "mean error: M = 4096 {mean_4096:.4}, M = 256 {mean_256:.4}; max at 4096 {max_4096:.4}"
    );
    assert!(max_4096 < 0.10, "max rel error at M = 4096: {max_4096}");
    assert!(mean_4096 < 0.6 * mean_256, "{mean_4096} vs {mean_256}");
}

/// The empirical Θ_l equals the factors' own Jacobian Gram K_l (MATH.md §2); for C > 1 it is
/// the class average of K_l's diagonal blocks; chunked factors equal one-shot factors.
#[test]
fn empirical_theta_is_the_jacobian_gram() {
    for classes in [vec![0, 7], vec![0, 1, 2]] {
        let data = mnist(classes, 30, 10);
        let device = Device::default();
        let c = data.outputs;
        let cfg = MlpConfig::new(784, 64, 3, c).with_variances(2.0, 0.1);
        let model = cfg.init(1, &device).unwrap();
        let x = tensor_from_rows(&data.train.x, 30, 784, &device);
        let full = model.factors(x);
        let chunked = split_factors(&model, &data.train, 7, &device);
        assert!(max_abs_diff(full.outputs.as_ref(), chunked.outputs.as_ref()) < 1e-6);
        let mut elements = 0;
        for (a, b) in full.layers.iter().zip(&chunked.layers) {
            assert!(max_abs_diff(a.input.as_ref(), b.input.as_ref()) < 1e-6);
            assert!(max_abs_diff(a.delta.as_ref(), b.delta.as_ref()) < 1e-6);
            elements += b.input.nrows() * b.input.ncols() + b.delta.nrows() * b.delta.ncols();
        }
        // The memory estimate behind `ngd predict --kernel empirical`'s refusal is exact.
        assert_eq!(split_factor_bytes(30, &cfg.widths, c), 8 * elements as u64);
        let (k, _) =
            empirical_kernels(KernelSet::ALL, &full.layers, &full.layers, c, 2.0, 0.1).unwrap();
        let n = 30;
        for (l, layer) in full.layers.iter().enumerate() {
            let gram = layer.jacobian_gram();
            let want = Mat::from_fn(n, n, |i, j| {
                (0..c).map(|cc| gram[(cc * n + i, cc * n + j)]).sum::<f64>() / c as f64
            });
            let err = max_abs_diff(k.theta[l].as_ref(), want.as_ref());
            assert!(err < 1e-10, "C = {c}, layer {}: {err}", l + 1);
            // Θ_l = B_l ⊙ (σ_w²A_{l−1} + σ_b²)
            let q = k.input_factor(l + 1);
            let prod = Mat::from_fn(n, n, |i, j| k.b[l][(i, j)] * q[(i, j)]);
            assert!(max_abs_diff(prod.as_ref(), k.theta[l].as_ref()) < 1e-10);
        }
    }
}

/// With empirical kernels every NGD predictor reaches y in one step at η = 1/α on the training
/// points — also through the test-side operator Θ̄(x, x) with x' = x (solves with Θ_l(x,x)),
/// to 1e-8 relative — and the kernel-regression mean equals α⁻¹Θ̄(x',x)y formed directly
/// with explicit inverses (1e-8 relative).
#[test]
fn empirical_predictors_converge_in_one_step_and_match_direct_kernel_regression() {
    let data = mnist(vec![0, 7], 60, 25);
    let e = empirical(&data, 512, 5, KernelSet::ALL);
    let n = 60;
    let scale = e.y.norm_max();
    for p in [
        Predictor::Exact,
        Predictor::block_diagonal(3),
        Predictor::block_tridiagonal(3),
        Predictor::Kfac,
        Predictor::KfacPrinted,
    ] {
        let fs = FunctionSpace::new(&p, &e.train, &e.train).unwrap();
        let alpha = fs.alpha().unwrap();
        let f1 = fs
            .train_outputs(Some(1), 1.0 / alpha, e.f0_train.as_ref(), e.y.as_ref())
            .unwrap();
        assert!(max_abs_diff(f1.as_ref(), e.y.as_ref()) < 1e-12 * scale.max(1.0));
        let f1 = fs
            .test_outputs(
                Some(1),
                1.0 / alpha,
                e.f0_train.as_ref(),
                e.f0_train.as_ref(),
                e.y.as_ref(),
            )
            .unwrap();
        let err = max_abs_diff(f1.as_ref(), e.y.as_ref()) / scale;
        eprintln!("{}: one step on train points via Θ̄(x,x): {err:e}", p.name());
        assert!(err < 1e-8, "{}: {err}", p.name());
    }
    // Direct kernel regression: exact Θ(x',x)Θ⁻¹y, BD Σ_l Θ_l(x',x)Θ_l⁻¹y / L,
    // K-FAC [NΣ_{l<L}(B_l'B_l⁻¹)⊙(Q_l'Q_l⁻¹) + Q_L'Q_L⁻¹]y / (N(L−1)+1), and as printed
    // (eq. 21) N[Σ_{l<L}(B_l'B_l⁻¹)⊙(Q_l'Q_l⁻¹) + Q_L'Q_L⁻¹]y / (NL).
    let inv = |m: &Mat<f64>| {
        solve_general(m.as_ref(), Mat::<f64>::identity(n, n).as_ref(), "inv").unwrap()
    };
    let ntk = e.train.ntk();
    let direct_exact = e.test.ntk() * inv(&ntk) * &e.y;
    let mut direct_bd = Mat::<f64>::zeros(25, 1);
    for l in 1..=3 {
        direct_bd += e.test.layer_theta(l) * inv(e.train.layer_theta(l)) * &e.y;
    }
    direct_bd *= faer::Scale(1.0 / 3.0);
    let mut hidden = Mat::<f64>::zeros(25, n);
    for l in 1..=2 {
        let rq = e.test.input_factor(l) * inv(&e.train.input_factor(l));
        let rb = e.test.layer_b(l) * inv(e.train.layer_b(l));
        hidden += Mat::from_fn(25, n, |i, j| rb[(i, j)] * rq[(i, j)]);
    }
    let last = e.test.input_factor(3) * inv(&e.train.input_factor(3));
    let nf = n as f64;
    let direct_kfac =
        (&hidden * faer::Scale(nf) + &last) * &e.y * faer::Scale(1.0 / (2.0 * nf + 1.0));
    let direct_printed = (&hidden + &last) * &e.y * faer::Scale(1.0 / 3.0);
    for (p, direct) in [
        (Predictor::Exact, direct_exact),
        (Predictor::block_diagonal(3), direct_bd),
        (Predictor::Kfac, direct_kfac),
        (Predictor::KfacPrinted, direct_printed),
    ] {
        let fs = FunctionSpace::new(&p, &e.train, &e.test).unwrap();
        let kr = fs.kernel_regression_test(e.y.as_ref()).unwrap();
        let err = max_abs_diff(kr.as_ref(), direct.as_ref()) / direct.norm_max();
        eprintln!("{}: kernel regression vs direct: {err:e}", p.name());
        assert!(err < 1e-8, "{}: {err}", p.name());
    }
    // f_∞ with the network's own f_0 is finite and differs from the kernel-regression mean.
    let fs = FunctionSpace::new(&Predictor::Exact, &e.train, &e.test).unwrap();
    let conv = fs
        .converged_test(e.f0_train.as_ref(), e.f0_test.as_ref(), e.y.as_ref())
        .unwrap();
    assert!(conv.norm_max().is_finite());
    let _ = e.x_test.nrows();
}

/// Kernels accumulated one output at a time (one class's δ in memory) equal the one-shot
/// kernels from all outputs' factors: Θ_l, A_l, B_l for train and test, C = 1 and 3, to 1e-12
/// relative; f_0 is the same; one output's split factors take the memory stated.
#[test]
fn kernels_by_output_equal_kernels_from_all_factors() {
    for classes in [vec![0, 7], vec![1, 4, 9]] {
        let data = mnist(classes, 40, 12);
        let device = Device::default();
        let c = data.outputs;
        let cfg = MlpConfig::new(784, 96, 3, c).with_variances(2.0, 0.2);
        let model = cfg.init(3, &device).unwrap();
        let ft = split_factors(&model, &data.train, 16, &device);
        let fv = split_factors(&model, &data.test, 16, &device);
        let (kt, kv) =
            empirical_kernels(KernelSet::ALL, &ft.layers, &fv.layers, c, 2.0, 0.2).unwrap();
        for set in [KernelSet::ALL, KernelSet::THETA] {
            let (st, sv, f0t, f0v) =
                empirical_kernels_by_output(set, &model, (&data.train, &data.test), 16, &device)
                    .unwrap();
            assert_eq!(st.available(), set);
            assert!(max_abs_diff(f0t.as_ref(), ft.outputs.as_ref()) == 0.0);
            assert!(max_abs_diff(f0v.as_ref(), fv.outputs.as_ref()) == 0.0);
            for (want, got) in [(&kt, &st), (&kv, &sv)] {
                let pairs = want
                    .theta
                    .iter()
                    .zip(&got.theta)
                    .chain(want.a.iter().zip(&got.a))
                    .chain(want.b.iter().zip(&got.b));
                for (w, g) in pairs {
                    let rel = max_abs_diff(w.as_ref(), g.as_ref()) / w.norm_max();
                    assert!(rel < 1e-12, "C = {c}, {set:?}: {rel:e}");
                }
            }
        }
        let one = split_factors_of_output(&model, &data.train, 16, &device, c - 1);
        let elements: usize = one
            .layers
            .iter()
            .map(|l| l.input.nrows() * l.input.ncols() + l.delta.nrows() * l.delta.ncols())
            .sum();
        assert_eq!(split_factor_bytes(40, &cfg.widths, 1), 8 * elements as u64);
    }
}
