//! Number formats of the tables: Python's `g` and `e` (the formats of the table scripts the
//! tables came from), and a few of the hand-kept tables' own.

/// Python's `format(x, ".{p}g")`: `p` significant digits, trailing zeros dropped, scientific
/// with a two-digit exponent below 1e-4 or from 10^p on.
pub fn g(x: f64, p: usize) -> String {
    if !x.is_finite() || x == 0.0 {
        return special(x).unwrap_or_else(|| if x.is_sign_negative() { "-0" } else { "0" }.into());
    }
    let p = p.max(1);
    let exp = exponent(x, p - 1);
    if exp < -4 || exp >= p as i32 {
        let sci = format!("{:.*e}", p - 1, x);
        let (mantissa, _) = sci.split_once('e').expect("scientific format");
        format!("{}e{}", trim_zeros(mantissa), exp_suffix(exp))
    } else {
        trim_zeros(&format!("{x:.*}", (p as i32 - 1 - exp) as usize))
    }
}

/// Python's `format(x, ".{d}e")`: `d` decimals, two-digit signed exponent (`3.15e-14`).
pub fn e(x: f64, d: usize) -> String {
    if let Some(s) = special(x) {
        return s;
    }
    let sci = format!("{x:.d$e}");
    let (mantissa, _) = sci.split_once('e').expect("scientific format");
    format!("{mantissa}e{}", exp_suffix(exponent(x, d)))
}

/// Scientific with `d` decimals and a bare exponent (`5.2e-2`, `3.5e3`).
pub fn e_short(x: f64, d: usize) -> String {
    format!("{x:.d$e}")
}

/// `d` decimals (`format!("{x:.d$}")`).
pub fn fixed(x: f64, d: usize) -> String {
    format!("{x:.d$}")
}

/// Two significant digits, trailing zeros kept (`0.40`, `2.4`, `0.0058`); from 10 on an integer.
pub fn sig2(x: f64) -> String {
    if !x.is_finite() || x == 0.0 {
        return g(x, 2);
    }
    fixed(x, (1 - exponent(x, 1)).max(0) as usize)
}

/// An integer with a space between thousands from 10 000 on (`1168`, `18 492`).
pub fn thousands(x: f64) -> String {
    let s = fixed(x, 0);
    if x.abs() < 10_000.0 {
        return s;
    }
    let (sign, digits) = s.split_at(usize::from(s.starts_with('-')));
    let mut out = String::from(sign);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// The decimal exponent of `x` once rounded to `d` decimals in scientific notation.
fn exponent(x: f64, d: usize) -> i32 {
    let sci = format!("{x:.d$e}");
    let (_, exp) = sci.split_once('e').expect("scientific format");
    exp.parse().expect("exponent")
}

/// Python's exponent suffix: sign and at least two digits (`-05`, `+12`).
fn exp_suffix(exp: i32) -> String {
    format!("{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
}

/// `nan`, `inf` and `-inf` as Python writes them; `None` for finite numbers.
fn special(x: f64) -> Option<String> {
    if x.is_nan() {
        Some("nan".into())
    } else if x.is_infinite() {
        Some(if x > 0.0 { "inf" } else { "-inf" }.into())
    } else {
        None
    }
}

/// Drops trailing zeros (and a trailing point) of a decimal number.
fn trim_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').into()
    } else {
        s.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cases checked against CPython 3 (`format(x, ".3g")` etc.).
    #[test]
    fn formats_as_python_does() {
        let g3 = [
            (0.12044404952029254, "0.12"),
            (0.000368, "0.000368"),
            (1.4e-6, "1.4e-06"),
            (3458.2558856208616, "3.46e+03"),
            (24700.0, "2.47e+04"),
            (43.00364542264884, "43"),
            (9.996, "10"),
            (999.6, "1e+03"),
            (0.00009999, "0.0001"),
            (0.000099949, "9.99e-05"),
            (-2.5e-7, "-2.5e-07"),
            (0.0, "0"),
            (41.0, "41"),
        ];
        for (x, want) in g3 {
            assert_eq!(g(x, 3), want, "g({x}, 3)");
        }
        assert_eq!(g(0.005676407135064307, 2), "0.0057");
        assert_eq!(g(0.0, 2), "0");
        assert_eq!(g(18.084199979233166, 2), "18");
        assert_eq!(g(157.2277139219141, 2), "1.6e+02");
        assert_eq!(e(3.15e-14, 2), "3.15e-14");
        assert_eq!(e(470000.0, 1), "4.7e+05");
        assert_eq!(e(0.18, 1), "1.8e-01");
        assert_eq!(e_short(0.05225231775601903, 1), "5.2e-2");
        assert_eq!(e_short(3.9748222376845275e-07, 1), "4.0e-7");
        assert_eq!(fixed(0.125, 2), "0.12");
        assert_eq!(fixed(2.5, 0), "2");
        assert_eq!(sig2(0.397957082427615), "0.40");
        assert_eq!(sig2(152.96980438699654), "153");
        assert_eq!(sig2(9.96), "10");
        assert_eq!(sig2(0.0024189591737138454), "0.0024");
        assert_eq!(thousands(18492.46333333336), "18 492");
        assert_eq!(thousands(1168.22), "1168");
    }
}
