//! The cost of K-FAC's damped factor inversion (A + ρI)⁻¹ at the sizes of this project's
//! networks: faer's Cholesky and inverse in f64 (what the blocks do) against the same in f32,
//! and against a symmetric eigendecomposition in f64 (which would let a new ρ reuse the
//! factorisation: (A + ρI)⁻¹ = V(Λ + ρ)⁻¹Vᵀ), with an f64 product of the same size as the
//! machine's reference rate. The f32 inverse's error is measured against the f64 one.
//!
//! ```sh
//! cargo run --release --example inversion [-- <n> <n> …]
//! ```
//! Defaults: 785 and 1025 (the full-MNIST MLP's input factors) and 4097 (the CNN's 4096→256
//! layer).

use faer::linalg::solvers::DenseSolveCore;
use faer::{Mat, Side};
use std::time::Instant;

/// The median of three timings of `f` after one warm-up, seconds.
fn seconds(mut f: impl FnMut()) -> f64 {
    f();
    let mut t: Vec<f64> = (0..3)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[1]
}

/// A K-FAC-like factor: the second moment of 2n random non-negative features plus ρ = 1e-2.
fn factor(n: usize) -> Mat<f64> {
    let rows = 2 * n;
    let x = Mat::<f64>::from_fn(rows, n, |i, j| {
        let h = (i as u64 * 6364136223846793005 + j as u64 * 1442695040888963407) >> 33;
        (h % 1000) as f64 / 1000.0
    });
    let mut a = x.transpose() * &x / rows as f64;
    for i in 0..n {
        a[(i, i)] += 1e-2;
    }
    a
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .map(|s| s.parse().expect("sizes are integers"))
        .collect();
    let sizes = if sizes.is_empty() {
        vec![785, 1025, 4097]
    } else {
        sizes
    };
    println!(
        "{:>6} {:>12} {:>12} {:>12} {:>12} {:>14} {:>14}",
        "n",
        "gemm f64 ms",
        "chol f64 ms",
        "chol f32 ms",
        "eigh f64 ms",
        "f64 GFLOP/s",
        "f32 rel. err"
    );
    for n in sizes {
        let a = factor(n);
        let a32 = Mat::<f32>::from_fn(n, n, |i, j| a[(i, j)] as f32);
        let gemm = seconds(|| {
            std::hint::black_box(&a * &a);
        });
        let chol64 = seconds(|| {
            std::hint::black_box(a.llt(Side::Lower).unwrap().inverse());
        });
        let chol32 = seconds(|| {
            std::hint::black_box(a32.llt(Side::Lower).unwrap().inverse());
        });
        let eigh = seconds(|| {
            std::hint::black_box(a.self_adjoint_eigen(Side::Lower).unwrap());
        });
        let inv64 = a.llt(Side::Lower).unwrap().inverse();
        let inv32 = a32.llt(Side::Lower).unwrap().inverse();
        let diff = Mat::<f64>::from_fn(n, n, |i, j| inv32[(i, j)] as f64 - inv64[(i, j)]);
        let err = diff.norm_l2() / inv64.norm_l2();
        println!(
            "{n:>6} {:>12.1} {:>12.1} {:>12.1} {:>12.1} {:>14.1} {:>14.2e}",
            1e3 * gemm,
            1e3 * chol64,
            1e3 * chol32,
            1e3 * eigh,
            (n as f64).powi(3) / chol64 / 1e9,
            err
        );
    }
}
