//! K-FAC on Forster inputs against its explicit Kronecker-factored matrix, and the dense-step
//! update path (`Direction::apply` / `layer_updates`) against finite differences of the network
//! outputs (see parameter_space.rs for the setting).

mod support;
use support::*;

use faer::{Mat, Scale};
use ngd_linalg::{col, max_abs_diff};
use ngd_model::{Activation, Mlp};
use ngd_optim::Factors;
use ngd_optim::convert::{tensor_from_rows, tensor_to_mat};
use ngd_optim::{
    Curvature, Diagonal, Exact, Kfac, LayerStep, QuasiDiagonal, coefficient_matrix, function_step,
};

/// Forster-transformed inputs (MATH.md §3, forster.rs) to deviation 1e-13, row-major.
fn forster_inputs(mut x: Vec<f64>, n: usize, d: usize) -> Vec<f64> {
    let report = ngd_core::forster::forster(&mut x, n, d, 1e-13, 5000).unwrap();
    assert!(report.deviation <= 1e-13, "{report:?}");
    x
}

/// K-FAC's step at ρ = 0 from its Fisher approximation ⊕_l B*_l ⊗ A*_l (MSE, MATH.md §3):
/// per layer the explicit P_l × P_l Kronecker matrix (vec order (i, j) of [`jacobian`]) with
/// A*_l = h̃ᵀh̃/N and B*_l = δᵀδ/N, and its eigen pseudo-inverse applied to the layer's block of
/// ∇L = Jᵀe/N. The rank must be rank(A*_l)·rank(B*_l) with both factors of full rank.
fn kronecker_step(f: &Factors, grad: &Mat<f64>) -> Mat<f64> {
    let n = f.samples() as f64;
    let mut out = Mat::zeros(grad.nrows(), 1);
    let mut off = 0;
    for (l, layer) in f.layers.iter().enumerate() {
        let a = layer.input.transpose() * &layer.input * Scale(1.0 / n);
        let b = layer.delta.transpose() * &layer.delta * Scale(1.0 / n);
        let (ra, rb) = (psd_rank(&a, "A*"), psd_rank(&b, "B*"));
        let full_a = layer.input.nrows().min(layer.input.ncols());
        let full_b = layer.delta.nrows().min(layer.delta.ncols());
        assert_eq!((ra, rb), (full_a, full_b), "layer {}: factor ranks", l + 1);
        let (ma, mb) = (a.nrows(), b.nrows());
        let kron = Mat::from_fn(ma * mb, ma * mb, |r, k| {
            b[(r / ma, k / ma)] * a[(r % ma, k % ma)]
        });
        let g = grad.as_ref().subrows(off, ma * mb).to_owned();
        let step = pinv_solve(&kron, &g, ra * rb, "B*⊗A*");
        for r in 0..ma * mb {
            out[(off + r, 0)] = step[(r, 0)];
        }
        off += ma * mb;
    }
    out
}

/// Θ̄ = JΔθ(e_k) column by column from the explicit J (CN × CN).
fn explicit_theta_bar(f: &Factors, curvature: &dyn Curvature) -> Mat<f64> {
    let j = jacobian(f);
    let cn = j.nrows();
    let mut out = Mat::zeros(cn, cn);
    for k in 0..cn {
        let mut e = vec![0.0; cn];
        e[k] = 1.0;
        let s = &j * flat_step(f, &curvature.direction(f, &e).unwrap());
        for i in 0..cn {
            out[(i, k)] = s[(i, 0)];
        }
    }
    out
}

