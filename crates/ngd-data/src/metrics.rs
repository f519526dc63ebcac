//! Accuracy and loss on a [`Split`]'s targets.

use crate::Split;

/// Fraction of samples classified correctly by `outputs` (`n × C`, row-major, the layout
/// of `split.y`). One output: the sign of the output agrees with the sign of the target
/// (an output of exactly 0 counts as wrong). Several outputs: the arg-max (first maximum)
/// equals the sample's label.
///
/// # Panics
/// If `outputs.len() != split.y.len()`.
pub fn accuracy(outputs: &[f64], split: &Split) -> f64 {
    check_shape(outputs, split);
    if split.n == 0 {
        return 0.0;
    }
    let c = split.outputs();
    let correct = (0..split.n)
        .filter(|&i| {
            if c == 1 {
                outputs[i] * split.y[i] > 0.0
            } else {
                argmax(&outputs[i * c..(i + 1) * c]) == Some(split.labels[i])
            }
        })
        .count();
    correct as f64 / split.n as f64
}

/// Mean squared error loss ½ · (1/n) · Σ_i Σ_c (f_ic − y_ic)².
///
/// # Panics
/// If `outputs.len() != split.y.len()`.
pub fn mse_loss(outputs: &[f64], split: &Split) -> f64 {
    check_shape(outputs, split);
    if split.n == 0 {
        return 0.0;
    }
    let sum: f64 = outputs
        .iter()
        .zip(&split.y)
        .map(|(f, y)| (f - y) * (f - y))
        .sum();
    0.5 * sum / split.n as f64
}

/// Index of the first maximum; `None` for an empty row or if every entry is NaN.
fn argmax(row: &[f64]) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (j, &v) in row.iter().enumerate() {
        if best.is_none_or(|(_, b)| v > b) && !v.is_nan() {
            best = Some((j, v));
        }
    }
    best.map(|(j, _)| j)
}

/// Panics with a clear message unless `outputs` has the shape of `split.y`.
fn check_shape(outputs: &[f64], split: &Split) {
    assert_eq!(
        outputs.len(),
        split.y.len(),
        "outputs must be n × C = {} × {} values, like the targets",
        split.n,
        split.outputs()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(y: Vec<f64>, labels: Vec<usize>) -> Split {
        Split {
            x: vec![],
            n: labels.len(),
            dim: 0,
            y,
            labels,
        }
    }

    #[test]
    fn binary_accuracy_is_sign_agreement() {
        let s = split(vec![0.5, -0.5, 0.5, -0.5], vec![0, 1, 0, 1]);
        assert_eq!(accuracy(&[0.1, -3.0, -0.2, 0.0], &s), 0.25 + 0.25);
        assert_eq!(accuracy(&s.y.clone(), &s), 1.0);
    }

    #[test]
    fn multiclass_accuracy_is_argmax() {
        let s = split(vec![1., 0., 0., 0., 0., 1.], vec![0, 2]);
        assert_eq!(accuracy(&[0.9, 0.1, 0.0, 0.0, 0.7, 0.2], &s), 0.5);
        assert_eq!(accuracy(&[0.0, 0.0, 0.0, 0.5, 0.5, 0.5], &s), 0.5);
    }

    #[test]
    fn mse_is_half_mean_of_row_sums() {
        let s = split(vec![1., 0., 0., 1.], vec![0, 1]);
        // Row errors: (1 + 0), (0 + 4) -> ½ · 5 / 2.
        assert_eq!(mse_loss(&[0., 0., 0., -1.], &s), 1.25);
        assert_eq!(mse_loss(&s.y.clone(), &s), 0.0);
    }

    #[test]
    #[should_panic(expected = "outputs must be")]
    fn wrong_shape_panics() {
        let s = split(vec![0.5, -0.5], vec![0, 1]);
        accuracy(&[0.5], &s);
    }
}
