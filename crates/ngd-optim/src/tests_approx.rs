//! Block tri-diagonal / layer-wise Σ, K-FAC and unit-wise NGD against explicit parameter-space
//! formulas on small synthetic factors.

use crate::direction::tests::synthetic_factors;
use crate::{
    Curvature, Direction, Kfac, LayerStep, LayerWise, Method, UnitWise, coefficient_matrix,
    parse_sigma,
};
use crate::{Factors, LayerFactors};
use faer::{Mat, Scale};
use ngd_linalg::{add_to_diagonal, col, max_abs_diff, solve_pseudo_inverse, solve_spd};

fn identity_times(a: f64, n: usize) -> Mat<f64> {
    Mat::from_fn(n, n, |i, j| if i == j { a } else { 0.0 })
}

fn residual(n: usize) -> Vec<f64> {
    (0..n).map(|k| (k as f64 * 1.3 + 0.2).sin()).collect()
}

/// Δ(W_lᵀ | b_l) of every layer, (M_{l−1}+1) × M_l, from a direction.
fn dense_steps(f: &Factors, d: &Direction) -> Vec<Mat<f64>> {
    f.layers
        .iter()
        .zip(&d.layers)
        .map(|(layer, step)| match step {
            LayerStep::Coefficients(r) => layer.input.transpose() * r,
            LayerStep::Dense(s) => s.clone(),
        })
        .collect()
}

/// Widths [20, 24, 18, …, 1] of depth L (wide enough that ρ = 0 is exact for N = 6).
fn wide(depth: usize) -> Vec<usize> {
    let mut w = vec![20];
    w.extend((1..depth).map(|l| 18 + 3 * (l % 3)));
    w.push(1);
    w
}

/// Lemma 4.3 through the method: α = 1, 2, 2, 3 at L = 3, 4, 6, 7 (exact to 1e-12).
#[test]
fn tridiagonal_alpha_follows_lemma_4_3_through_the_method() {
    for (depth, want) in [(3, 1.0), (4, 2.0), (6, 2.0), (7, 3.0)] {
        let f = synthetic_factors(4, 1, &wide(depth), 10 + depth as u64);
        let c = Method::BlockTriDiagonal.curvature(0.0).unwrap();
        let alpha = c.alpha(&f).unwrap();
        assert!((alpha - want).abs() < 1e-12, "L = {depth}: α = {alpha}");
        let lr = Method::BlockTriDiagonal.optimal_lr(c.as_ref(), &f).unwrap();
        assert!((lr - 1.0 / want).abs() < 1e-12);
    }
}

/// L = 5 = 3·1+2: Σ singular, so ρ = 0 is a clear error; ρ > 0 runs.
#[test]
fn tridiagonal_depth_five_needs_damping() {
    let f = synthetic_factors(4, 1, &wide(5), 21);
    let e = residual(4);
    let err = Method::BlockTriDiagonal
        .curvature(0.0)
        .unwrap()
        .direction(&f, &e)
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("singular") && msg.contains("3s+2") && msg.contains("damping"),
        "{msg}"
    );
    let c = Method::BlockTriDiagonal.curvature(1e-3).unwrap();
    assert!(c.direction(&f, &e).is_ok());
    assert!(c.alpha(&f).is_none());
    assert!(matches!(
        Method::BlockTriDiagonal
            .optimal_lr(c.as_ref(), &f)
            .unwrap_err(),
        crate::OptimError::NoDefaultLr { .. }
    ));
}