/// K-FAC at ρ = 0 on Forster-transformed inputs with N = M_0 + 1 = 5 (every factor pushed
/// through or invertible): Δθ = (⊕_l B*_l ⊗ A*_l)⁺ ∇L with the explicit P × P Kronecker
/// matrix and its eigen pseudo-inverse, and Θ̄ = JΔθ = (N(L−1)+1)I = 11·I, the α that
/// `Kfac::alpha` claims (C = 1 ReLU and C = 2 tanh; width 10 ≥ CN so the hidden output
/// factors are pushed through). Measured: step ≤ 2.6e-11 relative (tolerance 1e-9),
/// Θ̄ − αI ≤ 4.9e-12·α (tolerance 1e-10·α).
#[test]
fn kfac_on_forster_inputs_is_the_kronecker_pseudo_inverse_with_alpha_n_l_minus_one_plus_one() {
    let (n, m0, depth) = (5, 4, 3);
    let x = forster_inputs(inputs(n, m0, 3), n, m0);
    // tanh for C = 2: ReLU's δ^{(1)}(n), δ^{(2)}(n) share the active set of sample n, and the
    // CN × M_l factor δ_l then often lacks full row rank (B* singular in push-through form).
    for (c, activation) in [(1, Activation::Relu), (2, Activation::Tanh)] {
        let model = network(m0, 10, depth, c, activation, 31 + c as u64);
        let f = factors_at(&model, &x, n);
        let e = residual(c * n);
        let j = jacobian(&f);
        let grad = gradient(&j, &e, n);
        let want = kronecker_step(&f, &grad);
        let kfac = Kfac::default();
        let got = flat_step(&f, &kfac.direction(&f, &e).unwrap());
        let err = rel_max(&got, &want);
        eprintln!("K-FAC Forster N = M_0 + 1, C = {c}: step relative max error {err:.2e}");
        assert!(err < 1e-9, "K-FAC vs (⊕B*⊗A*)⁺∇L, C = {c}: {err:.2e}");

        let alpha = (n * (depth - 1) + 1) as f64;
        assert_eq!(kfac.alpha(&f), Some(alpha));
        let id = Mat::<f64>::identity(c * n, c * n) * Scale(alpha);
        for (what, tb) in [
            ("library Θ̄", coefficient_matrix(&kfac, &f).unwrap()),
            ("explicit JΔθ", explicit_theta_bar(&f, &kfac)),
        ] {
            let err = max_abs_diff(tb.as_ref(), id.as_ref()) / alpha;
            eprintln!("K-FAC Forster N = M_0 + 1, C = {c}: {what} − αI = {err:.2e}·α");
            assert!(err < 1e-10, "{what} ≠ {alpha}·I, C = {c}: {err:.2e}·α");
        }
    }
}

/// Numerical rank of a symmetric PSD matrix, asserting a clear gap (kept > 1e-8·λ_max,
/// dropped < 1e-13·λ_max).
fn psd_rank(a: &Mat<f64>, what: &str) -> usize {
    let values = ngd_linalg::symmetric_eigenvalues(a.as_ref(), what).unwrap();
    let lmax = values.last().copied().unwrap();
    let kept = values.iter().filter(|v| v.abs() > 1e-10 * lmax).count();
    for &v in &values {
        assert!(
            v.abs() > 1e-8 * lmax || v.abs() < 1e-13 * lmax,
            "{what}: eigenvalue {v:e} of λ_max {lmax:e} is neither zero nor clearly positive"
        );
    }
    kept
}

/// K-FAC at ρ = 0 with M_0 + 1 < N (N = 10, M_0 = 4, tanh, width 24 ≥ N): the first layer's
/// A*_0 is explicit and its step dense. The step is the Kronecker pseudo-inverse step
/// (measured ≤ 6.8e-10 relative, tolerance 1e-8). Θ̄ is diagonal with the first layer
/// contributing N·diag(h̃_0(h̃_0ᵀh̃_0)⁻¹h̃_0ᵀ) (N × the leverages of h̃_0), each hidden layer N·I
/// and the last layer I (closed form from the factors; measured ≤ 4.2e-12·α, tolerance
/// 1e-10·α). The inputs are ± pairs of 5 points, Forster-transformed: ZᵀZ = (N/M_0)I,
/// unit rows and Zᵀ1 = 0, so every leverage of h̃_0 = [σ_w Z/√M_0, σ_b 1] is (M_0+1)/N and
/// Θ̄ = (N(L−2) + M_0 + 2)I = 16·I to the f32 precision of the network's inputs (measured
/// 1.1e-8·α, tolerance 1e-7·α) — not the N(L−1)+1 = 21 of `Kfac::alpha`. Without the transform the same inputs are far from isotropic.
#[test]
fn kfac_dense_first_layer_on_forster_inputs_matches_kronecker_and_leverage_closed_form() {
    let (n, m0, depth, c) = (10, 4, 3, 1);
    let half = inputs(n / 2, m0, 5);
    let raw: Vec<f64> = half
        .iter()
        .copied()
        .chain(half.iter().map(|v| -v))
        .collect();
    let x = forster_inputs(raw.clone(), n, m0);
    let model = network(m0, 24, depth, c, Activation::Tanh, 41);
    let kfac = Kfac::default();
    let alpha_forster = (n * (depth - 2) + m0 + 2) as f64;
    let id = Mat::<f64>::identity(n, n) * Scale(alpha_forster);
    for (inputs_name, x) in [("Forster", &x), ("raw", &raw)] {
        let f = factors_at(&model, x, n);
        let e = residual(c * n);
        let direction = kfac.direction(&f, &e).unwrap();
        assert!(matches!(direction.layers[0], LayerStep::Dense(_)));
        let j = jacobian(&f);
        let grad = gradient(&j, &e, n);
        let want = kronecker_step(&f, &grad);
        let err = rel_max(&flat_step(&f, &direction), &want);
        eprintln!("K-FAC {inputs_name} N = {n} > M_0 + 1: step relative max error {err:.2e}");
        assert!(
            err < 1e-8,
            "K-FAC dense vs (⊕B*⊗A*)⁺∇L, {inputs_name}: {err:.2e}"
        );

        // Closed form of Θ̄ from the factors: N·diag(leverages of h̃_0) + N(L−2)I + I.
        let h0 = &f.layers[0].input;
        let a0 = h0.transpose() * h0;
        let proj = h0 * ngd_linalg::solve_spd(a0.as_ref(), h0.transpose(), "h̃_0ᵀh̃_0").unwrap();
        let closed = Mat::from_fn(n, n, |a, b| {
            if a == b {
                n as f64 * proj[(a, a)] + (n * (depth - 2) + 1) as f64
            } else {
                0.0
            }
        });
        let tb = coefficient_matrix(&kfac, &f).unwrap();
        let err = max_abs_diff(tb.as_ref(), closed.as_ref()) / alpha_forster;
        eprintln!("K-FAC {inputs_name} N = {n}: Θ̄ − closed form = {err:.2e}·α");
        assert!(
            err < 1e-10,
            "{inputs_name}: Θ̄ vs leverage closed form: {err:.2e}·α"
        );
        let err = max_abs_diff(tb.as_ref(), id.as_ref()) / alpha_forster;
        eprintln!("K-FAC {inputs_name} N = {n}: Θ̄ − {alpha_forster}·I = {err:.2e}·α");
        if inputs_name == "Forster" {
            assert!(err < 1e-7, "Θ̄ ≠ {alpha_forster}·I: {err:.2e}·α");
        } else {
            assert!(err > 1e-2, "raw inputs unexpectedly isotropic: {err:.2e}·α");
        }
        eprintln!(
            "K-FAC {inputs_name} N = {n}: Kfac::alpha = {:?}",
            kfac.alpha(&f)
        );
    }
}

