//! Axis scales, data → pixel mapping, automatic ranges and tick generation.

/// How data values are laid out along an axis.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scale {
    /// Equal distances for equal differences.
    #[default]
    Linear,
    /// Equal distances for equal ratios (base-10 logarithm). Non-positive values cannot be shown.
    Log10,
}

impl Scale {
    /// Transforms a data value into the scale's linear space (`v` or `log10 v`).
    ///
    /// Returns `None` for values the scale cannot show: non-finite values, and non-positive
    /// values on a [`Scale::Log10`] axis.
    pub fn forward(self, v: f64) -> Option<f64> {
        if !v.is_finite() {
            return None;
        }
        match self {
            Scale::Linear => Some(v),
            Scale::Log10 if v > 0.0 => Some(v.log10()),
            Scale::Log10 => None,
        }
    }

    /// Inverse of [`Scale::forward`].
    pub fn inverse(self, t: f64) -> f64 {
        match self {
            Scale::Linear => t,
            Scale::Log10 => 10f64.powf(t),
        }
    }

    /// Whether `(lo, hi)` is a usable axis range for this scale (finite, `lo < hi`, and
    /// positive for a log axis).
    pub fn valid_range(self, (lo, hi): (f64, f64)) -> bool {
        match (self.forward(lo), self.forward(hi)) {
            (Some(a), Some(b)) => a < b,
            _ => false,
        }
    }
}

/// Fraction of the data span added on each side by automatic ranges.
pub const AUTO_MARGIN: f64 = 0.05;

/// Computes an axis range covering every value the scale can show, with a margin of
/// [`AUTO_MARGIN`] of the span (in the scale's space) on each side.
///
/// Values the scale cannot show are ignored. With no usable values the range is `(0, 1)`
/// (linear) or `(1, 10)` (log); a single distinct value gets a small symmetric window.
pub fn auto_range(scale: Scale, values: impl IntoIterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for t in values.into_iter().filter_map(|v| scale.forward(v)) {
        lo = lo.min(t);
        hi = hi.max(t);
    }
    if lo > hi {
        return match scale {
            Scale::Linear => (0.0, 1.0),
            Scale::Log10 => (1.0, 10.0),
        };
    }
    let span = hi - lo;
    let pad = if span > 1e-12 * lo.abs().max(hi.abs()).max(1e-300) {
        AUTO_MARGIN * span
    } else {
        degenerate_pad(scale, lo)
    };
    (scale.inverse(lo - pad), scale.inverse(hi + pad))
}

/// Half-width of the window around a single value `t` (in scale space).
fn degenerate_pad(scale: Scale, t: f64) -> f64 {
    match scale {
        Scale::Log10 => 0.5,
        Scale::Linear if t == 0.0 => 1.0,
        Scale::Linear => 0.1 * t.abs(),
    }
}

/// Picks the requested range when it is valid for the scale, otherwise the automatic one.
pub(crate) fn resolve_range(
    scale: Scale,
    requested: Option<(f64, f64)>,
    values: impl IntoIterator<Item = f64>,
) -> (f64, f64) {
    match requested {
        Some(r) if scale.valid_range(r) => r,
        _ => auto_range(scale, values),
    }
}

/// A data → pixel mapping for one axis.
///
/// `px_lo` is the pixel position of `lo` and `px_hi` that of `hi`; for a y axis `px_lo` is the
/// bottom of the plot area (larger pixel value), so the mapping is inverted automatically.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Axis {
    /// Scale of the axis.
    pub scale: Scale,
    /// Data value at `px_lo`.
    pub lo: f64,
    /// Data value at `px_hi`.
    pub hi: f64,
    /// Pixel coordinate of `lo`.
    pub px_lo: f64,
    /// Pixel coordinate of `hi`.
    pub px_hi: f64,
}

impl Axis {
    /// Creates a mapping from the data range `(lo, hi)` onto the pixel range `(px_lo, px_hi)`.
    pub fn new(scale: Scale, (lo, hi): (f64, f64), (px_lo, px_hi): (f64, f64)) -> Self {
        Axis {
            scale,
            lo,
            hi,
            px_lo,
            px_hi,
        }
    }