/// Θ̄ = αI (Theorem 4.1) for the tri-diagonal Σ (L = 4, α = 2) and a user Σ, with C = 2
/// (P ≫ CN so ρ = 0 is exact; tolerance 1e-8).
#[test]
fn layerwise_sigma_is_isotropic_with_alpha() {
    let f = synthetic_factors(5, 2, &[20, 24, 21, 22, 2], 22);
    let tb = coefficient_matrix(
        Method::BlockTriDiagonal.curvature(0.0).unwrap().as_ref(),
        &f,
    )
    .unwrap();
    assert!(max_abs_diff(tb.as_ref(), identity_times(2.0, 10).as_ref()) < 1e-8);
    let sigma = parse_sigma("1,0.5,0,0;0.5,1,0.5,0;0,0.5,1,0.2;0,0,0.2,1").unwrap();
    let lw = LayerWise::with_sigma(sigma, 0.0).unwrap();
    let alpha = lw.alpha(&f).unwrap();
    let tb = coefficient_matrix(&lw, &f).unwrap();
    assert!(max_abs_diff(tb.as_ref(), identity_times(alpha, 10).as_ref()) < 1e-8);
    // Σ = I is block-diagonal NGD.
    let bd = Method::BlockDiagonal.curvature(0.0).unwrap();
    let lw = LayerWise::with_sigma(Mat::identity(4, 4), 0.0).unwrap();
    let e = residual(10);
    let (a, b) = (bd.direction(&f, &e).unwrap(), lw.direction(&f, &e).unwrap());
    for (x, y) in dense_steps(&f, &a).iter().zip(&dense_steps(&f, &b)) {
        assert!(max_abs_diff(x.as_ref(), y.as_ref()) < 1e-9);
    }
}

#[test]
fn sigma_parsing_rejects_bad_matrices() {
    assert!(parse_sigma("1,0.5;0.5,1").is_ok());
    assert!(
        parse_sigma("1,0.5;0.4,1")
            .unwrap_err()
            .to_string()
            .contains("symmetric")
    );
    assert!(
        parse_sigma("1,0;0")
            .unwrap_err()
            .to_string()
            .contains("L×L")
    );
    assert!(parse_sigma("1,x;0,1").is_err());
    let f = synthetic_factors(4, 1, &wide(3), 23);
    let lw = LayerWise::with_sigma(Mat::identity(2, 2), 0.0).unwrap();
    assert!(
        lw.direction(&f, &residual(4))
            .unwrap_err()
            .to_string()
            .contains("depth")
    );
    assert!(Method::LayerWise.curvature(0.0).is_err());
}

/// Row-major Kronecker product B ⊗ A.
fn kron(b: &Mat<f64>, a: &Mat<f64>) -> Mat<f64> {
    let (p, q) = (a.nrows(), a.ncols());
    Mat::from_fn(b.nrows() * p, b.ncols() * q, |r, c| {
        b[(r / p, c / q)] * a[(r % p, c % q)]
    })
}

/// K-FAC with explicit factors and the explicit Kronecker inverse (eq. 20, MATH.md §8):
/// A = h̃ᵀh̃/N + ρ_A, B = δᵀΛδ/N + ρ_B (Λ: CN × CN, class-major), π from the traces,
/// vec_r(ΔW̃_l) = (B ⊗ A)⁻¹ vec_r(Σ_{c,n} g_{c,n} δ^{(c)}(n) ⊗ h̃(n) / N), as Δ(W_lᵀ | b_l).
fn kfac_explicit(f: &Factors, g: &[f64], lambda: &Mat<f64>, rho: f64) -> Vec<Mat<f64>> {
    let n = f.samples();
    let scale = Scale(1.0 / n as f64);
    f.layers
        .iter()
        .map(|layer: &LayerFactors| {
            let h = &layer.input;
            let d = &layer.delta;
            let mut a = h.transpose() * h * scale;
            let mut b = d.transpose() * lambda * d * scale;
            let tr =
                |m: &Mat<f64>| (0..m.nrows()).map(|i| m[(i, i)]).sum::<f64>() / m.nrows() as f64;
            let pi = (tr(&a) / tr(&b)).sqrt();
            add_to_diagonal(&mut a, rho.sqrt() * pi);
            add_to_diagonal(&mut b, rho.sqrt() / pi);
            let gd = Mat::from_fn(d.nrows(), d.ncols(), |k, j| g[k] * d[(k, j)]);
            let hs = Mat::from_fn(d.nrows(), h.ncols(), |k, j| h[(k % n, j)]);
            let grad = gd.transpose() * hs * scale; // M_l × (M_{l−1}+1)
            let (mo, mi) = (grad.nrows(), grad.ncols());
            let gv = Mat::from_fn(mo * mi, 1, |k, _| grad[(k / mi, k % mi)]);
            let x = solve_spd(kron(&b, &a).as_ref(), gv.as_ref(), "kron").unwrap();
            Mat::from_fn(mi, mo, |j, i| x[(i * mi + j, 0)])
        })
        .collect()
}