/// f(x) of `model` as a class-major vector (f[c·N + n]), like JΔθ.
fn outputs_class_major(model: &Mlp, x: &[f64], n: usize) -> Vec<f64> {
    let d = model.config.widths[0];
    let out = tensor_to_mat(model.forward(tensor_from_rows(x, n, d, &device())));
    (0..out.ncols())
        .flat_map(|c| (0..n).map(move |i| (c, i)))
        .map(|(c, i)| out[(i, c)])
        .collect()
}

/// θ ← θ − ηΔθ through `Direction::apply` changes f(x) by −ηJΔθ + O(η²): the remainder
/// r(η) = max|f(θ − ηΔθ) − f(θ) + ηJΔθ| shrinks 4× when η halves (η₀, η₀/2, η₀/4 with
/// η₀·max|JΔθ| = 0.05 capped at η₀·max|Δθ| = 0.5; measured ratios 3.67–4.07, required
/// 3.5–4.5) and stays below 5 % of η·max|JΔθ| (measured ≤ 2.8 %). A transposed, mis-split or
/// mis-scaled update leaves an O(η) remainder, ratio ≈ 2 (checked by hand: scaling layer 1's
/// Δb by 1.5 gives 1.94). Also `layer_updates` equals the host dense step to f32 rounding
/// (measured ≤ 1.3e-7, tolerance 1e-6) and `function_step` equals the explicit J·Δθ (measured
/// ≤ 9.4e-15, tolerance 1e-12).
fn check_update_against_finite_differences(
    name: &str,
    curvature: &dyn Curvature,
    model: &Mlp,
    x: &[f64],
    n: usize,
    expect_dense: bool,
) {
    let f = factors_at(model, x, n);
    let c = f.outputs_dim();
    let y: Vec<f64> = (0..c * n).map(|k| 0.5 * (k as f64 * 0.9).cos()).collect();
    let f0 = outputs_class_major(model, x, n);
    let e: Vec<f64> = f0.iter().zip(&y).map(|(a, b)| a - b).collect();
    let direction = curvature.direction(&f, &e).unwrap();
    if expect_dense {
        for (l, s) in direction.layers.iter().enumerate() {
            assert!(
                matches!(s, LayerStep::Dense(_)),
                "{name}: layer {} is not a dense step",
                l + 1
            );
        }
    }
    // function_step against the explicit Jacobian.
    let step = flat_step(&f, &direction);
    let jd = &jacobian(&f) * &step;
    let fs = col(&function_step(&f, &direction));
    let err = rel_max(&fs, &jd);
    eprintln!("{name}: function_step vs JΔθ {err:.2e}");
    assert!(err < 1e-12, "{name}: function_step vs JΔθ {err:.2e}");
    // layer_updates (device, f32) against the host dense step split into (ΔW, Δb).
    for (l, (dw, db)) in direction.layer_updates(&f).into_iter().enumerate() {
        let layer = &f.layers[l];
        let m_in = layer.input.ncols() - 1;
        let host = match &direction.layers[l] {
            LayerStep::Coefficients(r) => layer.input.transpose() * r,
            LayerStep::Dense(s) => s.clone(),
        };
        let dw = tensor_to_mat(dw);
        let db = tensor_to_mat(db.reshape([1, layer.width()]));
        let dev = Mat::from_fn(m_in + 1, layer.width(), |j, i| {
            if j < m_in { dw[(j, i)] } else { db[(0, i)] }
        });
        let err = rel_max(&dev, &host);
        eprintln!(
            "{name}: layer_updates layer {} vs host step {err:.2e}",
            l + 1
        );
        assert!(
            err < 1e-6,
            "{name}: layer_updates layer {}: {err:.2e}",
            l + 1
        );
    }
    let max_step = (0..step.nrows())
        .map(|k| step[(k, 0)].abs())
        .fold(0.0f64, f64::max);
    let jd_max = (0..jd.nrows())
        .map(|k| jd[(k, 0)].abs())
        .fold(0.0f64, f64::max);
    // η·max|JΔθ| = 0.05, but η·max|Δθ| ≤ 0.5: K-FAC at ρ = 0 moves some parameters far in
    // directions that barely change f, and the remainder must stay above the f32 noise (~3e-7).
    let eta0 = (0.05 / jd_max).min(0.5 / max_step);
    let mut remainders = Vec::new();
    for eta in [eta0, eta0 / 2.0, eta0 / 4.0] {
        let scale = eta * max_step;
        let mut moved = model.clone();
        direction.apply(&mut moved, &f, eta);
        let f1 = outputs_class_major(&moved, x, n);
        let r = (0..f1.len())
            .map(|k| (f1[k] - f0[k] + eta * jd[(k, 0)]).abs())
            .fold(0.0f64, f64::max);
        let first = eta * jd_max;
        eprintln!(
            "{name}: η·max|Δθ| = {scale:.3}: remainder {r:.3e}, first-order term {first:.3e} \
             (ratio {:.2e})",
            r / first
        );
        assert!(
            r < 0.05 * first,
            "{name}: remainder {r:e} vs first order {first:e}"
        );
        remainders.push(r);
    }
    for w in remainders.windows(2) {
        let ratio = w[0] / w[1];
        eprintln!("{name}: r(η)/r(η/2) = {ratio:.3}");
        assert!(
            (3.5..=4.5).contains(&ratio),
            "{name}: r(η)/r(η/2) = {ratio:.3}, not quadratic (4)"
        );
    }
}

