//! Function-space predictors (MATH.md §4) on analytic kernels, checked against direct
//! computations written here: explicit Θ̄(x', x) matrices, direct GD iteration, per-class solves.

#![allow(clippy::needless_range_loop)] // index-heavy numerical reference code

use faer::{Mat, MatRef};
use ngd_kernels::{
    AnalyticConfig, FunctionSpace, KernelError, LayerKernels, Predictor, gd_train_loss_curve,
    max_eigenvalue, relu_layer_kernels, relu_layer_kernels_sym,
};
use ngd_linalg::{max_abs_diff, solve_general};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

const N: usize = 40;
const N_TEST: usize = 25;

fn gaussian(rows: usize, cols: usize, rng: &mut ChaCha8Rng) -> Mat<f64> {
    Mat::from_fn(rows, cols, |_, _| rng.sample(StandardNormal))
}

fn unit_rows(rows: usize, dim: usize, rng: &mut ChaCha8Rng) -> Mat<f64> {
    let mut x = gaussian(rows, dim, rng);
    for i in 0..rows {
        let n: f64 = (0..dim).map(|j| x[(i, j)].powi(2)).sum::<f64>().sqrt();
        for j in 0..dim {
            x[(i, j)] /= n;
        }
    }
    x
}

struct Setup {
    train: LayerKernels,
    test: LayerKernels,
    x: Mat<f64>,
}

/// Analytic kernels for N = 40 train / N' = 25 test unit-norm inputs in dimension `dim`.
fn setup(depth: usize, sigma_b2: f64, dim: usize, seed: u64) -> Setup {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = unit_rows(N, dim, &mut rng);
    let xt = unit_rows(N_TEST, dim, &mut rng);
    let cfg = AnalyticConfig {
        depth,
        sigma_w2: 2.0,
        sigma_b2,
    };
    Setup {
        train: relu_layer_kernels_sym(&cfg, x.as_ref()).unwrap(),
        test: relu_layer_kernels(&cfg, xt.as_ref(), x.as_ref()).unwrap(),
        x,
    }
}