/// Asserts that every layer of `got` equals `want` to a relative 1e-8 (Frobenius).
fn assert_layers_close(got: &[Mat<f64>], want: &[Mat<f64>], what: &str) {
    for (l, (g, w)) in got.iter().zip(want).enumerate() {
        let err = max_abs_diff(g.as_ref(), w.as_ref()) / ngd_linalg::frobenius(w.as_ref());
        assert!(
            err < 1e-8,
            "{what}, layer {}: relative error {err:.2e}",
            l + 1
        );
    }
}

/// The N × N push-through form equals the explicit Kronecker inverse, with layers where
/// M_l > N and M_l < N on both factors (N = 6; widths 10, 12, 3, 1; ρ = 0.1 and 1e-3;
/// relative tolerance 1e-8).
#[test]
fn kfac_push_through_equals_explicit_kronecker_inverse() {
    let n = 6;
    let f = synthetic_factors(n, 1, &[10, 12, 3, 1], 31);
    let e = residual(n);
    for rho in [0.1, 1e-3] {
        let kfac = Kfac {
            damping: rho,
            ..Kfac::default()
        };
        let got = dense_steps(&f, &kfac.direction(&f, &e).unwrap());
        let want = kfac_explicit(&f, &e, &Mat::identity(n, n), rho);
        assert_layers_close(&got, &want, &format!("ρ = {rho}"));
    }
}

/// K-FAC with C > 1 outputs, for MSE (Λ = I) and softmax cross-entropy (Λ_n = diag(p) − ppᵀ),
/// and logistic cross-entropy with C = 1, equals the explicit Kronecker-factored inverse; layers
/// whose output side is pushed through (M_l ≥ CN) and explicit (M_l < CN); relative 1e-8.
#[test]
fn kfac_several_outputs_equals_explicit_kronecker_inverse() {
    use crate::Loss;
    let n = 4;
    for (c, loss) in [
        (3, Loss::Mse),
        (3, Loss::CrossEntropy),
        (1, Loss::CrossEntropy),
    ] {
        let f = with_outputs(synthetic_factors(n, c, &[5, 14, 3, c], 40 + c as u64));
        let y = targets(n, c);
        let g = loss.output_gradient(&f.outputs, &y);
        let lambda = match loss {
            Loss::Mse => Mat::identity(n * c, n * c),
            Loss::CrossEntropy => explicit_lambda(&f),
        };
        for rho in [0.1, 1e-3] {
            let kfac = Kfac { damping: rho, loss };
            let got = dense_steps(&f, &kfac.direction(&f, &g).unwrap());
            let want = kfac_explicit(&f, &g, &lambda, rho);
            assert_layers_close(&got, &want, &format!("C = {c}, {loss}, ρ = {rho}"));
        }
    }
}

#[test]
fn kfac_without_damping_on_a_singular_input_gram_suggests_forster() {
    // A duplicated sample makes the input Gram h̃₀h̃₀ᵀ (6 × 6, pushed through since 11 ≥ N)
    // singular, as when M_0 < N.
    let mut f = synthetic_factors(6, 1, &[10, 12, 1], 33);
    let row: Vec<f64> = (0..11).map(|j| f.layers[0].input[(0, j)]).collect();
    for (j, v) in row.into_iter().enumerate() {
        f.layers[0].input[(1, j)] = v;
    }
    let err = Kfac::default().direction(&f, &residual(6)).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, crate::OptimError::SingularInputFactor { .. })
            && msg.contains("singular")
            && msg.contains("Forster"),
        "{msg}"
    );
    let damped = Kfac {
        damping: 1e-2,
        ..Kfac::default()
    };
    assert!(damped.direction(&f, &residual(6)).is_ok());
}

/// Synthetic ReLU-like factors: δ zeroed on a pseudo-random ~40 % of (sample, unit) pairs of
/// the hidden layers.
fn relu_like(n: usize, widths: &[usize], seed: u64) -> Factors {
    relu_like_outputs(n, 1, widths, seed)
}

/// [`relu_like`] with C outputs: a unit is off on a sample for every output at once (φ′ = 0).
fn relu_like_outputs(n: usize, c_out: usize, widths: &[usize], seed: u64) -> Factors {
    let mut f = synthetic_factors(n, c_out, widths, seed);
    let depth = f.depth();
    for (l, layer) in f.layers.iter_mut().enumerate().take(depth - 1) {
        for i in 0..layer.delta.nrows() {
            for j in 0..layer.delta.ncols() {
                if ((i % n) * 7 + j * 13 + l * 5) % 5 < 2 {
                    layer.delta[(i, j)] = 0.0;
                }
            }
        }
    }
    f
}

