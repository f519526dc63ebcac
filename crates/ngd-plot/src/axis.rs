//! Axis scales, automatic ranges and tick positions; [`Axis`] is the plotters coordinate.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};

/// Relative padding added around the data by automatic ranges.
const AUTO_MARGIN: f64 = 0.05;

/// Scale of an axis.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scale {
    /// Linear.
    #[default]
    Linear,
    /// Base-10 logarithmic (non-positive values cannot be shown).
    Log10,
}

impl Scale {
    /// The transformed coordinate of `v` (`log₁₀ v` on a log axis), `None` if not shown.
    pub(crate) fn forward(self, v: f64) -> Option<f64> {
        let t = match self {
            Scale::Linear => v,
            Scale::Log10 if v > 0.0 => v.log10(),
            Scale::Log10 => return None,
        };
        t.is_finite().then_some(t)
    }

    /// Inverse of [`Scale::forward`].
    pub(crate) fn back(self, t: f64) -> f64 {
        match self {
            Scale::Linear => t,
            Scale::Log10 => 10f64.powf(t),
        }
    }

    /// The override if it is valid for this scale, else padded bounds of `values`.
    pub(crate) fn range(
        self,
        fixed: Option<(f64, f64)>,
        values: impl Iterator<Item = f64>,
    ) -> (f64, f64) {
        if let Some((lo, hi)) = fixed
            && let (Some(a), Some(b)) = (self.forward(lo), self.forward(hi))
            && a < b
        {
            return (lo, hi);
        }
        let (a, b) = values
            .filter_map(|v| self.forward(v))
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), t| {
                (a.min(t), b.max(t))
            });
        let (a, b) = match (a.is_finite(), a < b) {
            (false, _) => (0.0, 1.0),
            (true, false) => (a - 0.5, b + 0.5),
            (true, true) => (a - AUTO_MARGIN * (b - a), b + AUTO_MARGIN * (b - a)),
        };
        (self.back(a), self.back(b))
    }
}

/// One axis of a chart: scale, range and labelled (major) and unlabelled (minor) ticks.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Axis {
    pub scale: Scale,
    /// Transformed bounds.
    lo: f64,
    hi: f64,
    pub major: Vec<f64>,
    minor: Vec<f64>,
}

impl Axis {
    /// An axis over the data range `(lo, hi)` (valid for `scale`), with automatic ticks.
    pub fn new(scale: Scale, (lo, hi): (f64, f64)) -> Self {
        let (a, b) = (
            scale.forward(lo).unwrap_or(0.0),
            scale.forward(hi).unwrap_or(1.0),
        );
        let (major, minor) = match scale {
            Scale::Linear => (linear_ticks(a, b), Vec::new()),
            Scale::Log10 => log_ticks(a, b),
        };
        Axis {
            scale,
            lo: a,
            hi: b,
            major,
            minor,
        }
    }

    /// An axis without ticks (e.g. a categorical one).
    pub fn bare(lo: f64, hi: f64) -> Self {
        Axis {
            scale: Scale::Linear,
            lo,
            hi,
            major: Vec::new(),
            minor: Vec::new(),
        }
    }

    /// Clips the segment `p`–`q` (transformed coordinates) to the axis bounds along the
    /// coordinate `k` (0: this is x, 1: y); returns the parameter interval kept.
    pub fn clip(&self, p: (f64, f64), q: (f64, f64), k: usize, (t0, t1): (f64, f64)) -> (f64, f64) {
        let (a, d) = if k == 0 {
            (p.0, q.0 - p.0)
        } else {
            (p.1, q.1 - p.1)
        };
        let (mut t0, mut t1) = (t0, t1);
        for (num, den) in [(a - self.lo, -d), (self.hi - a, d)] {
            if den == 0.0 {
                if num < 0.0 {
                    return (1.0, 0.0);
                }
            } else if den < 0.0 {
                t0 = t0.max(num / den);
            } else {
                t1 = t1.min(num / den);
            }
        }
        (t0, t1)
    }

    /// Whether the transformed coordinate `t` lies inside the axis (with a little slack).
    pub fn contains(&self, t: f64) -> bool {
        let eps = 1e-9 * (self.hi - self.lo);
        t >= self.lo - eps && t <= self.hi + eps
    }

    /// Tick label of the transformed coordinate `t`: `10ᵏ` at log decades, else plain.
    pub fn label(&self, t: f64) -> String {
        let v = self.scale.back(t);
        if self.scale == Scale::Log10 && (t - t.round()).abs() < 1e-9 {
            return format!("10{}", superscript(t.round() as i64));
        }
        let step = match self.scale {
            Scale::Linear => self
                .major
                .windows(2)
                .map(|w| w[1] - w[0])
                .fold(f64::INFINITY, f64::min),
            Scale::Log10 => v,
        };
        let digits = (0..10)
            .find(|&d| {
                let s = step * 10f64.powi(d);
                !s.is_finite() || (s - s.round()).abs() < 1e-6 * s.max(1.0)
            })
            .unwrap_or(10) as usize;
        let s = format!("{v:.digits$}");
        if s.trim_start_matches(['-', '0', '.']).is_empty() {
            "0".into()
        } else {
            s
        }
    }
}

impl Ranged for Axis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, t: &f64, limit: (i32, i32)) -> i32 {
        let frac = (t - self.lo) / (self.hi - self.lo);
        limit.0 + (frac * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.minor.clone()
        } else {
            self.major.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

/// 4–8 "nice" (1, 2, 2.5 or 5 × 10ᵏ) ticks inside `[a, b]`.
fn linear_ticks(a: f64, b: f64) -> Vec<f64> {
    let raw = (b - a) / 6.0;
    let pow = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * pow)
        .find(|s| (b - a) / s <= 8.0)
        .unwrap_or(10.0 * pow);
    let first = (a / step).ceil() as i64;
    let last = (b / step).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

/// Log ticks (transformed) in `[a, b]`: decades (thinned to ≤ 8) labelled and the 2…9
/// multiples unlabelled; under three decades, 1-2-5 labelled and the rest unlabelled.
fn log_ticks(a: f64, b: f64) -> (Vec<f64>, Vec<f64>) {
    let (first, last) = (a.floor() as i64, b.ceil() as i64);
    let inside = |t: &f64| *t >= a - 1e-9 && *t <= b + 1e-9;
    let decades = (first..=last).filter(|k| inside(&(*k as f64))).count() as i64;
    let every = (decades + 7) / 8;
    let (mut major, mut minor) = (Vec::new(), Vec::new());
    for k in first..=last {
        for m in 1..10 {
            let t = k as f64 + f64::from(m).log10();
            if !inside(&t) {
                continue;
            }
            let labelled = if decades >= 3 {
                m == 1 && k.rem_euclid(every) == 0
            } else {
                [1, 2, 5].contains(&m)
            };
            if labelled {
                major.push(t);
            } else if every == 1 || m == 1 {
                minor.push(t);
            }
        }
    }
    (major, minor)
}

/// `k` in Unicode superscript digits (e.g. `-3` → `⁻³`).
fn superscript(k: i64) -> String {
    const DIGITS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let sign = if k < 0 { "⁻" } else { "" };
    let digits = k.unsigned_abs().to_string();
    let digits = digits.bytes().map(|d| DIGITS[usize::from(d - b'0')]);
    sign.chars().chain(digits).collect()
}