    /// Position of `v` as a fraction of the axis (0 at `lo`, 1 at `hi`, outside `[0, 1]` when
    /// out of range); `None` when the scale cannot show `v` or the range is unusable.
    pub fn fraction(&self, v: f64) -> Option<f64> {
        let a = self.scale.forward(self.lo)?;
        let b = self.scale.forward(self.hi)?;
        let t = self.scale.forward(v)?;
        let f = (t - a) / (b - a);
        f.is_finite().then_some(f)
    }

    /// Pixel coordinate of `v` (not clamped to the axis); `None` when the scale cannot show `v`.
    pub fn map(&self, v: f64) -> Option<f64> {
        let p = self.px_lo + self.fraction(v)? * (self.px_hi - self.px_lo);
        p.is_finite().then_some(p)
    }

    /// Whether `v` lies within the axis range (inclusive, up to rounding).
    pub fn contains(&self, v: f64) -> bool {
        self.fraction(v)
            .is_some_and(|f| (-1e-9..=1.0 + 1e-9).contains(&f))
    }

    /// Labelled (major) ticks inside the range.
    pub fn ticks(&self) -> Vec<Tick> {
        match self.scale {
            Scale::Linear => linear_ticks(self.lo, self.hi),
            Scale::Log10 => log_ticks(self.lo, self.hi),
        }
    }

    /// Unlabelled minor ticks (log axes with one decade per major tick: 2×…9× each decade).
    pub fn minor_ticks(&self) -> Vec<f64> {
        match self.scale {
            Scale::Linear => Vec::new(),
            Scale::Log10 => log_minor_ticks(self.lo, self.hi),
        }
    }
}

/// One labelled tick.
#[derive(Clone, Debug, PartialEq)]
pub struct Tick {
    /// Data value of the tick.
    pub value: f64,
    /// Text printed next to the tick.
    pub label: String,
}

/// Candidate mantissas for linear tick steps with their penalties: 1, 2, 5 (and 2.5) are
/// preferred; 4, 3, 1.5 and 6 are used only when no preferred step gives 5–8 ticks.
const NICE_MANTISSAS: [(f64, f64); 8] = [
    (1.0, 0.0),
    (2.0, 0.0),
    (5.0, 0.0),
    (2.5, 0.5),
    (4.0, 3.0),
    (3.0, 3.2),
    (1.5, 3.4),
    (6.0, 3.6),
];

/// Number of multiples of `step` inside `[lo, hi]`.
fn tick_count(lo: f64, hi: f64, step: f64) -> i64 {
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    last - first + 1
}

/// Chooses a nice step (1, 2, 5 or 2.5 × 10ᵏ; 4, 3, 1.5 or 6 × 10ᵏ when needed) giving 5–8
/// ticks, preferring about 6.
pub fn nice_step(lo: f64, hi: f64) -> f64 {
    let span = hi - lo;
    if !(span > 0.0 && span.is_finite()) {
        return 1.0;
    }
    let base = span.log10().floor() as i32;
    let mut best = (f64::INFINITY, 1.0);
    for e in (base - 2)..=(base + 1) {
        for &(m, penalty) in &NICE_MANTISSAS {
            let step = m * 10f64.powi(e);
            let n = tick_count(lo, hi, step);
            let out_of_band = if (5..=8).contains(&n) { 0.0 } else { 10.0 };
            let score = out_of_band + (n - 6).abs() as f64 + penalty;
            if score < best.0 {
                best = (score, step);
            }
        }
    }
    best.1
}

/// Nice linear ticks covering `[lo, hi]`, labelled with a common number of decimals (or in
/// scientific notation for very large/small values), negative signs typeset as `−` (U+2212).
pub fn linear_ticks(lo: f64, hi: f64) -> Vec<Tick> {
    let step = nice_step(lo, hi);
    let values = multiples(lo, hi, step);
    let max_abs = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let sci = max_abs >= 1e6 || (step < 1e-3 && max_abs < 1e-2);
    let decimals = decimals_for(step);
    values
        .into_iter()
        .map(|v| Tick {
            value: v,
            label: typographic_minus(if sci {
                fmt_sci(v)
            } else {
                fmt_fixed(v, decimals)
            }),
        })
        .collect()
}

