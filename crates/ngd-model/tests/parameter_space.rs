//! Parameter-space references on a tiny real NTK `Mlp` (MATH.md §3): the explicit Jacobian J
//! (CN × P) is built from the network's factors, and every method's step Δθ is compared with
//! the explicit P × P computation it stands for (pseudo-inverses by eigen-decomposition). Then
//! the dense-step update path (`Direction::apply` / `layer_updates`) against finite differences
//! of the network outputs.
//!
//! The network is f32 (burn); the factors are its f32 values read as f64, and every reference
//! below is f64 arithmetic on those same factors, so the step comparisons hold to ~1e-10.

mod support;
use support::*;

use faer::{Mat, Scale};
use ngd_linalg::{add_to_diagonal, col, solve_general};
use ngd_model::Activation;
use ngd_optim::Factors;
use ngd_optim::{BlockDiagonal, BlockTriDiagonal, Curvature, Exact, LayerWise};

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