/// Unit i's explicit step g_iᵀ (g_i g_iᵀ + NρI)⁺ e, g_i = diag(δ_i) h̃ (eq. 23), as columns of
/// Δ(W_lᵀ | b_l); ρ = 0 uses the eigen-decomposition pseudo-inverse.
fn unit_wise_explicit(f: &Factors, e: &[f64], rho: f64) -> Vec<Mat<f64>> {
    let n = f.samples();
    f.layers
        .iter()
        .map(|layer| {
            let h = &layer.input;
            let mut out = Mat::zeros(h.ncols(), layer.delta.ncols());
            for i in 0..layer.delta.ncols() {
                let g = Mat::from_fn(layer.delta.nrows(), h.ncols(), |a, b| {
                    layer.delta[(a, i)] * h[(a % n, b)]
                });
                let mut gg = &g * g.transpose();
                add_to_diagonal(&mut gg, n as f64 * rho);
                let u = solve_pseudo_inverse(gg.as_ref(), col(e).as_ref(), 1e-10, "u").unwrap();
                let step = g.transpose() * u;
                for j in 0..h.ncols() {
                    out[(j, i)] = step[(j, 0)];
                }
            }
            out
        })
        .collect()
}

/// Unit-wise NGD equals the explicit per-unit (pseudo-)inverse: ρ = 0 (exact active-set
/// path) and ρ = 0.05; relative tolerance 1e-8.
#[test]
fn unit_wise_equals_explicit_per_unit_pseudo_inverse() {
    let n = 6;
    let f = relu_like(n, &[10, 9, 8, 1], 41);
    let e = residual(n);
    for rho in [0.0, 0.05] {
        let got = dense_steps(
            &f,
            &UnitWise {
                damping: rho,
                ..UnitWise::default()
            }
            .direction(&f, &e)
            .unwrap(),
        );
        let want = unit_wise_explicit(&f, &e, rho);
        for (l, (g, w)) in got.iter().zip(&want).enumerate() {
            let err = max_abs_diff(g.as_ref(), w.as_ref()) / ngd_linalg::frobenius(w.as_ref());
            assert!(
                err < 1e-8,
                "ρ = {rho}, layer {}: relative error {err:.2e}",
                l + 1
            );
        }
    }
}

/// The same for C = 3 outputs (g_i is 3N × (M+1); the code's per-unit N × N push-through
/// form against the explicit 3N × 3N pseudo-inverse), ρ = 0 and 0.05; relative tolerance 1e-8.
#[test]
fn unit_wise_several_outputs_equals_explicit_per_unit_pseudo_inverse() {
    let n = 5;
    let f = relu_like_outputs(n, 3, &[10, 9, 8, 3], 43);
    let e = residual(3 * n);
    for rho in [0.0, 0.05] {
        let got = dense_steps(
            &f,
            &UnitWise {
                damping: rho,
                ..UnitWise::default()
            }
            .direction(&f, &e)
            .unwrap(),
        );
        let want = unit_wise_explicit(&f, &e, rho);
        for (l, (g, w)) in got.iter().zip(&want).enumerate() {
            let err = max_abs_diff(g.as_ref(), w.as_ref()) / ngd_linalg::frobenius(w.as_ref());
            assert!(
                err < 1e-8,
                "C = 3, ρ = {rho}, layer {}: relative error {err:.2e}",
                l + 1
            );
        }
    }
    // α̂ = tr Θ̄ / (CN) (Θ̄ = Σ_units projectors)
    let tb = coefficient_matrix(&UnitWise::default(), &f).unwrap();
    let trace: f64 = (0..3 * n).map(|k| tb[(k, k)]).sum();
    let alpha = UnitWise::default().alpha(&f).unwrap();
    assert!(
        (trace / (3 * n) as f64 - alpha).abs() < 1e-9,
        "{trace} vs {alpha}"
    );
}

