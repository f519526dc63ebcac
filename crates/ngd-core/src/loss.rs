//! Training losses: MSE (the paper's) and cross-entropy, with the per-sample output Hessian Λ of
//! the likelihood for the Fisher G = JᵀΛJ/N + ρ (MATH.md §3; Λ = I for MSE).
//!
//! Every method takes the output gradient g = N ∂L/∂f (class-major) as its "residual": e = f − y
//! for MSE, p − y for cross-entropy. With C > 1 outputs p = softmax(f) and Λ_n = diag(p_n) − p_npₙᵀ.
//! With C = 1 (two classes, targets ±½) the logistic likelihood is used: p = σ(f), the target is
//! y + ½ ∈ {0, 1} and Λ_n = p_n(1 − p_n).

use faer::Mat;
use serde::{Deserialize, Serialize};

/// The training loss.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Loss {
    /// L = 1/(2N) Σ‖f − y‖² (eq. 3).
    #[default]
    Mse,
    /// Softmax (C > 1) or logistic (C = 1) cross-entropy, L = −(1/N) Σ log p(y|x).
    CrossEntropy,
}

impl std::str::FromStr for Loss {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "mse" => Ok(Loss::Mse),
            "cross-entropy" | "ce" => Ok(Loss::CrossEntropy),
            _ => Err(format!(
                "unknown loss '{s}' (expected mse or cross-entropy)"
            )),
        }
    }
}

impl std::fmt::Display for Loss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Loss::Mse => "mse",
            Loss::CrossEntropy => "cross-entropy",
        })
    }
}

/// Model probabilities of sample i of the outputs f (N × C).
pub fn probabilities_of(outputs: &Mat<f64>, i: usize) -> Vec<f64> {
    probabilities(
        &(0..outputs.ncols())
            .map(|c| outputs[(i, c)])
            .collect::<Vec<_>>(),
    )
}

/// Λ_n, the C × C output Hessian of the likelihood at sample i (diag(p) − ppᵀ for softmax,
/// p(1 − p) for one logistic output; I for MSE).
pub fn output_hessian(loss: Loss, outputs: &Mat<f64>, i: usize) -> Mat<f64> {
    let c_out = outputs.ncols();
    if loss == Loss::Mse {
        return Mat::identity(c_out, c_out);
    }
    let p = probabilities_of(outputs, i);
    if c_out == 1 {
        return Mat::from_fn(1, 1, |_, _| p[0] * (1.0 - p[0]));
    }
    Mat::from_fn(c_out, c_out, |c, d| {
        (if c == d { p[c] } else { 0.0 }) - p[c] * p[d]
    })
}

/// Model probabilities of one sample: softmax(f) for C > 1, (σ(f)) for C = 1.
fn probabilities(row: &[f64]) -> Vec<f64> {
    if row.len() == 1 {
        return vec![1.0 / (1.0 + (-row[0]).exp())];
    }
    let max = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let exp: Vec<f64> = row.iter().map(|v| (v - max).exp()).collect();
    let sum: f64 = exp.iter().sum();
    exp.into_iter().map(|v| v / sum).collect()
}

/// The target of the likelihood: y for one-hot, y + ½ ∈ {0, 1} for one output with ±½ targets.
fn target(y: f64, c_out: usize) -> f64 {
    if c_out == 1 { y + 0.5 } else { y }
}

impl Loss {
    /// g = N ∂L/∂f, class-major (g[c·N + n]), from f (N × C) and row-major targets y (N × C).
    pub fn output_gradient(self, outputs: &Mat<f64>, y: &[f64]) -> Vec<f64> {
        let (n, c_out) = (outputs.nrows(), outputs.ncols());
        let mut g = vec![0.0; n * c_out];
        for i in 0..n {
            let row: Vec<f64> = (0..c_out).map(|c| outputs[(i, c)]).collect();
            let p = match self {
                Loss::Mse => row,
                Loss::CrossEntropy => probabilities(&row),
            };
            for c in 0..c_out {
                let t = match self {
                    Loss::Mse => y[i * c_out + c],
                    Loss::CrossEntropy => target(y[i * c_out + c], c_out),
                };
                g[c * n + i] = p[c] - t;
            }
        }
        g
    }

