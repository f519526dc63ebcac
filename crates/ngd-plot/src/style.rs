//! Series styles, the colour palette and marker shapes.

use plotters::prelude::*;

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
    /// The style with these three switches.
    const fn of(line: bool, markers: bool, dashed: bool) -> Self {
        Style {
            line,
            markers,
            dashed,
        }
    }

    /// Solid line, no markers.
    pub fn line() -> Self {
        Style::of(true, false, false)
    }

    /// Markers only.
    pub fn markers() -> Self {
        Style::of(false, true, false)
    }

    /// Dashed line, no markers (e.g. a theory curve next to measured markers).
    pub fn dashed_line() -> Self {
        Style::of(true, false, true)
    }

    /// Solid line with a marker at every point.
    pub fn line_and_markers() -> Self {
        Style::of(true, true, false)
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

/// `#RRGGBB` as a plotters colour; anything else gives `None`.
pub(crate) fn parse_color(s: &str) -> Option<RGBColor> {
    let hex = s.strip_prefix('#').filter(|h| h.len() == 6)?;
    let byte = |i: usize| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok();
    Some(RGBColor(byte(0)?, byte(2)?, byte(4)?))
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
        use Marker::*;
        [Circle, Square, TriangleUp, Diamond, TriangleDown][i % 5]
    }

    /// Draws the marker centred at pixel `at` with radius `r`.
    pub(crate) fn draw<DB: DrawingBackend>(
        self,
        area: &DrawingArea<DB, plotters::coord::Shift>,
        at: (i32, i32),
        r: i32,
        style: ShapeStyle,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let offsets: Vec<(i32, i32)> = match self {
            Marker::Circle => return area.draw(&Circle::new(at, r, style)),
            Marker::Square => vec![
                (1 - r, 1 - r),
                (r - 1, 1 - r),
                (r - 1, r - 1),
                (1 - r, r - 1),
            ],
            Marker::TriangleUp => vec![(0, -r - 1), (r + 1, r), (-r - 1, r)],
            Marker::TriangleDown => vec![(0, r + 1), (r + 1, -r), (-r - 1, -r)],
            Marker::Diamond => vec![(0, -r - 1), (r, 0), (0, r + 1), (-r, 0)],
        };
        let pts = offsets.into_iter().map(|(dx, dy)| (at.0 + dx, at.1 + dy));
        area.draw(&Polygon::new(pts.collect::<Vec<_>>(), style))
    }
}