/// Cross-entropy unit-wise NGD (C = 3 softmax, C = 1 logistic) equals the explicit per-unit
/// (g_iᵀΛg_i/N + ρ)⁺ g_iᵀr/N in parameter space (pseudo-inverse at ρ = 0); relative 1e-8.
#[test]
fn unit_wise_cross_entropy_equals_explicit_per_unit_fisher_inverse() {
    use crate::Loss;
    let n = 5;
    for c in [3, 1] {
        let f = with_outputs(relu_like_outputs(n, c, &[10, 9, 8, c], 47 + c as u64));
        let r = Loss::CrossEntropy.output_gradient(&f.outputs, &targets(n, c));
        let lambda = explicit_lambda(&f);
        for rho in [0.0, 0.05] {
            let uw = UnitWise {
                damping: rho,
                loss: Loss::CrossEntropy,
            };
            let got = dense_steps(&f, &uw.direction(&f, &r).unwrap());
            let want: Vec<Mat<f64>> = f
                .layers
                .iter()
                .map(|layer| {
                    let h = &layer.input;
                    let mut out = Mat::zeros(h.ncols(), layer.delta.ncols());
                    for i in 0..layer.delta.ncols() {
                        let g = Mat::from_fn(layer.delta.nrows(), h.ncols(), |a, b| {
                            layer.delta[(a, i)] * h[(a % n, b)]
                        });
                        let mut fisher = g.transpose() * &lambda * &g * Scale(1.0 / n as f64);
                        add_to_diagonal(&mut fisher, rho);
                        let grad = g.transpose() * col(&r) * Scale(1.0 / n as f64);
                        let step =
                            solve_pseudo_inverse(fisher.as_ref(), grad.as_ref(), 1e-10, "F_i")
                                .unwrap();
                        for j in 0..h.ncols() {
                            out[(j, i)] = step[(j, 0)];
                        }
                    }
                    out
                })
                .collect();
            assert_layers_close(&got, &want, &format!("C = {c}, ρ = {rho}"));
        }
    }
}

/// With ρ = 0, Θ̄ = Σ_units P_{S_i} = diag(number of active units per sample) and α̂ is its
/// mean (exact to 1e-9).
#[test]
fn unit_wise_theta_bar_counts_active_units() {
    let n = 6;
    let f = relu_like(n, &[10, 9, 8, 1], 42);
    let uw = UnitWise::default();
    let tb = coefficient_matrix(&uw, &f).unwrap();
    let counts: Vec<f64> = (0..n)
        .map(|s| {
            f.layers
                .iter()
                .map(|l| {
                    (0..l.delta.ncols())
                        .filter(|&i| l.delta[(s, i)] != 0.0)
                        .count()
                })
                .sum::<usize>() as f64
        })
        .collect();
    let want = Mat::from_fn(n, n, |i, j| if i == j { counts[i] } else { 0.0 });
    assert!(max_abs_diff(tb.as_ref(), want.as_ref()) < 1e-9);
    let mean = counts.iter().sum::<f64>() / n as f64;
    assert!((uw.alpha(&f).unwrap() - mean).abs() < 1e-12);
}

/// Explicit F_l = J_lᵀJ_l/N, parameters ordered (unit i, input j) with the bias j = M_{l−1}.
fn explicit_fisher(f: &Factors, l: usize) -> Mat<f64> {
    let layer = &f.layers[l];
    let (m_in, n) = (layer.input.ncols(), f.samples());
    let j = Mat::from_fn(layer.delta.nrows(), m_in * layer.width(), |row, col| {
        layer.delta[(row, col / m_in)] * layer.input[(row % n, col % m_in)]
    });
    j.transpose() * &j * Scale(1.0 / n as f64)
}