/// Replaces ASCII hyphens (used as minus signs) with the typographic minus `−`.
fn typographic_minus(s: String) -> String {
    s.replace('-', "\u{2212}")
}

/// Multiples of `step` inside `[lo, hi]` (computed as `k·step`, with exact zero).
fn multiples(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last)
        .map(|k| if k == 0 { 0.0 } else { k as f64 * step })
        .collect()
}

/// Smallest number of decimals that represents `step` exactly (up to rounding), at most 12.
fn decimals_for(step: f64) -> usize {
    (0..12)
        .find(|&d| {
            let s = step * 10f64.powi(d as i32);
            (s - s.round()).abs() < 1e-6 * s.abs().max(1.0)
        })
        .unwrap_or(12)
}

/// Fixed-point formatting without a "-0".
fn fmt_fixed(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    if s.trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        s.trim_start_matches('-').to_string()
    } else {
        s
    }
}

/// Compact scientific formatting such as `2.5e-5` or `1e6`.
pub(crate) fn fmt_sci(v: f64) -> String {
    if v == 0.0 {
        return "0".to_string();
    }
    let s = format!("{v:.3e}");
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let mant = mant.trim_end_matches('0').trim_end_matches('.');
    format!("{mant}e{exp}")
}

/// General compact number formatting (used for non-decade log ticks and value labels).
pub(crate) fn fmt_compact(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e5).contains(&a) {
        return fmt_sci(v);
    }
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// Unicode superscript form of an integer exponent, e.g. `-4` → `⁻⁴`.
pub fn superscript(n: i32) -> String {
    n.to_string()
        .chars()
        .map(|c| match c {
            '-' => '⁻',
            '0' => '⁰',
            '1' => '¹',
            '2' => '²',
            '3' => '³',
            '4' => '⁴',
            '5' => '⁵',
            '6' => '⁶',
            '7' => '⁷',
            '8' => '⁸',
            _ => '⁹',
        })
        .collect()
}

/// Label of the decade `10^e`, e.g. `10⁻⁴`.
pub fn decade_label(e: i32) -> String {
    format!("10{}", superscript(e))
}

/// Exponents `e` with `10^e` inside `[lo, hi]` (both positive).
fn decades(lo: f64, hi: f64) -> std::ops::RangeInclusive<i32> {
    let a = (lo.log10() - 1e-9).ceil() as i32;
    let b = (hi.log10() + 1e-9).floor() as i32;
    a..=b
}

/// Log-axis ticks: powers of ten (every k-th decade so that at most 8 are labelled); for ranges
/// shorter than about a decade, 1-2-5 (or 1…9) multiples, and linear ticks as a last resort.
pub fn log_ticks(lo: f64, hi: f64) -> Vec<Tick> {
    let decs = decades(lo, hi);
    let n = decs.clone().count();
    if n >= 2 {
        let k = decade_stride(n);
        return decs
            .filter(|e| e.rem_euclid(k) == 0)
            .map(|e| Tick {
                value: 10f64.powi(e),
                label: decade_label(e),
            })
            .collect();
    }
    for mantissas in [
        &[1.0, 2.0, 5.0][..],
        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0][..],
    ] {
        let ticks = mantissa_ticks(lo, hi, mantissas);
        if ticks.len() >= 3 {
            return ticks;
        }
    }
    linear_ticks(lo, hi)
}

/// Ticks at `m·10^e` for each mantissa `m` that fall inside `[lo, hi]`.
fn mantissa_ticks(lo: f64, hi: f64, mantissas: &[f64]) -> Vec<Tick> {
    let e0 = lo.log10().floor() as i32;
    let e1 = hi.log10().ceil() as i32;
    let mut out = Vec::new();
    for e in e0..=e1 {
        for &m in mantissas {
            let v = m * 10f64.powi(e);
            if v >= lo * (1.0 - 1e-9) && v <= hi * (1.0 + 1e-9) {
                let label = if m == 1.0 {
                    decade_label(e)
                } else {
                    fmt_compact(v)
                };
                out.push(Tick { value: v, label });
            }
        }
    }
    out
}