    /// L(θ) from row-major outputs f and targets y (N × C).
    pub fn value(self, outputs: &[f64], y: &[f64], c_out: usize) -> f64 {
        let n = outputs.len() / c_out.max(1);
        if n == 0 {
            return 0.0;
        }
        let total: f64 = (0..n)
            .map(|i| {
                let row = &outputs[i * c_out..(i + 1) * c_out];
                let t = &y[i * c_out..(i + 1) * c_out];
                match self {
                    Loss::Mse => 0.5 * row.iter().zip(t).map(|(f, y)| (f - y).powi(2)).sum::<f64>(),
                    Loss::CrossEntropy => cross_entropy(row, t),
                }
            })
            .sum();
        total / n as f64
    }

    /// Λ·K for a CN × CN Gram K (class-major), Λ = blockdiag_n(Λ_n) the output Hessian of the
    /// likelihood at f; K itself for MSE.
    pub fn weight_gram(self, outputs: &Mat<f64>, gram: Mat<f64>) -> Mat<f64> {
        if self == Loss::Mse {
            return gram;
        }
        let (n, c_out) = (outputs.nrows(), outputs.ncols());
        let lambda: Vec<Mat<f64>> = (0..n).map(|i| output_hessian(self, outputs, i)).collect();
        Mat::from_fn(gram.nrows(), gram.ncols(), |row, col| {
            let (c, i) = (row / n, row % n);
            (0..c_out)
                .map(|d| lambda[i][(c, d)] * gram[(d * n + i, col)])
                .sum()
        })
    }
}

/// −log p(y|x) of one sample (softmax, or logistic for one output with ±½ targets).
fn cross_entropy(row: &[f64], t: &[f64]) -> f64 {
    if row.len() == 1 {
        let f = row[0];
        let y = target(t[0], 1);
        // −[y log σ(f) + (1−y) log(1−σ(f))], stably
        return f.max(0.0) - f * y + (-f.abs()).exp().ln_1p();
    }
    let max = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let log_sum = max + row.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
    row.iter().zip(t).map(|(f, y)| -y * (f - log_sum)).sum()
}

#[cfg(test)]
mod tests {
    use crate::Loss;
    use crate::testing::targets;
    use faer::Mat;

    /// Outputs f (N × C) of the optimizer's test factors (`ngd-optim`'s `testing::with_outputs`).
    fn outputs(n: usize, c: usize) -> Mat<f64> {
        Mat::from_fn(n, c, |i, j| ((i * 5 + j * 3) as f64 * 0.9).sin() * 1.5)
    }