/// Diagonal and quasi-diagonal steps equal G⁻¹∇L with G built explicitly from F (diagonal;
/// per-unit arrow: diagonal + bias row/column), ρ = 0.01, C = 2; relative tolerance 1e-9.
#[test]
fn diagonal_and_quasi_diagonal_equal_explicit_inverse() {
    let (n, rho) = (5, 0.01);
    let f = synthetic_factors(n, 2, &[4, 3, 2], 51);
    let e = residual(2 * n);
    let gd = dense_steps(&f, &crate::Gd.direction(&f, &e).unwrap());
    let diag = dense_steps(
        &f,
        &crate::Diagonal { damping: rho }.direction(&f, &e).unwrap(),
    );
    let quasi = dense_steps(
        &f,
        &crate::QuasiDiagonal { damping: rho }
            .direction(&f, &e)
            .unwrap(),
    );
    for l in 0..f.depth() {
        let fisher = explicit_fisher(&f, l);
        let m_in = f.layers[l].input.ncols();
        let p = fisher.nrows();
        let grad = Mat::from_fn(p, 1, |k, _| gd[l][(k % m_in, k / m_in)]);
        let keep_diag = Mat::from_fn(p, p, |a, b| if a == b { fisher[(a, b)] + rho } else { 0.0 });
        let arrow = Mat::from_fn(p, p, |a, b| {
            let same_unit = a / m_in == b / m_in;
            let touches_bias = a % m_in == m_in - 1 || b % m_in == m_in - 1;
            if a == b {
                fisher[(a, b)] + rho
            } else if same_unit && touches_bias {
                fisher[(a, b)]
            } else {
                0.0
            }
        });
        for (g, got) in [(keep_diag, &diag[l]), (arrow, &quasi[l])] {
            let want = solve_spd(g.as_ref(), grad.as_ref(), "g").unwrap();
            let got = Mat::from_fn(p, 1, |k, _| got[(k % m_in, k / m_in)]);
            let err =
                max_abs_diff(got.as_ref(), want.as_ref()) / ngd_linalg::frobenius(want.as_ref());
            assert!(err < 1e-9, "layer {}: relative error {err:.2e}", l + 1);
        }
    }
    // The diagonal α (mean eigenvalue of Θ̄) matches tr Θ̄ / CN from the columns.
    let d = crate::Diagonal { damping: rho };
    let tb = coefficient_matrix(&d, &f).unwrap();
    let mean = (0..2 * n).map(|k| tb[(k, k)]).sum::<f64>() / (2 * n) as f64;
    assert!((d.alpha(&f).unwrap() - mean).abs() < 1e-9 * mean);
}

/// Factors with non-trivial outputs f (so that p = softmax(f) is not uniform).
fn with_outputs(mut f: Factors) -> Factors {
    let (n, c) = (f.samples(), f.outputs_dim());
    f.outputs = Mat::from_fn(n, c, |i, j| ((i * 5 + j * 3) as f64 * 0.9).sin() * 1.5);
    f
}

/// One-hot (C > 1) or ±½ (C = 1) targets, row-major.
fn targets(n: usize, c: usize) -> Vec<f64> {
    (0..n)
        .flat_map(|i| {
            (0..c).map(move |j| {
                if c == 1 {
                    if i % 2 == 0 { 0.5 } else { -0.5 }
                } else if i % c == j {
                    1.0
                } else {
                    0.0
                }
            })
        })
        .collect()
}

/// Explicit Λ (CN × CN, class-major) of the likelihood at f.
fn explicit_lambda(f: &Factors) -> Mat<f64> {
    let (n, c) = (f.samples(), f.outputs_dim());
    let id = Mat::<f64>::identity(n * c, n * c);
    crate::Loss::CrossEntropy.weight_gram(&f.outputs, id)
}

