//! Θ̄ = J G⁻¹ Jᵀ/N of the dual-form methods on synthetic factors (P ≫ CN, so ρ → 0 is exact).

use crate::direction::tests::synthetic_factors;
use crate::{BlockDiagonal, Curvature, Exact, Gd, Method, coefficient_matrix};
use faer::Mat;
use ngd_linalg::max_abs_diff;

fn identity_times(a: f64, n: usize) -> Mat<f64> {
    Mat::from_fn(n, n, |i, j| if i == j { a } else { 0.0 })
}

#[test]
fn exact_ngd_is_isotropic_with_alpha_one() {
    let f = synthetic_factors(6, 2, &[20, 30, 25, 2], 3);
    let tb = coefficient_matrix(
        &Exact {
            damping: 0.0,
            ..Default::default()
        },
        &f,
    )
    .unwrap();
    assert!(max_abs_diff(tb.as_ref(), identity_times(1.0, 12).as_ref()) < 1e-9);
}

#[test]
fn block_diagonal_is_isotropic_with_alpha_depth() {
    let f = synthetic_factors(6, 1, &[20, 30, 25, 1], 4);
    let bd = BlockDiagonal {
        damping: 0.0,
        ..Default::default()
    };
    let tb = coefficient_matrix(&bd, &f).unwrap();
    assert!(max_abs_diff(tb.as_ref(), identity_times(3.0, 6).as_ref()) < 1e-9);
    assert_eq!(bd.alpha(&f), Some(3.0));
}

#[test]
fn gd_coefficient_matrix_is_the_ntk() {
    let f = synthetic_factors(5, 2, &[8, 9, 2], 5);
    let tb = coefficient_matrix(&Gd, &f).unwrap();
    let ntk = f.ntk();
    assert!(
        max_abs_diff(tb.as_ref(), ntk.as_ref())
            < 1e-12 * (1.0 + ngd_linalg::frobenius(ntk.as_ref()))
    );
}

#[test]
fn damping_shrinks_the_step_like_the_closed_form() {
    // With ρ > 0, Θ̄_exact = K (K + NρI)⁻¹ with K = JJᵀ: eigenvalues λ/(λ + Nρ) < 1.
    let f = synthetic_factors(5, 1, &[12, 10, 1], 6);
    let rho = 0.05;
    let tb = coefficient_matrix(
        &Exact {
            damping: rho,
            ..Default::default()
        },
        &f,
    )
    .unwrap();
    let k = f.ntk() * faer::Scale(5.0);
    let mut damped = k.clone();
    ngd_linalg::add_to_diagonal(&mut damped, 5.0 * rho);
    let want = &k
        * ngd_linalg::solve_spd(damped.as_ref(), Mat::<f64>::identity(5, 5).as_ref(), "t").unwrap();
    assert!(max_abs_diff(tb.as_ref(), want.as_ref()) < 1e-10);
}

#[test]
fn singular_gram_without_damping_is_a_clear_error() {
    // More samples than parameters in layer 2 (width 2, 1 output): J_2 J_2ᵀ is singular.
    let f = synthetic_factors(8, 1, &[30, 2, 1], 7);
    let err = BlockDiagonal {
        damping: 0.0,
        ..Default::default()
    }
    .direction(&f, &[1.0; 8])
    .unwrap_err()
    .to_string();
    assert!(err.contains("singular") && err.contains("damping"), "{err}");
    assert!(
        BlockDiagonal {
            damping: 1e-3,
            ..Default::default()
        }
        .direction(&f, &[1.0; 8])
        .is_ok()
    );
}

#[test]
fn unknown_method_lists_the_valid_ones() {
    let err = "kfca".parse::<Method>().unwrap_err().to_string();
    assert!(
        err.contains("kfca") && err.contains("block-diagonal"),
        "{err}"
    );
    assert!(Method::Exact.curvature(-1.0).is_err());
    assert!(Method::Exact.curvature(f64::NAN).is_err());
}

#[test]
fn residual_of_wrong_length_is_rejected() {
    let f = synthetic_factors(4, 2, &[6, 5, 2], 8);
    assert!(Exact::default().direction(&f, &[0.0; 4]).is_err());
}
