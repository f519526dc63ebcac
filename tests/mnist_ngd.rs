//! Exact, block-diagonal NGD and GD on real MNIST '0' vs '7' (N = 100, L = 3, M = 4096)
//! against the theory of Karakida & Osawa (Fig. 1a, Theorem 4.1).

use ngd_optim::{Method, MethodCurvature, coefficient_matrix};
use ngd_suite::{device, fig1a_config, mnist_0_vs_7};
use ngd_train::{RunRecord, network_config, train};

fn run(method: Method, lr_scale: f64, steps: usize) -> RunRecord {
    let data = mnist_0_vs_7(100, 50);
    let mut cfg = fig1a_config(method, steps);
    cfg.lr_scale = lr_scale;
    train(&cfg, &data, &device(), &mut |_| {}).unwrap()
}

fn one_step_ratio(r: &RunRecord) -> f64 {
    r.steps[1].train_loss / r.steps[0].train_loss
}

#[test]
fn exact_ngd_at_unit_rate_cuts_the_loss_100x_in_one_step() {
    let r = run(Method::Exact, 1.0, 1);
    assert_eq!(r.lr, 1.0);
    let ratio = one_step_ratio(&r);
    eprintln!(
        "exact: loss {:.4e} -> {:.4e} (x{ratio:.2e})",
        r.steps[0].train_loss, r.steps[1].train_loss
    );
    assert!(
        ratio < 1e-2,
        "exact NGD cut the loss only by {}",
        1.0 / ratio
    );
}

#[test]
fn block_diagonal_at_one_over_depth_cuts_the_loss_100x_in_one_step() {
    let r = run(Method::BlockDiagonal, 1.0, 1);
    assert!((r.lr - 1.0 / 3.0).abs() < 1e-15);
    assert_eq!(r.alpha, Some(3.0));
    let ratio = one_step_ratio(&r);
    eprintln!(
        "BD: loss {:.4e} -> {:.4e} (x{ratio:.2e})",
        r.steps[0].train_loss, r.steps[1].train_loss
    );
    assert!(ratio < 1e-2, "BD NGD cut the loss only by {}", 1.0 / ratio);
}

#[test]
fn block_diagonal_at_half_rate_follows_the_theory_line() {
    let r = run(Method::BlockDiagonal, 0.5, 2);
    for s in &r.steps[1..] {
        let rel =
            (s.train_loss - s.theory_train_loss.unwrap()).abs() / s.theory_train_loss.unwrap();
        eprintln!(
            "step {}: measured {:.5e} theory {:.5e} (rel {rel:.3})",
            s.step,
            s.train_loss,
            s.theory_train_loss.unwrap()
        );
        // theory: (1 − αη)^{2t} loss₀ = 0.25^t loss₀
        assert!(
            (s.theory_train_loss.unwrap() / r.steps[0].train_loss - 0.25f64.powi(s.step as i32))
                .abs()
                < 1e-12
        );
    }
    // Measured 0.030 after one step and 0.102 after two (the finite-width error compounds).
    for (step, bound) in [(1, 0.10), (2, 0.30)] {
        let s = &r.steps[step];
        let theory = s.theory_train_loss.unwrap();
        let rel = (s.train_loss - theory).abs() / theory;
        assert!(
            rel < bound,
            "step {step} of BD at η = 0.5/L is {rel:.3} away from the theory"
        );
    }
}

#[test]
fn gd_at_its_optimal_rate_is_slow() {
    let r = run(Method::Gd, 1.0, 1);
    let ratio = one_step_ratio(&r);
    eprintln!("GD: lr {:.4e}, loss ratio {ratio:.3}", r.lr);
    assert!(
        ratio > 0.5,
        "GD at 1/λ_max cut the loss by {} (theory: < 2×)",
        1.0 / ratio
    );
    // and the GD theory line (eq. 5) is followed after one step (measured 1.53e-3)
    let s = &r.steps[1];
    let rel = (s.train_loss - s.theory_train_loss.unwrap()).abs() / s.theory_train_loss.unwrap();
    eprintln!("GD: theory line relative error {rel:.2e}");
    assert!(rel < 5e-3, "GD is {rel:.2e} away from its theory line");
}

#[test]
fn block_diagonal_coefficient_matrix_is_depth_times_identity() {
    let data = mnist_0_vs_7(100, 50);
    let cfg = fig1a_config(Method::BlockDiagonal, 0);
    let model = network_config(&cfg, &data)
        .init(cfg.seed, &device())
        .unwrap();
    let x = ngd_optim::convert::tensor_from_rows(&data.train.x, 100, data.train.dim, &device());
    let factors = model.factors(x);
    let curvature = Method::BlockDiagonal.curvature(0.0).unwrap();
    let theta_bar = coefficient_matrix(curvature.as_ref(), &factors).unwrap();
    let mut worst = 0.0f64;
    for i in 0..100 {
        for j in 0..100 {
            let want = if i == j { 3.0 } else { 0.0 };
            worst = worst.max((theta_bar[(i, j)] - want).abs());
        }
    }
    eprintln!("max |Θ̄_BD − 3I| = {worst:.2e}");
    assert!(worst < 1e-8, "Θ̄_BD deviates from L·I by {worst}");
}