/// Cross-entropy exact and block-diagonal NGD equal the explicit (JᵀΛJ/N + ρ)⁻¹∇L (P × P,
/// J from the factors; C = 3 softmax and C = 1 logistic); relative tolerance 1e-8. ρ = 0 is
/// refused.
#[test]
fn cross_entropy_ngd_equals_explicit_fisher_inverse() {
    use crate::direction::tests::explicit_jacobian;
    use crate::{BlockDiagonal, Exact, Loss};
    let rho = 0.02;
    for c in [3, 1] {
        let n = 4;
        let f = with_outputs(synthetic_factors(n, c, &[4, 5, c], 60 + c as u64));
        let y = targets(n, c);
        let g = Loss::CrossEntropy.output_gradient(&f.outputs, &y);
        let lambda = explicit_lambda(&f);
        let jacobians: Vec<Mat<f64>> = f.layers.iter().map(|l| explicit_jacobian(l, n)).collect();
        let exact = Exact {
            damping: rho,
            loss: Loss::CrossEntropy,
        };
        let bd = BlockDiagonal {
            damping: rho,
            loss: Loss::CrossEntropy,
        };
        let got_exact = dense_steps(&f, &exact.direction(&f, &g).unwrap());
        let got_bd = dense_steps(&f, &bd.direction(&f, &g).unwrap());
        // Exact: the full J = [J_1 | J_2].
        let sizes: Vec<usize> = jacobians.iter().map(|j| j.ncols()).collect();
        let p: usize = sizes.iter().sum();
        let j = Mat::from_fn(n * c, p, |r, k| {
            let (mut l, mut k) = (0, k);
            while k >= sizes[l] {
                k -= sizes[l];
                l += 1;
            }
            jacobians[l][(r, k)]
        });
        let solve = |j: &Mat<f64>| {
            let mut fisher = j.transpose() * &lambda * j * Scale(1.0 / n as f64);
            add_to_diagonal(&mut fisher, rho);
            let grad = j.transpose() * col(&g) * Scale(1.0 / n as f64);
            solve_spd(fisher.as_ref(), grad.as_ref(), "F").unwrap()
        };
        let want = solve(&j);
        let mut offset = 0;
        for (l, jl) in jacobians.iter().enumerate() {
            let m_in = f.layers[l].input.ncols();
            let want_bd = solve(jl);
            for (got, w, off) in [(&got_exact[l], &want, offset), (&got_bd[l], &want_bd, 0)] {
                let flat = Mat::from_fn(jl.ncols(), 1, |k, _| got[(k % m_in, k / m_in)]);
                let w = w.as_ref().subrows(off, jl.ncols());
                let err = max_abs_diff(flat.as_ref(), w) / ngd_linalg::frobenius(w);
                assert!(
                    err < 1e-8,
                    "C = {c}, layer {}: relative error {err:.2e}",
                    l + 1
                );
            }
            offset += jl.ncols();
        }
        let zero = Exact {
            damping: 0.0,
            loss: Loss::CrossEntropy,
        };
        assert!(matches!(
            zero.direction(&f, &g).unwrap_err(),
            crate::OptimError::NeedsDamping
        ));
    }
}

/// g/N is the gradient of the loss value with respect to f (central difference, 1e-7).
#[test]
fn cross_entropy_output_gradient_is_the_derivative_of_the_loss() {
    use crate::Loss;
    for c in [3, 1] {
        let n = 3;
        let f = with_outputs(synthetic_factors(n, c, &[2, 2, c], 70));
        let y = targets(n, c);
        let g = Loss::CrossEntropy.output_gradient(&f.outputs, &y);
        let rows = |m: &Mat<f64>| {
            (0..n)
                .flat_map(|i| (0..c).map(move |j| m[(i, j)]))
                .collect::<Vec<_>>()
        };
        for i in 0..n {
            for j in 0..c {
                let h = 1e-5;
                let (mut a, mut b) = (f.outputs.clone(), f.outputs.clone());
                a[(i, j)] += h;
                b[(i, j)] -= h;
                let d = (Loss::CrossEntropy.value(&rows(&a), &y, c)
                    - Loss::CrossEntropy.value(&rows(&b), &y, c))
                    / (2.0 * h);
                assert!(
                    (d - g[j * n + i] / n as f64).abs() < 1e-7,
                    "C = {c}: {d} vs {}",
                    g[j * n + i]
                );
            }
        }
    }
}

/// The default η of the non-isotropic diagonal methods is 1/λ_max(Θ̄) (power iteration vs the
/// eigenvalues of the explicit Θ̄, relative 1e-6).
#[test]
fn diagonal_default_lr_is_one_over_largest_theta_bar_eigenvalue() {
    let f = synthetic_factors(5, 1, &[6, 7, 1], 80);
    for c in [Method::Diagonal, Method::QuasiDiagonal] {
        let curvature = c.curvature(0.01).unwrap();
        let tb = coefficient_matrix(curvature.as_ref(), &f).unwrap();
        let sym = Mat::from_fn(5, 5, |i, j| 0.5 * (tb[(i, j)] + tb[(j, i)]));
        let lmax = *ngd_linalg::symmetric_eigenvalues(sym.as_ref(), "tb")
            .unwrap()
            .last()
            .unwrap();
        let lr = c.optimal_lr(curvature.as_ref(), &f).unwrap();
        assert!(
            (lr * lmax - 1.0).abs() < 1e-6,
            "{c}: η λ_max = {}",
            lr * lmax
        );
    }
}
