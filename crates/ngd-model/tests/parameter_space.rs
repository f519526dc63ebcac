//! Parameter-space references on a tiny real NTK `Mlp` (MATH.md §3): the explicit Jacobian J
//! (CN × P) is built from the network's factors, and every method's step Δθ is compared with
//! the explicit P × P computation it stands for (pseudo-inverses by eigen-decomposition). Then
//! the dense-step update path (`Direction::apply` / `layer_updates`) against finite differences
//! of the network outputs.
//!
//! The network is f32 (burn); the factors are its f32 values read as f64, and every reference
//! below is f64 arithmetic on those same factors, so the step comparisons hold to ~1e-10.

use faer::{Mat, Scale};
use ngd_linalg::{add_to_diagonal, col, max_abs_diff, solve_general, solve_pseudo_inverse};
use ngd_model::{Activation, Device, Factors, Mlp, MlpConfig, tensor_from_rows, tensor_to_mat};
use ngd_optim::{
    BlockDiagonal, BlockTriDiagonal, Curvature, Diagonal, Direction, Exact, Kfac, LayerStep,
    LayerWise, QuasiDiagonal, coefficient_matrix, function_step,
};

fn device() -> Device {
    Device::default()
}

/// N unit-norm inputs of dimension d (row-major), deterministic and in general position.
fn inputs(n: usize, d: usize, seed: usize) -> Vec<f64> {
    let mut state = (seed as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut x: Vec<f64> = (0..n * d)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        })
        .collect();
    for row in x.chunks_mut(d) {
        let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
        row.iter_mut().for_each(|v| *v /= norm);
    }
    x
}

/// A residual e (length CN, class-major), deterministic.
fn residual(cn: usize) -> Vec<f64> {
    (0..cn).map(|k| (k as f64 * 1.3 + 0.2).sin()).collect()
}

/// The network M_0 → width^{L−1} → C with σ_w² = 2 and σ_b² = 0.3 (with the default σ_b² = 0
/// the bias column of h̃ is zero, and K-FAC's explicit A*_0 is singular at ρ = 0 when N > M_0).
fn network(
    m0: usize,
    width: usize,
    depth: usize,
    c: usize,
    activation: Activation,
    seed: u64,
) -> Mlp {
    MlpConfig::new(m0, width, depth, c)
        .with_variances(2.0, 0.3)
        .with_activation(activation)
        .init(seed, &device())
        .unwrap()
}

fn factors_at(model: &Mlp, x: &[f64], n: usize) -> Factors {
    let d = model.config.widths[0];
    model.factors(tensor_from_rows(x, n, d, &device()))
}

/// Parameter count (M_{l−1}+1)·M_l of each layer.
fn layer_sizes(f: &Factors) -> Vec<usize> {
    f.layers
        .iter()
        .map(|l| l.input.ncols() * l.width())
        .collect()
}

/// Explicit J_l (CN × (M_{l−1}+1)M_l): row (c, n), column i·(M_{l−1}+1) + j (output unit i,
/// input j, the bias as j = M_{l−1}); J_l[(c,n), (i,j)] = δ_l^{(c)}(n)_i h̃_{l−1}(n)_j (MATH.md §2).
fn layer_jacobian(f: &Factors, l: usize) -> Mat<f64> {
    let layer = &f.layers[l];
    let (n, m_in) = (f.samples(), layer.input.ncols());
    Mat::from_fn(layer.delta.nrows(), m_in * layer.width(), |row, k| {
        layer.delta[(row, k / m_in)] * layer.input[(row % n, k % m_in)]
    })
}

/// The whole J = [J_1 … J_L], CN × P.
fn jacobian(f: &Factors) -> Mat<f64> {
    let blocks: Vec<Mat<f64>> = (0..f.depth()).map(|l| layer_jacobian(f, l)).collect();
    let p: usize = blocks.iter().map(|b| b.ncols()).sum();
    let mut j = Mat::zeros(blocks[0].nrows(), p);
    let mut off = 0;
    for b in &blocks {
        for r in 0..b.nrows() {
            for k in 0..b.ncols() {
                j[(r, off + k)] = b[(r, k)];
            }
        }
        off += b.ncols();
    }
    j
}

/// Δθ of a direction as one P-vector in the order of [`jacobian`]'s columns: the dense
/// Δ(W_lᵀ | b_l) = h̃_{l−1}ᵀR_l of dual coefficients, or the dense step itself.
fn flat_step(f: &Factors, d: &Direction) -> Mat<f64> {
    let mut out = Vec::new();
    for (layer, step) in f.layers.iter().zip(&d.layers) {
        let s = match step {
            LayerStep::Coefficients(r) => layer.input.transpose() * r,
            LayerStep::Dense(s) => s.clone(),
        };
        let m_in = layer.input.ncols();
        assert_eq!((s.nrows(), s.ncols()), (m_in, layer.width()));
        for k in 0..m_in * layer.width() {
            out.push(s[(k % m_in, k / m_in)]);
        }
    }
    col(&out)
}