    /// g/N is the gradient of the loss value with respect to f (central difference, 1e-7).
    #[test]
    fn cross_entropy_output_gradient_is_the_derivative_of_the_loss() {
        for c in [3, 1] {
            let n = 3;
            let outputs = outputs(n, c);
            let y = targets(n, c);
            let g = Loss::CrossEntropy.output_gradient(&outputs, &y);
            let rows = |m: &Mat<f64>| ngd_linalg::to_rows(m);
            for i in 0..n {
                for j in 0..c {
                    let h = 1e-5;
                    let (mut a, mut b) = (outputs.clone(), outputs.clone());
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

    /// Outputs (N × C) with moderate and large logits (p close to 0 and 1), and targets.
    fn fd_cases() -> Vec<(Mat<f64>, Vec<f64>)> {
        let softmax = Mat::from_fn(4, 3, |i, j| {
            [
                [0.3, -0.8, 1.1],
                [6.0, -4.0, 1.0],
                [-2.5, -2.4, 3.2],
                [0.0, 0.0, 0.0],
            ][i][j]
        });
        let logistic = Mat::from_fn(4, 1, |i, _| [-3.0, 0.4, 5.0, 0.0][i]);
        vec![(softmax, targets(4, 3)), (logistic, targets(4, 1))]
    }

    /// Λ_n of `output_hessian` (softmax diag(p) − ppᵀ for C = 3, logistic p(1 − p) for C = 1)
    /// against the central second difference of the per-sample loss `Loss::value` (one row,
    /// Richardson over h = 2e-3, 1e-3) with respect to the outputs f_n, including samples with
    /// p near 0 and 1; and with the mean loss over all N samples, N·∂²L/∂f_n∂f_m = Λ_n for
    /// m = n and 0 for m ≠ n. Measured: max |Λ − FD| = 1.3e-9 (per sample), tolerance 1e-8;
    /// 1.3e-9 (N × mean loss, off-diagonal blocks 0), tolerance 2e-8.
    #[test]
    fn cross_entropy_output_hessian_is_the_second_derivative_of_the_loss() {
        let loss = Loss::CrossEntropy;
        let (mut worst, mut worst_mean) = (0.0f64, 0.0f64);
        for (outputs, y) in fd_cases() {
            let (n, c) = (outputs.nrows(), outputs.ncols());
            // Central second difference at flat indices a, b of the row-major outputs, step h,
            // Richardson-extrapolated over h = 2e-3 and 1e-3 (truncation O(h⁴)).
            let second = |value: &dyn Fn(&[f64]) -> f64, base: &[f64], a: usize, b: usize| {
                let diff = |h: f64| {
                    let at = |sa: f64, sb: f64| {
                        let mut v = base.to_vec();
                        v[a] += sa * h;
                        v[b] += sb * h;
                        value(&v)
                    };
                    (at(1.0, 1.0) - at(1.0, -1.0) - at(-1.0, 1.0) + at(-1.0, -1.0)) / (4.0 * h * h)
                };
                (4.0 * diff(1e-3) - diff(2e-3)) / 3.0
            };
            let rows = ngd_linalg::to_rows(&outputs);
            for i in 0..n {
                let lambda = super::output_hessian(loss, &outputs, i);
                assert_eq!((lambda.nrows(), lambda.ncols()), (c, c));
                let row = &rows[i * c..(i + 1) * c];
                let t = &y[i * c..(i + 1) * c];
                let per_sample = |v: &[f64]| loss.value(v, t, c);
                for a in 0..c {
                    for b in 0..c {
                        let fd = second(&per_sample, row, a, b);
                        let err = (fd - lambda[(a, b)]).abs();
                        worst = worst.max(err);
                        assert!(
                            err < 1e-8,
                            "C = {c}, sample {i}, ({a}, {b}): Λ = {:e}, FD {fd:e}",
                            lambda[(a, b)]
                        );
                    }
                }
            }
            // The mean loss: N × its Hessian is blockdiag(Λ_n).
            let mean = |v: &[f64]| loss.value(v, &y, c);
            for a in 0..n * c {
                for b in 0..n * c {
                    let (ia, ib) = (a / c, b / c);
                    let want = if ia == ib {
                        super::output_hessian(loss, &outputs, ia)[(a % c, b % c)]
                    } else {
                        0.0
                    };
                    let fd = n as f64 * second(&mean, &rows, a, b);
                    worst_mean = worst_mean.max((fd - want).abs());
                    assert!(
                        (fd - want).abs() < 2e-8,
                        "C = {c}, mean loss, ({a}, {b}): {want:e} vs FD {fd:e}"
                    );
                }
            }
        }
        eprintln!(
            "Λ vs finite-difference Hessian: max abs error {worst:.2e} (per sample), \
             {worst_mean:.2e} (N × mean loss)"
        );
    }

    /// g = N∂L/∂f (class-major) of `output_gradient` against the central difference of the mean
    /// loss `Loss::value` (Richardson over h = 2e-3, 1e-3), for cross-entropy (softmax C = 3 and
    /// logistic C = 1 with ±½ targets, large logits included) and MSE. Measured 3.7e-12;
    /// tolerance 5e-11.
    #[test]
    fn output_gradient_is_the_derivative_of_the_mean_loss() {
        let mut worst = 0.0f64;
        for (outputs, y) in fd_cases() {
            let (n, c) = (outputs.nrows(), outputs.ncols());
            let rows = ngd_linalg::to_rows(&outputs);
            for loss in [Loss::CrossEntropy, Loss::Mse] {
                let g = loss.output_gradient(&outputs, &y);
                for i in 0..n {
                    for j in 0..c {
                        let diff = |h: f64| {
                            let (mut plus, mut minus) = (rows.clone(), rows.clone());
                            plus[i * c + j] += h;
                            minus[i * c + j] -= h;
                            n as f64 * (loss.value(&plus, &y, c) - loss.value(&minus, &y, c))
                                / (2.0 * h)
                        };
                        // Richardson over h = 2e-3, 1e-3: truncation O(h⁴).
                        let fd = (4.0 * diff(1e-3) - diff(2e-3)) / 3.0;
                        let err = (fd - g[j * n + i]).abs();
                        worst = worst.max(err);
                        assert!(
                            err < 5e-11,
                            "{loss}, C = {c}, sample {i}, output {j}: g = {:e}, FD {fd:e}",
                            g[j * n + i]
                        );
                    }
                }
            }
        }
        eprintln!("output gradient vs finite differences: max abs error {worst:.2e}");
    }
}
