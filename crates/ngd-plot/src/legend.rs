//! Legend box: sizing, placement inside the plot area, drawing.

use crate::frame::PlotRect;
use crate::style::{Marker, filled, hollow};
use crate::svg::{Anchor, SvgDoc, escape, px, text_width};

/// Where the legend box goes (always inside the plot area).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LegendPosition {
    /// Top-right corner.
    TopRight,
    /// Top-left corner.
    TopLeft,
    /// Bottom-right corner.
    BottomRight,
    /// Bottom-left corner.
    BottomLeft,
    /// Top-right unless another corner covers fewer drawn data points (ties, in order:
    /// top-right, top-left, bottom-right, bottom-left). The default.
    #[default]
    Best,
    /// No legend.
    Hidden,
}

/// Font size of legend text.
const FS: f64 = 12.0;
/// Height of one legend row.
const ROW_H: f64 = 18.0;
/// Width of the line/marker sample.
const SAMPLE_W: f64 = 26.0;
/// Inner padding of the box.
const PAD: f64 = 7.0;
/// Distance between the box and the plot-area border.
const INSET: f64 = 8.0;

/// How a legend row's sample is drawn.
#[derive(Clone, Debug)]
pub(crate) struct LegendEntry {
    pub label: String,
    pub color: String,
    pub line: bool,
    pub dashed: bool,
    /// Marker shape and whether it is filled.
    pub marker: Option<(Marker, bool)>,
    /// Draw a small vertical error bar through the sample.
    pub error_bar: bool,
}

/// Width and height of the legend box.
fn size(entries: &[LegendEntry]) -> (f64, f64) {
    let text = entries
        .iter()
        .map(|e| text_width(&e.label, FS))
        .fold(0.0, f64::max);
    (
        2.0 * PAD + SAMPLE_W + 6.0 + text,
        2.0 * PAD + entries.len() as f64 * ROW_H - 4.0,
    )
}

/// Top-left corner of a box of size `(w, h)` in the given corner.
fn corner(pos: LegendPosition, r: &PlotRect, (w, h): (f64, f64)) -> (f64, f64) {
    let left = matches!(pos, LegendPosition::TopLeft | LegendPosition::BottomLeft);
    let bottom = matches!(
        pos,
        LegendPosition::BottomLeft | LegendPosition::BottomRight
    );
    let x = if left {
        r.left + INSET
    } else {
        r.right - INSET - w
    };
    let y = if bottom {
        r.bottom - INSET - h
    } else {
        r.top + INSET
    };
    (x, y)
}

/// Number of `obstacles` within (a slightly enlarged) box at `origin` of size `(w, h)`.
fn covered(origin: (f64, f64), (w, h): (f64, f64), obstacles: &[(f64, f64)]) -> usize {
    let b = PlotRect {
        left: origin.0 - 3.0,
        top: origin.1 - 3.0,
        right: origin.0 + w + 3.0,
        bottom: origin.1 + h + 3.0,
    };
    obstacles.iter().filter(|p| b.contains(**p, 0.0)).count()
}

/// Top-left corner of the legend box, or `None` when hidden or empty.
fn place(
    pos: LegendPosition,
    r: &PlotRect,
    sz: (f64, f64),
    obstacles: &[(f64, f64)],
) -> Option<(f64, f64)> {
    use LegendPosition::*;
    match pos {
        Hidden => None,
        Best => [TopRight, TopLeft, BottomRight, BottomLeft]
            .into_iter()
            .map(|p| corner(p, r, sz))
            .min_by_key(|o| covered(*o, sz, obstacles)),
        p => Some(corner(p, r, sz)),
    }
}

/// Draws the legend (one `<g class="legend-entry">` per entry) at `pos`, avoiding `obstacles`
/// (pixel points of drawn data) when `pos` is [`LegendPosition::Best`].
pub(crate) fn draw(
    doc: &mut SvgDoc,
    entries: &[LegendEntry],
    pos: LegendPosition,
    r: &PlotRect,
    obstacles: &[(f64, f64)],
) {
    if entries.is_empty() {
        return;
    }
    let sz = size(entries);
    let Some((x, y)) = place(pos, r, sz, obstacles) else {
        return;
    };
    doc.open_group("legend");
    doc.raw(&format!(
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"3\" fill=\"white\" fill-opacity=\"0.88\" stroke=\"#bbbbbb\" stroke-width=\"1\"/>",
        px(x), px(y), px(sz.0), px(sz.1)
    ));
    for (i, e) in entries.iter().enumerate() {
        draw_entry(doc, e, (x + PAD, y + PAD + i as f64 * ROW_H + 7.0));
    }
    doc.close_group();
}

/// One legend row; `(x, cy)` is the left end of the sample at its vertical centre.
fn draw_entry(doc: &mut SvgDoc, e: &LegendEntry, (x, cy): (f64, f64)) {
    doc.open_group("legend-entry");
    let mid = x + SAMPLE_W / 2.0;
    if e.line {
        let dash = if e.dashed {
            " stroke-dasharray=\"6 4\""
        } else {
            ""
        };
        doc.raw(&format!(
            "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"2\"{dash}/>",
            px(x), px(cy), px(x + SAMPLE_W), px(cy), escape(&e.color)
        ));
    }
    if e.error_bar {
        doc.line((mid, cy - 6.0), (mid, cy + 6.0), &e.color, 1.3);
        doc.line((mid - 3.0, cy - 6.0), (mid + 3.0, cy - 6.0), &e.color, 1.3);
        doc.line((mid - 3.0, cy + 6.0), (mid + 3.0, cy + 6.0), &e.color, 1.3);
    }
    if let Some((m, is_filled)) = e.marker {
        let paint = if is_filled {
            filled(&e.color)
        } else {
            hollow(&e.color)
        };
        doc.raw(&m.svg((mid, cy), if is_filled { 3.5 } else { 4.5 }, &paint));
    }
    doc.text(
        (x + SAMPLE_W + 6.0, cy + FS * 0.35),
        FS,
        Anchor::Start,
        0.0,
        &e.label,
    );
    doc.close_group();
}
