//! Known inputs shared by the tests of this crate and of `ngd-optim`.

/// One-hot (C > 1) or ±½ (C = 1) targets for N samples, row-major: sample i is class i mod C
/// (C = 1: +½ for even i, −½ for odd).
pub fn targets(n: usize, c: usize) -> Vec<f64> {
    (0..n)
        .flat_map(|i| {
            (0..c).map(move |j| {
                if c == 1 {
                    if i % 2 == 0 { 0.5 } else { -0.5 }
                } else if i % c == j {
                    1.0
                } else {
                    0.0
                }
            })
        })
        .collect()
}
