//! The paper's preprocessing (MATH.md §7): standardise, unit-normalise, build targets.

use crate::{DataError, Split, outputs_for};

/// Standardises `x` in place by the mean and the population standard deviation of all its
/// entries, so that afterwards they have mean 0 and standard deviation 1.
///
/// Errors if `x` is empty or all its entries are equal.
pub fn standardise(x: &mut [f64]) -> Result<(), DataError> {
    let (mean, std) = pixel_mean_std(x)?;
    x.iter_mut().for_each(|v| *v = (*v - mean) / std);
    Ok(())
}

/// Mean and population standard deviation of a pixel array (raw u8 or f64 values).
///
/// Errors if it is empty or all its entries are equal.
pub(crate) fn pixel_mean_std<T: Copy + Into<f64>>(x: &[T]) -> Result<(f64, f64), DataError> {
    if x.is_empty() {
        return Err(DataError::Degenerate("empty pixel array".into()));
    }
    let n = x.len() as f64;
    let mean = x.iter().map(|&v| v.into()).sum::<f64>() / n;
    let var = x
        .iter()
        .map(|&v| (v.into() - mean) * (v.into() - mean))
        .sum::<f64>()
        / n;
    let std = var.sqrt();
    if !(std > 0.0 && std.is_finite()) {
        return Err(DataError::Degenerate(format!(
            "pixel array has standard deviation {std}"
        )));
    }
    Ok((mean, std))
}

/// Scales every row (of length `dim`) of the row-major array `x` to unit L2 norm.
///
/// Errors if a row has zero (or non-finite) norm, or `x.len()` is not a multiple of `dim`.
pub fn normalise_rows(x: &mut [f64], dim: usize) -> Result<(), DataError> {
    if dim == 0 || !x.len().is_multiple_of(dim) {
        return Err(DataError::Degenerate(format!(
            "array of length {} is not made of rows of length {dim}",
            x.len()
        )));
    }
    for (i, row) in x.chunks_exact_mut(dim).enumerate() {
        let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
        if !(norm > 0.0 && norm.is_finite()) {
            return Err(DataError::Degenerate(format!("row {i} has norm {norm}")));
        }
        row.iter_mut().for_each(|v| *v /= norm);
    }
    Ok(())
}

/// Raw pixels (0..255, row-major) of the selected samples of one split, with their label
/// indices into the selected classes.
pub(crate) struct RawSplit {
    /// `labels.len() × dim` pixel values.
    pub pixels: Vec<u8>,
    /// Label index of each sample.
    pub labels: Vec<usize>,
}

impl RawSplit {
    /// The pixels as f64.
    pub fn pixels_f64(&self) -> Vec<f64> {
        self.pixels.iter().map(|&p| p as f64).collect()
    }
}

/// Row-major `n × outputs` targets for `labels` (indices into the `k` selected classes):
/// two classes give one output, +0.5 for label 0 and −0.5 for label 1; more give one-hot rows.
pub(crate) fn targets(labels: &[usize], k: usize) -> Vec<f64> {
    if k == 2 {
        return labels
            .iter()
            .map(|&l| if l == 0 { 0.5 } else { -0.5 })
            .collect();
    }
    let mut y = vec![0.0; labels.len() * k];
    for (i, &l) in labels.iter().enumerate() {
        y[i * k + l] = 1.0;
    }
    y
}

/// Builds a [`Split`] from raw pixel values (`labels.len() × dim`, row-major, 0..255):
/// standardises the whole array, unit-normalises each row and builds the targets for `k` classes.
pub(crate) fn build_split(
    mut pixels: Vec<f64>,
    dim: usize,
    labels: Vec<usize>,
    k: usize,
) -> Result<Split, DataError> {
    debug_assert_eq!(pixels.len(), labels.len() * dim);
    debug_assert_eq!(outputs_for(k), if k == 2 { 1 } else { k });
    standardise(&mut pixels)?;
    normalise_rows(&mut pixels, dim)?;
    Ok(Split {
        x: pixels,
        n: labels.len(),
        dim,
        y: targets(&labels, k),
        labels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mean_std(x: &[f64]) -> (f64, f64) {
        let n = x.len() as f64;
        let m = x.iter().sum::<f64>() / n;
        (
            m,
            (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / n).sqrt(),
        )
    }

    #[test]
    fn standardise_gives_mean_zero_std_one() {
        let mut x: Vec<f64> = (0..1000).map(|i| ((i * 37) % 256) as f64).collect();
        standardise(&mut x).unwrap();
        let (m, s) = mean_std(&x);
        assert!(m.abs() < 1e-12, "mean {m}");
        assert!((s - 1.0).abs() < 1e-12, "std {s}");
        // Population std: [0, 2] -> [-1, 1].
        let mut x = vec![0.0, 2.0];
        standardise(&mut x).unwrap();
        assert_eq!(x, vec![-1.0, 1.0]);
    }

    #[test]
    fn standardise_rejects_constant_and_empty() {
        assert!(standardise(&mut [3.0, 3.0]).is_err());
        assert!(standardise(&mut []).is_err());
    }

    #[test]
    fn normalise_rows_gives_unit_rows() {
        let mut x = vec![3.0, 4.0, 0.0, -1.0, 1.0, 1.0];
        normalise_rows(&mut x, 3).unwrap();
        assert_eq!(&x[..3], &[0.6, 0.8, 0.0]);
        let n2: f64 = x[3..].iter().map(|v| v * v).sum();
        assert!((n2 - 1.0).abs() < 1e-15);
        assert!(normalise_rows(&mut [0.0, 0.0], 2).is_err());
        assert!(normalise_rows(&mut [1.0, 0.0, 1.0], 2).is_err());
    }

    #[test]
    fn targets_two_and_many_classes() {
        assert_eq!(targets(&[0, 1, 1, 0], 2), vec![0.5, -0.5, -0.5, 0.5]);
        assert_eq!(targets(&[2, 0], 3), vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
    }

    #[test]
    fn build_split_standardises_before_normalising() {
        let pixels = vec![0.0, 255.0, 10.0, 20.0, 30.0, 40.0];
        let s = build_split(pixels.clone(), 2, vec![0, 1, 0], 2).unwrap();
        let mut expect = pixels;
        let (m, sd) = mean_std(&expect);
        expect.iter_mut().for_each(|v| *v = (*v - m) / sd);
        for r in 0..3 {
            let row = &expect[2 * r..2 * r + 2];
            let norm = (row[0] * row[0] + row[1] * row[1]).sqrt();
            for (c, v) in row.iter().enumerate() {
                assert!((s.x[2 * r + c] - v / norm).abs() < 1e-15);
            }
        }
        assert_eq!(s.y, vec![0.5, -0.5, 0.5]);
        assert_eq!((s.n, s.dim, s.outputs()), (3, 2, 1));
    }
}