/// ‖a − b‖_max / ‖b‖_max.
fn rel_max(a: &Mat<f64>, b: &Mat<f64>) -> f64 {
    let scale = (0..b.nrows())
        .flat_map(|i| (0..b.ncols()).map(move |j| (i, j)))
        .map(|(i, j)| b[(i, j)].abs())
        .fold(0.0f64, f64::max);
    max_abs_diff(a.as_ref(), b.as_ref()) / scale
}

/// A⁺b for a symmetric PSD A by eigen-decomposition, after checking that the spectrum has a
/// clear gap between the kept and the dropped eigenvalues (so the cut-off decides nothing).
fn pinv_solve(a: &Mat<f64>, b: &Mat<f64>, expected_rank: usize, what: &str) -> Mat<f64> {
    let values = ngd_linalg::symmetric_eigenvalues(a.as_ref(), what).unwrap();
    let lmax = values.last().copied().unwrap();
    let kept: Vec<f64> = values
        .iter()
        .copied()
        .filter(|v| v.abs() > 1e-10 * lmax)
        .collect();
    assert_eq!(
        kept.len(),
        expected_rank,
        "{what}: rank, spectrum {values:?}"
    );
    let smallest_kept = kept.iter().copied().fold(f64::INFINITY, f64::min);
    let largest_dropped = values
        .iter()
        .filter(|v| v.abs() <= 1e-10 * lmax)
        .fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(
        smallest_kept > 1e-9 * lmax && largest_dropped < 1e-13 * lmax,
        "{what}: no clear spectral gap ({smallest_kept:e} kept, {largest_dropped:e} dropped, \
         λ_max {lmax:e})"
    );
    solve_pseudo_inverse(a.as_ref(), b.as_ref(), 1e-10, what).unwrap()
}

/// ∇L = Jᵀe/N (MSE with residual e, MATH.md §3), P × 1.
fn gradient(j: &Mat<f64>, e: &[f64], n: usize) -> Mat<f64> {
    j.transpose() * col(e) * Scale(1.0 / n as f64)
}

/// Exact NGD at ρ = 0 is the minimum-norm solution J⁺e (eq. 9: Δθ = Jᵀ(JJᵀ)⁻¹e), here
/// (JᵀJ)⁺Jᵀe with the P × P eigen pseudo-inverse; block-diagonal NGD at ρ = 0 is J_l⁺e per
/// layer (Σ = I, no 1/N or 1/L factor in the step). M_0 = 4, width 6, L = 3, N = 5, ReLU,
/// C = 1 and 2 (P = 79 and 86 ≥ CN). Measured relative max error: exact ≤ 4e-15, BD ≤ 3e-13;
/// tolerance 1e-11 (the layer Grams have κ < 1e4).
#[test]
fn exact_and_block_diagonal_at_zero_damping_are_pseudo_inverse_steps() {
    let n = 5;
    // Seeds whose layer Grams K_l are all well conditioned (κ < 1e4): with width 6, ReLU often
    // kills units and makes some K_l singular, where ρ = 0 is (correctly) refused.
    for (c, seed) in [(1, 3), (2, 10)] {
        let model = network(4, 6, 3, c, Activation::Relu, seed);
        let f = factors_at(&model, &inputs(n, 4, seed as usize), n);
        let e = residual(c * n);
        let j = jacobian(&f);
        let want = pinv_solve(
            &(j.transpose() * &j),
            &(j.transpose() * col(&e)),
            c * n,
            "JᵀJ",
        );
        let got = flat_step(&f, &Exact::default().direction(&f, &e).unwrap());
        let err = rel_max(&got, &want);
        eprintln!("exact, C = {c}: relative max error {err:.2e}");
        assert!(err < 1e-11, "exact NGD vs J⁺e, C = {c}: {err:.2e}");
        // J⁺e reproduces e (J has full row rank): one step at η = 1 fits the residual.
        let fit = &j * &want;
        assert!(rel_max(&fit, &col(&e)) < 1e-10);

        let got = flat_step(&f, &BlockDiagonal::default().direction(&f, &e).unwrap());
        let sizes = layer_sizes(&f);
        let mut off = 0;
        for (l, &size) in sizes.iter().enumerate() {
            let jl = layer_jacobian(&f, l);
            let want_l = pinv_solve(
                &(jl.transpose() * &jl),
                &(jl.transpose() * col(&e)),
                c * n,
                "J_lᵀJ_l",
            );
            let got_l = got.as_ref().subrows(off, size).to_owned();
            let err = rel_max(&got_l, &want_l);
            eprintln!(
                "block-diagonal, C = {c}, layer {}: relative max error {err:.2e}",
                l + 1
            );
            assert!(
                err < 1e-11,
                "BD vs J_l⁺e, C = {c}, layer {}: {err:.2e}",
                l + 1
            );
            off += size;
        }
    }
}