fn rel_err(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> f64 {
    let scale = (0..b.ncols())
        .flat_map(|j| (0..b.nrows()).map(move |i| (i, j)))
        .fold(0.0f64, |m, (i, j)| m.max(b[(i, j)].abs()));
    max_abs_diff(a, b) / scale
}

/// K⁻¹ by LU (independent of the crate's Cholesky path).
fn inverse(k: &Mat<f64>) -> Mat<f64> {
    solve_general(
        k.as_ref(),
        Mat::<f64>::identity(k.nrows(), k.nrows()).as_ref(),
        "test inverse",
    )
    .unwrap()
}

fn hadamard(a: &Mat<f64>, b: &Mat<f64>) -> Mat<f64> {
    Mat::from_fn(a.nrows(), a.ncols(), |i, j| a[(i, j)] * b[(i, j)])
}

/// Explicit Θ̄(x', x) and α for the NGD predictors, formed directly from eqs. (13), (16), (21).
fn explicit_coefficient(
    p: &Predictor,
    train: &LayerKernels,
    test: &LayerKernels,
) -> (Mat<f64>, f64) {
    let depth = train.depth;
    let n = train.shape().0 as f64;
    match p {
        Predictor::Exact => (test.ntk() * inverse(&train.ntk()), 1.0),
        Predictor::LayerWise { sigma } => {
            // Weights Σ⁻¹1 by an independent LU solve.
            let w = solve_general(
                sigma.as_ref(),
                Mat::from_fn(depth, 1, |_, _| 1.0).as_ref(),
                "Σ",
            )
            .unwrap();
            let mut m = Mat::<f64>::zeros(test.shape().0, train.shape().1);
            let mut alpha = 0.0;
            for l in 0..depth {
                m += faer::Scale(w[(l, 0)]) * (&test.theta[l] * inverse(&train.theta[l]));
                alpha += w[(l, 0)];
            }
            (m, alpha)
        }
        Predictor::Kfac | Predictor::KfacPrinted => {
            let q = |k: &LayerKernels, l: usize| {
                Mat::from_fn(k.a[l].nrows(), k.a[l].ncols(), |i, j| {
                    k.sigma_w2 * k.a[l][(i, j)] + k.sigma_b2
                })
            };
            // Hidden layers N·(B'B⁻¹)⊙(Q'Q⁻¹); the last layer Q'Q⁻¹ weighted 1 (training's
            // K-FAC) or N (eq. 21 as printed).
            let mut m = Mat::<f64>::zeros(test.theta[0].nrows(), train.theta[0].ncols());
            for l in 0..depth - 1 {
                let rb = &test.b[l] * inverse(&train.b[l]);
                let ra = &q(test, l) * inverse(&q(train, l));
                m += faer::Scale(n) * hadamard(&rb, &ra);
            }
            let last = &q(test, depth - 1) * inverse(&q(train, depth - 1));
            if matches!(p, Predictor::KfacPrinted) {
                (m + faer::Scale(n) * last, n * depth as f64)
            } else {
                (m + last, n * (depth - 1) as f64 + 1.0)
            }
        }
        _ => unreachable!(),
    }
}

/// A generic symmetric, invertible, indefinite Σ whose weights Σ⁻¹1 are neither 0 nor 1
/// (some negative), so that a predictor ignoring or mis-scaling the weights is caught.
fn generic_sigma(depth: usize) -> Mat<f64> {
    Mat::from_fn(depth, depth, |i, j| {
        if i == j {
            1.0 + 0.5 * i as f64
        } else if i.abs_diff(j) == 1 {
            0.9 - 0.2 * i.min(j) as f64
        } else {
            0.15
        }
    })
}

/// (predictor, expected α): exact 1, BD L, tri-diagonal (Lemma 4.3: L = 3 → 1, L = 4 → 2),
/// generic Σ (1ᵀΣ⁻¹1 by an independent LU solve), K-FAC N·L.
fn ngd_predictors(depth: usize) -> Vec<(Predictor, f64)> {
    let g = generic_sigma(depth);
    let w = solve_general(g.as_ref(), Mat::from_fn(depth, 1, |_, _| 1.0).as_ref(), "Σ").unwrap();
    let generic_alpha: f64 = (0..depth).map(|l| w[(l, 0)]).sum();
    assert!(
        (0..depth).any(|l| w[(l, 0)] < 0.0) && (0..depth).all(|l| (w[(l, 0)] - 1.0).abs() > 0.05)
    );
    let mut v = vec![
        (Predictor::Exact, 1.0),
        (Predictor::block_diagonal(depth), depth as f64),
        (Predictor::Kfac, (N * (depth - 1) + 1) as f64),
        (Predictor::KfacPrinted, (N * depth) as f64),
        (Predictor::LayerWise { sigma: g }, generic_alpha),
    ];
    match depth {
        3 => v.push((Predictor::block_tridiagonal(3), 1.0)),
        4 => v.push((Predictor::block_tridiagonal(4), 2.0)),
        _ => {}
    }
    v
}

/// Every NGD predictor (exact, BD, tri-diagonal L = 3, 4, a generic Σ, K-FAC) reaches y in one step at η = 1/α:
/// on the train-point formula, and — the real check — through the test path with x' = x, which
/// applies Θ̄(x,x)Θ̄⁻¹ via the actual Cholesky solves (relative tolerance 1e-9). α: exact 1,
/// BD L, tri-diagonal L = 3 → 1 and L = 4 → 2, K-FAC N·L. Half a step (η = 0.5/α) halves the residual.
#[test]
fn ngd_predictors_converge_in_one_step() {
    for (depth, sigma_b2) in [(3, 0.0), (4, 0.1)] {
        let s = setup(depth, sigma_b2, 60, 11);
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let y = gaussian(N, 1, &mut rng);
        let f0 = gaussian(N, 1, &mut rng);
        for (p, expect_alpha) in ngd_predictors(depth) {
            let fs = FunctionSpace::new(&p, &s.train, &s.train).unwrap();
            let alpha = fs.alpha().unwrap();
            assert!(
                (alpha - expect_alpha).abs() < 1e-12 * expect_alpha.abs(),
                "{}: α = {alpha}",
                p.name()
            );
            let eta = 1.0 / alpha;
            let train = fs
                .train_outputs(Some(1), eta, f0.as_ref(), y.as_ref())
                .unwrap();
            assert!(
                rel_err(train.as_ref(), y.as_ref()) < 1e-14,
                "{} train formula",
                p.name()
            );
            let via_test = fs
                .test_outputs(Some(1), eta, f0.as_ref(), f0.as_ref(), y.as_ref())
                .unwrap();
            let e = rel_err(via_test.as_ref(), y.as_ref());
            assert!(
                e < 1e-9,
                "{} (L = {depth}): one step at η = 1/α misses y by {e:e}",
                p.name()
            );
            let conv = fs
                .test_outputs(None, eta, f0.as_ref(), f0.as_ref(), y.as_ref())
                .unwrap();
            assert!(rel_err(conv.as_ref(), y.as_ref()) < 1e-9);
            let half = fs
                .test_outputs(Some(1), 0.5 * eta, f0.as_ref(), f0.as_ref(), y.as_ref())
                .unwrap();
            let expect = Mat::from_fn(N, 1, |i, _| 0.5 * (y[(i, 0)] + f0[(i, 0)]));
            assert!(
                rel_err(half.as_ref(), expect.as_ref()) < 1e-9,
                "{} half step",
                p.name()
            );
        }
    }
}

/// Kernel-regression mean, converged and finite-t test predictions equal the formulas built on an
/// explicitly formed Θ̄(x', x) (eq. 10 under isotropy): relative tolerance 1e-8.
#[test]
fn test_predictions_match_explicit_coefficient() {
    for (depth, sigma_b2) in [(3, 0.0), (4, 0.1)] {
        let s = setup(depth, sigma_b2, 60, 12);
        let mut rng = ChaCha8Rng::seed_from_u64(6);
        let y = gaussian(N, 1, &mut rng);
        let f0 = gaussian(N, 1, &mut rng);
        let f0t = gaussian(N_TEST, 1, &mut rng);
        for (p, _) in ngd_predictors(depth) {
            let fs = FunctionSpace::new(&p, &s.train, &s.test).unwrap();
            let (tbar, alpha) = explicit_coefficient(&p, &s.train, &s.test);
            assert!((fs.alpha().unwrap() - alpha).abs() < 1e-12 * alpha);
            let kr = fs.kernel_regression_test(y.as_ref()).unwrap();
            let expect = faer::Scale(1.0 / alpha) * (&tbar * &y);
            let e = rel_err(kr.as_ref(), expect.as_ref());
            assert!(
                e < 1e-8,
                "{} L = {depth}: kernel regression off by {e:e}",
                p.name()
            );

            let r = &y - &f0;
            let conv = fs
                .converged_test(f0.as_ref(), f0t.as_ref(), y.as_ref())
                .unwrap();
            let expect = &f0t + faer::Scale(1.0 / alpha) * (&tbar * &r);
            assert!(
                rel_err(conv.as_ref(), expect.as_ref()) < 1e-8,
                "{} converged",
                p.name()
            );

            let (t, eta) = (3, 0.3 / alpha);
            let ft = fs
                .test_outputs(Some(t), eta, f0.as_ref(), f0t.as_ref(), y.as_ref())
                .unwrap();
            let g = (1.0 - (1.0 - alpha * eta).powi(t as i32)) / alpha;
            let expect = &f0t + faer::Scale(g) * (&tbar * &r);
            assert!(
                rel_err(ft.as_ref(), expect.as_ref()) < 1e-8,
                "{} t = 3",
                p.name()
            );
        }
    }
}

/// GD (eq. 5) equals the direct iteration f ← f − ηΘ(f(x) − y) on train and test points, with
/// Θ = Σ_l Θ_l / N, for 25 steps at η = 1/λ_max and 1.5/λ_max (relative tolerance 1e-9); the loss
/// curve matches ½‖f_t − y‖²/N; the converged GD predictor equals exact NGD's (eq. 14).
#[test]
fn gd_matches_direct_iteration() {
    let s = setup(3, 0.1, 30, 13);
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let c = 2;
    let y = gaussian(N, c, &mut rng);
    let f0 = gaussian(N, c, &mut rng);
    let f0t = gaussian(N_TEST, c, &mut rng);
    let theta = s.train.ntk_paper(N);
    let theta_test = s.test.ntk_paper(N);
    let lmax = max_eigenvalue(theta.as_ref()).unwrap();
    let fs = FunctionSpace::new(&Predictor::Gd, &s.train, &s.test).unwrap();
    assert!(fs.alpha().is_none());
    assert!((fs.optimal_learning_rate().unwrap() - 1.0 / lmax).abs() < 1e-12 / lmax);
    for eta in [1.0 / lmax, 1.5 / lmax] {
        let curve = gd_train_loss_curve(theta.as_ref(), (&f0 - &y).as_ref(), eta, 25).unwrap();
        let (mut f, mut ft) = (f0.clone(), f0t.clone());
        for t in 0..=25 {
            let pred = fs
                .train_outputs(Some(t), eta, f0.as_ref(), y.as_ref())
                .unwrap();
            let pred_t = fs
                .test_outputs(Some(t), eta, f0.as_ref(), f0t.as_ref(), y.as_ref())
                .unwrap();
            assert!(rel_err(pred.as_ref(), f.as_ref()) < 1e-9, "train t = {t}");
            assert!(rel_err(pred_t.as_ref(), ft.as_ref()) < 1e-9, "test t = {t}");
            let loss = 0.5 * (&f - &y).squared_norm_l2() / N as f64;
            assert!(
                (curve[t] - loss).abs() <= 1e-9 * loss,
                "loss t = {t}: {} vs {loss}",
                curve[t]
            );
            let r = &f - &y;
            ft -= faer::Scale(eta) * (&theta_test * &r);
            f -= faer::Scale(eta) * (&theta * &r);
        }
    }
    // Converged GD = converged exact NGD = Θ(x',x)Θ⁻¹(y − f0) + f0(x').
    let exact = FunctionSpace::new(&Predictor::Exact, &s.train, &s.test).unwrap();
    let a = fs
        .converged_test(f0.as_ref(), f0t.as_ref(), y.as_ref())
        .unwrap();
    let b = exact
        .converged_test(f0.as_ref(), f0t.as_ref(), y.as_ref())
        .unwrap();
    assert!(
        rel_err(a.as_ref(), b.as_ref()) < 1e-7,
        "GD vs exact f_∞: {:e}",
        rel_err(a.as_ref(), b.as_ref())
    );
    // Divergent learning rate: no t → ∞ limit.
    let err = fs
        .train_outputs(None, 2.5 / lmax, f0.as_ref(), y.as_ref())
        .unwrap_err();
    assert!(matches!(err, KernelError::NoLimit { .. }), "{err}");
}

/// I_C ⊗ Θ̄: C = 3 targets (and two stacked initialisations, 6 columns) give exactly the three
/// per-class predictions (relative tolerance 1e-12); K-FAC refuses C > 1.
#[test]
fn multi_class_equals_per_class() {
    let s = setup(3, 0.0, 60, 14);
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let c = 3;
    let y = gaussian(N, c, &mut rng);
    let f0 = gaussian(N, 2 * c, &mut rng);
    let f0t = gaussian(N_TEST, 2 * c, &mut rng);
    for p in [
        Predictor::Gd,
        Predictor::Exact,
        Predictor::block_diagonal(3),
        Predictor::block_tridiagonal(3),
    ] {
        let fs = FunctionSpace::new(&p, &s.train, &s.test).unwrap();
        let eta = fs.optimal_learning_rate().unwrap() * 0.7;
        let all = fs
            .test_outputs(Some(4), eta, f0.as_ref(), f0t.as_ref(), y.as_ref())
            .unwrap();
        let kr = fs.kernel_regression_test(y.as_ref()).unwrap();
        for col in 0..2 * c {
            let class = col % c;
            let one = fs
                .test_outputs(
                    Some(4),
                    eta,
                    f0.as_ref().subcols(col, 1),
                    f0t.as_ref().subcols(col, 1),
                    y.as_ref().subcols(class, 1),
                )
                .unwrap();
            assert!(
                rel_err(all.as_ref().subcols(col, 1), one.as_ref()) < 1e-12,
                "{} column {col}",
                p.name()
            );
            let kr1 = fs
                .kernel_regression_test(y.as_ref().subcols(class, 1))
                .unwrap();
            assert!(rel_err(kr.as_ref().subcols(class, 1), kr1.as_ref()) < 1e-12);
        }
    }
    let kfac = FunctionSpace::new(&Predictor::Kfac, &s.train, &s.test).unwrap();
    let err = kfac.kernel_regression_test(y.as_ref()).unwrap_err();
    assert!(
        matches!(err, KernelError::KfacMultiOutput { outputs: 3 }),
        "{err}"
    );
}

/// M_0 = 10 < N = 40: plain K-FAC reports the singular input factor; the pseudo-inverse variant
/// gives Θ̄(x,x)/N = (L−1)I + diag(X(XᵀX)⁻¹Xᵀ) (paper §4.3), with X's projector computed here
/// directly (tolerance 1e-9), and its test path at x' = x applies exactly that diagonal.
#[test]
fn kfac_pseudo_inverse_for_low_dimensional_inputs() {
    let depth = 3;
    let s = setup(depth, 0.0, 10, 15);
    let err = FunctionSpace::new(&Predictor::Kfac, &s.train, &s.train)
        .err()
        .unwrap();
    assert!(
        matches!(err, KernelError::KfacSingularInput { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("KfacPinvInput"));

    let p = Predictor::KfacPinvInput { rel_tol: 1e-10 };
    let fs = FunctionSpace::new(&p, &s.train, &s.train).unwrap();
    assert!(fs.alpha().is_none());
    let x = &s.x;
    let proj = x * inverse(&(x.transpose() * x)) * x.transpose();
    let mut expect: Vec<f64> = (0..N)
        .map(|i| N as f64 * ((depth - 1) as f64 + proj[(i, i)]))
        .collect();
    expect.sort_by(f64::total_cmp);
    let got = fs.train_spectrum();
    for (g, e) in got.iter().zip(&expect) {
        assert!((g - e).abs() < 1e-9 * e, "diag {g} vs {e}");
    }
    // Test path at x' = x: Θ̄(x,x) w = diag(d) w.
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let w = gaussian(N, 1, &mut rng);
    let applied = fs.apply_test_coefficient(w.as_ref());
    let d: Vec<f64> = (0..N)
        .map(|i| N as f64 * ((depth - 1) as f64 + proj[(i, i)]))
        .collect();
    let expect = Mat::from_fn(N, 1, |i, _| d[i] * w[(i, 0)]);
    assert!(rel_err(applied.as_ref(), expect.as_ref()) < 1e-8);
    // The input-based pseudo-inverse gives the same predictor (relative 1e-8).
    let xt = unit_rows(N_TEST, 10, &mut ChaCha8Rng::seed_from_u64(15)); // any test inputs
    let cfg = AnalyticConfig {
        depth,
        sigma_w2: 2.0,
        sigma_b2: 0.0,
    };
    let test = relu_layer_kernels(&cfg, xt.as_ref(), s.x.as_ref()).unwrap();
    let by_eig = FunctionSpace::new(&p, &s.train, &test).unwrap();
    let by_x = FunctionSpace::kfac_low_rank_inputs(
        &Predictor::KfacPrinted,
        &s.train,
        &test,
        s.x.as_ref(),
        xt.as_ref(),
    )
    .unwrap();
    let y = gaussian(N, 1, &mut rng);
    let (a, b) = (
        by_eig.kernel_regression_test(y.as_ref()).unwrap(),
        by_x.kernel_regression_test(y.as_ref()).unwrap(),
    );
    assert!(
        rel_err(b.as_ref(), a.as_ref()) < 1e-8,
        "{:e}",
        rel_err(b.as_ref(), a.as_ref())
    );
    for (g, e) in by_x.train_spectrum().iter().zip(&got) {
        assert!((g - e).abs() < 1e-9 * e);
    }
    // Mismatched inputs are detected.
    assert!(
        FunctionSpace::kfac_low_rank_inputs(
            &Predictor::KfacPrinted,
            &s.train,
            &test,
            s.x.as_ref(),
            s.x.as_ref().subrows(0, N_TEST)
        )
        .is_err()
    );
    // With full-rank inputs the pseudo-inverse variant coincides with plain K-FAC (eq. 21).
    let full = setup(depth, 0.0, 60, 16);
    let a = FunctionSpace::new(&Predictor::KfacPrinted, &full.train, &full.test).unwrap();
    let b = FunctionSpace::new(&p, &full.train, &full.test).unwrap();
    let y = gaussian(N, 1, &mut rng);
    let (ka, kb) = (
        a.kernel_regression_test(y.as_ref()).unwrap(),
        b.kernel_regression_test(y.as_ref()).unwrap(),
    );
    assert!(rel_err(kb.as_ref(), ka.as_ref()) < 1e-7);
}

/// Singular Σ (tri-diagonal L = 5) is refused with the Lemma 4.3 message; wrong shapes too.
#[test]
fn invalid_predictors_are_reported() {
    let s = setup(5, 0.0, 60, 17);
    let err = FunctionSpace::new(&Predictor::block_tridiagonal(5), &s.train, &s.test)
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            KernelError::Sigma(ngd_kernels::SigmaError::Singular { depth: 5, .. })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("3s+2"));
    let err = FunctionSpace::new(&Predictor::block_diagonal(4), &s.train, &s.test)
        .err()
        .unwrap();
    assert!(matches!(err, KernelError::Shape(_)), "{err}");
    let err = FunctionSpace::new(&Predictor::Exact, &s.test, &s.test)
        .err()
        .unwrap();
    assert!(matches!(err, KernelError::Shape(_)), "{err}");
    let fs = FunctionSpace::new(&Predictor::Exact, &s.train, &s.test).unwrap();
    let bad = Mat::<f64>::zeros(N + 1, 1);
    assert!(fs.kernel_regression_test(bad.as_ref()).is_err());
}

/// Forster transform (MATH.md §3): rows rescaled to unit norm with XᵀX = (N/M_0)I make K-FAC
/// isotropic for M_0 < N (paper §4.3): Θ̄(x,x) = αI with α = N(L−1) + M_0 (tolerance 1e-9).
#[test]
fn kfac_forster_inputs_are_isotropic() {
    let (depth, m0) = (3, 10);
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    let mut z = unit_rows(N, m0, &mut rng);
    for _ in 0..10_000 {
        let g = z.transpose() * &z;
        let dev = (0..m0)
            .flat_map(|i| (0..m0).map(move |j| (i, j)))
            .map(|(i, j)| (g[(i, j)] - if i == j { N as f64 / m0 as f64 } else { 0.0 }).abs())
            .fold(0.0, f64::max);
        if dev < 1e-13 {
            break;
        }
        let eig = ngd_linalg::symmetric_eigen(g.as_ref(), "Forster").unwrap();
        let u = &eig.vectors;
        let inv_sqrt = Mat::from_fn(m0, m0, |i, j| {
            (0..m0)
                .map(|k| u[(i, k)] * u[(j, k)] / eig.values[k].sqrt())
                .sum::<f64>()
        });
        z = &z * inv_sqrt;
        for i in 0..N {
            let n: f64 = (0..m0).map(|j| z[(i, j)].powi(2)).sum::<f64>().sqrt();
            for j in 0..m0 {
                z[(i, j)] /= n;
            }
        }
    }
    let cfg = AnalyticConfig {
        depth,
        sigma_w2: 2.0,
        sigma_b2: 0.0,
    };
    let train = relu_layer_kernels_sym(&cfg, z.as_ref()).unwrap();
    // Training's K-FAC: α = N(L−2) + M_0 + 1 (last layer weighted 1); as printed N(L−1) + M_0.
    // Both are isotropic: one step at η = 1/α reaches y through the explicit test path at x' = x.
    let y = gaussian(N, 1, &mut rng);
    let f0 = gaussian(N, 1, &mut rng);
    for (p, expect) in [
        (Predictor::Kfac, N * (depth - 2) + m0 + 1),
        (Predictor::KfacPrinted, N * (depth - 1) + m0),
    ] {
        let fs = FunctionSpace::kfac_low_rank_inputs(&p, &train, &train, z.as_ref(), z.as_ref())
            .unwrap();
        let expect = expect as f64;
        let alpha = fs
            .alpha()
            .expect("Forster inputs give an isotropic K-FAC coefficient");
        assert!(
            (alpha - expect).abs() < 1e-9 * expect,
            "{}: α = {alpha}, expected {expect}",
            p.name()
        );
        let f1 = fs
            .test_outputs(Some(1), 1.0 / alpha, f0.as_ref(), f0.as_ref(), y.as_ref())
            .unwrap();
        assert!(rel_err(f1.as_ref(), y.as_ref()) < 1e-8, "{}", p.name());
    }
}

/// With bias (σ_b² = 0.1, so X̃ = [σ_w X/√M_0, σ_b 1]) the input-based and the eigen-based
/// pseudo-inverse K-FAC agree (relative 1e-8) for M_0 = 10 < N.
#[test]
fn kfac_low_rank_inputs_with_bias() {
    let s = setup(4, 0.1, 10, 22);
    let mut rng = ChaCha8Rng::seed_from_u64(23);
    let xt = unit_rows(N_TEST, 10, &mut rng);
    let cfg = AnalyticConfig {
        depth: 4,
        sigma_w2: 2.0,
        sigma_b2: 0.1,
    };
    let test = relu_layer_kernels(&cfg, xt.as_ref(), s.x.as_ref()).unwrap();
    let by_eig = FunctionSpace::new(
        &Predictor::KfacPinvInput { rel_tol: 1e-10 },
        &s.train,
        &test,
    )
    .unwrap();
    let by_x = FunctionSpace::kfac_low_rank_inputs(
        &Predictor::KfacPrinted,
        &s.train,
        &test,
        s.x.as_ref(),
        xt.as_ref(),
    )
    .unwrap();
    let y = gaussian(N, 1, &mut rng);
    let f0 = gaussian(N, 1, &mut rng);
    let f0t = gaussian(N_TEST, 1, &mut rng);
    let a = by_eig
        .test_outputs(Some(2), 0.01, f0.as_ref(), f0t.as_ref(), y.as_ref())
        .unwrap();
    let b = by_x
        .test_outputs(Some(2), 0.01, f0.as_ref(), f0t.as_ref(), y.as_ref())
        .unwrap();
    assert!(
        rel_err(b.as_ref(), a.as_ref()) < 1e-8,
        "{:e}",
        rel_err(b.as_ref(), a.as_ref())
    );
}
