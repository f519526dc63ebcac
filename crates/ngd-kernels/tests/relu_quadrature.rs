//! The ReLU closed forms of MATH.md §5 (A_l = E[φ(u)φ(u')], K'_l = E[φ'(u)φ'(u')]) against an
//! independent 2-D numerical integration of the bivariate Gaussian.

#![allow(clippy::needless_range_loop)] // index-heavy numerical reference code

use std::f64::consts::PI;

use ngd_kernels::{relu_a, relu_k_prime};

/// Gauss–Legendre nodes and weights on [−1, 1] (Newton iteration on P_n).
fn gauss_legendre(n: usize) -> Vec<(f64, f64)> {
    (0..n)
        .map(|i| {
            let mut x = (PI * (i as f64 + 0.75) / (n as f64 + 0.5)).cos();
            let mut dp = 0.0;
            for _ in 0..100 {
                let (mut p0, mut p1) = (1.0, x);
                for k in 2..=n {
                    let p2 = ((2 * k - 1) as f64 * x * p1 - (k - 1) as f64 * p0) / k as f64;
                    p0 = p1;
                    p1 = p2;
                }
                dp = n as f64 * (x * p1 - p0) / (x * x - 1.0);
                let dx = p1 / dp;
                x -= dx;
                if dx.abs() < 1e-16 {
                    break;
                }
            }
            (x, 2.0 / ((1.0 - x * x) * dp * dp))
        })
        .collect()
}

/// (E[φ(u)φ(u')], E[φ'(u)φ'(u')]) for u = √q a, u' = √q' b, (a, b) standard bivariate normal
/// with correlation p, by composite Gauss–Legendre over the positive quadrant [0, R]² where
/// φ(u)φ(u') = u u' and φ'φ' = 1 (elsewhere both vanish); the integrand is smooth there.
fn quadrature(q: f64, q_prime: f64, p: f64) -> (f64, f64) {
    let gl = gauss_legendre(12);
    let (r_max, panels) = (12.0, 400);
    let h = r_max / panels as f64;
    let nodes: Vec<(f64, f64)> = (0..panels)
        .flat_map(|k| {
            let c = (k as f64 + 0.5) * h;
            gl.iter().map(move |&(x, w)| (c + 0.5 * h * x, 0.5 * h * w))
        })
        .collect();
    let s2 = 1.0 - p * p;
    let norm = 1.0 / (2.0 * PI * s2.sqrt());
    let (mut e_phi, mut e_step) = (0.0, 0.0);
    for &(a, wa) in &nodes {
        for &(b, wb) in &nodes {
            let dens = norm * (-(a * a - 2.0 * p * a * b + b * b) / (2.0 * s2)).exp() * wa * wb;
            e_phi += a * b * dens;
            e_step += dens;
        }
    }
    ((q * q_prime).sqrt() * e_phi, e_step)
}

/// Closed forms agree with quadrature to 1e-9 relative (quadrature error ≪ 1e-10 here) for
/// P ∈ {−0.9, −0.3, 0, 0.5, 0.99} and unequal variances q = 0.7, q' = 1.9.
#[test]
fn relu_closed_forms_match_2d_quadrature() {
    let (q, qp) = (0.7, 1.9);
    for p in [-0.9, -0.3, 0.0, 0.5, 0.99] {
        let (a_num, k_num) = quadrature(q, qp, p);
        let a = relu_a(q, qp, p);
        let k = relu_k_prime(p);
        assert!(
            (a - a_num).abs() <= 1e-9 * a_num.abs(),
            "E[φφ'] at P = {p}: closed form {a}, quadrature {a_num}"
        );
        assert!(
            (k - k_num).abs() <= 1e-9 * k_num.abs(),
            "E[φ'φ'] at P = {p}: closed form {k}, quadrature {k_num}"
        );
    }
}

/// Limits: P = 1 gives E[φ(u)²] = q/2 and E[φ'²] = 1/2; P = −1 gives 0 and 0 (exact to 1e-15).
#[test]
fn relu_closed_forms_limits() {
    assert!((relu_a(1.3, 1.3, 1.0) - 0.65).abs() < 1e-15);
    assert!((relu_k_prime(1.0) - 0.5).abs() < 1e-15);
    assert!(relu_a(1.0, 2.0, -1.0).abs() < 1e-15);
    assert!(relu_k_prime(-1.0).abs() < 1e-15);
    // Clipping: slightly out-of-range correlations behave like ±1.
    assert_eq!(relu_k_prime(1.0 + 1e-12), relu_k_prime(1.0));
}