/// The explicit P × P matrix [Σ_ij J_iᵀJ_j / N]_{ij} + ρI: the Σ-weighted block part of
/// F = JᵀJ/N (Σ_ij = 1 for |i − j| ≤ 1 is the block tri-diagonal part, eq. 19).
fn sigma_weighted_fisher(f: &Factors, sigma: &Mat<f64>, rho: f64) -> Mat<f64> {
    let n = f.samples();
    let blocks: Vec<Mat<f64>> = (0..f.depth()).map(|l| layer_jacobian(f, l)).collect();
    let offsets: Vec<usize> = blocks
        .iter()
        .scan(0, |acc, b| {
            let o = *acc;
            *acc += b.ncols();
            Some(o)
        })
        .collect();
    let p: usize = blocks.iter().map(|b| b.ncols()).sum();
    let mut g = Mat::zeros(p, p);
    for (a, ja) in blocks.iter().enumerate() {
        for (b, jb) in blocks.iter().enumerate() {
            if sigma[(a, b)] == 0.0 {
                continue;
            }
            let block = ja.transpose() * jb * Scale(sigma[(a, b)] / n as f64);
            for r in 0..block.nrows() {
                for k in 0..block.ncols() {
                    g[(offsets[a] + r, offsets[b] + k)] = block[(r, k)];
                }
            }
        }
    }
    add_to_diagonal(&mut g, rho);
    g
}

/// Block tri-diagonal (eq. 19) and layer-wise NGD with a general Σ (eq. 15) with ρ > 0 and
/// C = 2: the dual form [(Σ⊗I)K + NρI]v = 1_L⊗e, Δθ_l = J_lᵀv_l, is the primal
/// G⁻¹∇L with G = [Σ_ij J_iᵀJ_j/N] + ρI (P × P, solved by LU; for L = 3 the tri-diagonal Σ is
/// indefinite, so G need not be PSD) and ∇L = Jᵀe/N, ρ = 0.05 and 1e-3. Measured: relative
/// max error ≤ 1.4e-13; tolerance 1e-11.
#[test]
fn block_tri_diagonal_and_layer_wise_equal_explicit_damped_inverse() {
    let (n, c, depth) = (5, 2, 3);
    let model = network(4, 6, depth, c, Activation::Relu, 21);
    let f = factors_at(&model, &inputs(n, 4, 7), n);
    let e = residual(c * n);
    let j = jacobian(&f);
    let grad = gradient(&j, &e, n);
    let tri = Mat::from_fn(
        depth,
        depth,
        |a, b| {
            if a.abs_diff(b) <= 1 { 1.0 } else { 0.0 }
        },
    );
    let user = ngd_optim::parse_sigma("1,0.5,0.2;0.5,1,0.3;0.2,0.3,1").unwrap();
    for rho in [0.05, 1e-3] {
        let btd = BlockTriDiagonal {
            damping: rho,
            ..Default::default()
        };
        let lw = LayerWise::with_sigma(user.clone(), rho).unwrap();
        for (name, sigma, curvature) in [
            ("block-tri-diagonal", &tri, &btd as &dyn Curvature),
            ("layer-wise Σ", &user, &lw as &dyn Curvature),
        ] {
            let g = sigma_weighted_fisher(&f, sigma, rho);
            let want = solve_general(g.as_ref(), grad.as_ref(), "G").unwrap();
            // the reference solves its system: G Δθ = ∇L
            assert!(rel_max(&(&g * &want), &grad) < 1e-10);
            let got = flat_step(&f, &curvature.direction(&f, &e).unwrap());
            let err = rel_max(&got, &want);
            eprintln!("{name}, ρ = {rho}: relative max error {err:.2e}");
            assert!(
                err < 1e-11,
                "{name}, ρ = {rho}: relative max error {err:.2e}"
            );
        }
    }
}

/// Forster-transformed inputs (MATH.md §3, forster.rs) to deviation 1e-13, row-major.
fn forster_inputs(mut x: Vec<f64>, n: usize, d: usize) -> Vec<f64> {
    let report = ngd_optim::forster::forster(&mut x, n, d, 1e-13, 5000).unwrap();
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