/// The dense steps of the entry-wise diagonal and the quasi-diagonal Fisher (ρ = 0.01) and of
/// K-FAC with M_0 + 1 < N (every K-FAC factor explicit, so every layer's step is dense; ρ = 0
/// and 1e-2), applied by `Direction::apply`, against finite differences of f. tanh (smooth),
/// M_0 = 4, width 6, L = 3, N = 8, C = 1 and 2.
#[test]
fn dense_steps_move_the_outputs_by_minus_eta_j_delta_theta() {
    let n = 8;
    for c in [1, 2] {
        let model = network(4, 6, 3, c, Activation::Tanh, 51 + c as u64);
        let x = inputs(n, 4, 9 + c);
        for (name, curvature) in [
            (
                "diagonal",
                Box::new(Diagonal { damping: 0.01 }) as Box<dyn Curvature>,
            ),
            ("quasi-diagonal", Box::new(QuasiDiagonal { damping: 0.01 })),
            ("kfac ρ = 0", Box::new(Kfac::default())),
            (
                "kfac ρ = 0.01",
                Box::new(Kfac {
                    damping: 0.01,
                    ..Default::default()
                }),
            ),
        ] {
            let name = format!("{name}, C = {c}");
            check_update_against_finite_differences(&name, curvature.as_ref(), &model, &x, n, true);
        }
        // A dual-coefficient method through the same path, for contrast.
        check_update_against_finite_differences(
            &format!("exact ρ = 0.01, C = {c}"),
            &Exact {
                damping: 0.01,
                ..Default::default()
            },
            &model,
            &x,
            n,
            false,
        );
    }
}