/// Labelled decades are the multiples of this stride, keeping at most 8 labels for `n` decades.
fn decade_stride(n: usize) -> i32 {
    [1, 2, 3, 4, 5, 10, 20, 50, 100]
        .into_iter()
        .find(|k| n.div_ceil(*k as usize) <= 8)
        .unwrap_or(100)
}

/// Minor log ticks: 2…9 × 10ᵉ when every decade is labelled, otherwise the unlabelled decades;
/// none when the range spans fewer than two decades.
pub fn log_minor_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let decs = decades(lo, hi);
    let n = decs.clone().count();
    if n < 2 {
        return Vec::new();
    }
    let k = decade_stride(n);
    if k > 1 {
        return decs
            .filter(|e| e.rem_euclid(k) != 0)
            .map(|e| 10f64.powi(e))
            .collect();
    }
    let e0 = lo.log10().floor() as i32;
    let e1 = hi.log10().ceil() as i32;
    (e0..=e1)
        .flat_map(|e| (2..=9).map(move |m| m as f64 * 10f64.powi(e)))
        .filter(|v| *v >= lo * (1.0 - 1e-9) && *v <= hi * (1.0 + 1e-9))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_ticks_are_nice_and_in_range() {
        let t = linear_ticks(-0.05, 1.05);
        let v: Vec<f64> = t.iter().map(|t| t.value).collect();
        assert_eq!(v, vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]);
        let labels: Vec<&str> = t.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
    }

    #[test]
    fn linear_tick_count_between_5_and_8() {
        for (lo, hi) in [
            (0.0, 1.0),
            (0.0, 7.3),
            (-3.2, 17.9),
            (0.001, 0.0042),
            (1e6, 3.7e6),
            (-1.0, 0.0),
        ] {
            let n = linear_ticks(lo, hi).len();
            assert!((5..=8).contains(&n), "{lo}..{hi}: {n} ticks");
        }
        // Deterministic sweep over offsets and spans of several magnitudes.
        for i in 0..2000 {
            let lo = ((i * 7919) % 2000) as f64 / 10.0 - 100.0;
            let span = 10f64.powf(-1.0 + 4.0 * ((i * 104729) % 1000) as f64 / 1000.0);
            let n = linear_ticks(lo, lo + span).len();
            assert!((5..=8).contains(&n), "{lo}..{}: {n} ticks", lo + span);
        }
    }

    #[test]
    fn negative_labels_use_typographic_minus() {
        let t = linear_ticks(-2.2, 2.2);
        assert!(t.iter().any(|t| t.label == "\u{2212}2"), "{t:?}");
        assert!(t.iter().all(|t| !t.label.contains('-')));
    }

    #[test]
    fn negative_zero_is_not_printed() {
        assert!(
            linear_ticks(-1.0, 1.0)
                .iter()
                .all(|t| t.label != "-0.0" && t.label != "-0")
        );
    }

    #[test]
    fn log_ticks_thin_out_many_decades() {
        let t = log_ticks(1e-20, 1.0);
        assert!(t.len() <= 8 && t.len() >= 4, "{t:?}");
    }

    #[test]
    fn log_minor_ticks_fill_decades_or_skipped_decades() {
        let m = log_minor_ticks(0.05, 20.0);
        assert_eq!(
            m.len(),
            5 + 8 + 8 + 1,
            "5e-2…9e-2, 2e-1…9e-1, 2…9, 20: {m:?}"
        );
        let m = log_minor_ticks(1e-8, 1e4);
        assert!(
            m.iter()
                .all(|v| (v.log10().round() as i32).rem_euclid(2) == 1),
            "{m:?}"
        );
        assert_eq!(m.len(), 6);
    }

    #[test]
    fn narrow_log_range_still_has_ticks() {
        let t = log_ticks(0.3, 0.9);
        assert!(t.len() >= 3, "{t:?}");
    }

    #[test]
    fn superscripts() {
        assert_eq!(decade_label(-4), "10⁻⁴");
        assert_eq!(decade_label(0), "10⁰");
        assert_eq!(decade_label(12), "10¹²");
    }

    #[test]
    fn sci_format() {
        assert_eq!(fmt_sci(2.5e-5), "2.5e-5");
        assert_eq!(fmt_sci(1e6), "1e6");
    }
}
