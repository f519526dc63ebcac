//! Series styles, the colour palette and marker shapes.

use crate::svg::{escape, px};

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Style {
    /// Connect consecutive points with a line.
    pub line: bool,
    /// Draw a marker at every point.
    pub markers: bool,
    /// Draw the line dashed (only meaningful with `line`).
    pub dashed: bool,
}

impl Style {
    /// Solid line, no markers.
    pub fn line() -> Self {
        Style {
            line: true,
            markers: false,
            dashed: false,
        }
    }

    /// Markers only.
    pub fn markers() -> Self {
        Style {
            line: false,
            markers: true,
            dashed: false,
        }
    }

    /// Dashed line, no markers.
    pub fn dashed_line() -> Self {
        Style {
            line: true,
            markers: false,
            dashed: true,
        }
    }

    /// Solid line with a marker at every point.
    pub fn line_and_markers() -> Self {
        Style {
            line: true,
            markers: true,
            dashed: false,
        }
    }
}

impl Default for Style {
    /// A solid line.
    fn default() -> Self {
        Style::line()
    }
}

/// Okabe–Ito colour-blind-safe palette (yellow last: it is faint on white).
pub const PALETTE: [&str; 8] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442",
];

/// Palette colour for the `i`-th series (cycles).
pub fn palette_color(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// Marker shapes, cycled by series index so series differ by more than colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Marker {
    Circle,
    Square,
    TriangleUp,
    Diamond,
    TriangleDown,
}

impl Marker {
    /// Shape of the `i`-th series.
    pub(crate) fn for_index(i: usize) -> Marker {
        const ALL: [Marker; 5] = [
            Marker::Circle,
            Marker::Square,
            Marker::TriangleUp,
            Marker::Diamond,
            Marker::TriangleDown,
        ];
        ALL[i % ALL.len()]
    }

    /// SVG element for this marker centred at `(x, y)` with radius `r`; `paint` holds the
    /// fill/stroke attributes. Never emits `<path>` (reserved for series lines).
    pub(crate) fn svg(self, (x, y): (f64, f64), r: f64, paint: &str) -> String {
        match self {
            Marker::Circle => {
                format!(
                    "<circle cx=\"{}\" cy=\"{}\" r=\"{}\" {paint}/>",
                    px(x),
                    px(y),
                    px(r)
                )
            }
            Marker::Square => {
                let s = r * 0.9;
                format!(
                    "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" {paint}/>",
                    px(x - s),
                    px(y - s),
                    px(2.0 * s),
                    px(2.0 * s)
                )
            }
            Marker::TriangleUp => polygon(
                &[
                    (x, y - 1.2 * r),
                    (x + 1.1 * r, y + 0.8 * r),
                    (x - 1.1 * r, y + 0.8 * r),
                ],
                paint,
            ),
            Marker::TriangleDown => polygon(
                &[
                    (x, y + 1.2 * r),
                    (x + 1.1 * r, y - 0.8 * r),
                    (x - 1.1 * r, y - 0.8 * r),
                ],
                paint,
            ),
            Marker::Diamond => polygon(
                &[(x, y - 1.3 * r), (x + r, y), (x, y + 1.3 * r), (x - r, y)],
                paint,
            ),
        }
    }
}

/// `<polygon>` through the given pixel points.
fn polygon(pts: &[(f64, f64)], paint: &str) -> String {
    let list: Vec<String> = pts
        .iter()
        .map(|(x, y)| format!("{},{}", px(*x), px(*y)))
        .collect();
    format!("<polygon points=\"{}\" {paint}/>", list.join(" "))
}

/// `fill="…"` attribute set for a filled marker of colour `color`.
pub(crate) fn filled(color: &str) -> String {
    format!("fill=\"{}\" stroke=\"none\"", escape(color))
}

/// Attribute set for an open (hollow) marker outlined in `color`.
pub(crate) fn hollow(color: &str) -> String {
    format!(
        "fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\"",
        escape(color)
    )
}
