//! Shared plot-area geometry and axis drawing (frame, grid, ticks, tick labels).

use crate::axis::{Axis, Tick};
use crate::svg::{Anchor, SvgDoc};

/// Tick mark length in pixels (drawn outwards).
pub(crate) const TICK_LEN: f64 = 5.0;
/// Tick label font size.
pub(crate) const TICK_FS: f64 = 12.0;
/// Axis label font size.
pub(crate) const LABEL_FS: f64 = 14.0;
/// Title font size.
pub(crate) const TITLE_FS: f64 = 15.0;
/// Colour of grid lines.
const GRID: &str = "#e3e3e3";
/// Colour of the frame and ticks.
const INK: &str = "#222222";

/// The rectangle, in pixels, in which data are drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlotRect {
    /// Left edge.
    pub left: f64,
    /// Top edge.
    pub top: f64,
    /// Right edge.
    pub right: f64,
    /// Bottom edge.
    pub bottom: f64,
}

impl PlotRect {
    /// Width in pixels.
    pub fn width(&self) -> f64 {
        self.right - self.left
    }

    /// Height in pixels.
    pub fn height(&self) -> f64 {
        self.bottom - self.top
    }

    /// Whether `(x, y)` is inside, allowing `tol` pixels of slack.
    pub fn contains(&self, (x, y): (f64, f64), tol: f64) -> bool {
        x >= self.left - tol
            && x <= self.right + tol
            && y >= self.top - tol
            && y <= self.bottom + tol
    }
}

/// Light horizontal grid lines at the y ticks and vertical ones at the x ticks (if any).
pub(crate) fn draw_grid(
    doc: &mut SvgDoc,
    r: &PlotRect,
    x: Option<(&Axis, &[Tick])>,
    y: (&Axis, &[Tick]),
) {
    doc.open_group("grid");
    if let Some((ax, ticks)) = x {
        for p in ticks.iter().filter_map(|t| ax.map(t.value)) {
            doc.line((p, r.top), (p, r.bottom), GRID, 1.0);
        }
    }
    for p in y.1.iter().filter_map(|t| y.0.map(t.value)) {
        doc.line((r.left, p), (r.right, p), GRID, 1.0);
    }
    doc.close_group();
}

/// The plot-area border.
pub(crate) fn draw_frame(doc: &mut SvgDoc, r: &PlotRect) {
    doc.rect((r.left, r.top, r.width(), r.height()), "none", INK);
}

/// Ticks and labels along the bottom edge.
pub(crate) fn draw_x_ticks(
    doc: &mut SvgDoc,
    r: &PlotRect,
    ax: &Axis,
    ticks: &[Tick],
    minor: &[f64],
) {
    doc.open_group("x-ticks");
    for p in minor.iter().filter_map(|v| ax.map(*v)) {
        doc.line((p, r.bottom), (p, r.bottom + TICK_LEN * 0.6), INK, 0.8);
    }
    for t in ticks {
        if let Some(p) = ax.map(t.value) {
            doc.line((p, r.bottom), (p, r.bottom + TICK_LEN), INK, 1.0);
            doc.text(
                (p, r.bottom + TICK_LEN + 3.0 + TICK_FS * 0.85),
                TICK_FS,
                Anchor::Middle,
                0.0,
                &t.label,
            );
        }
    }
    doc.close_group();
}

/// Ticks and labels along the left edge.
pub(crate) fn draw_y_ticks(
    doc: &mut SvgDoc,
    r: &PlotRect,
    ax: &Axis,
    ticks: &[Tick],
    minor: &[f64],
) {
    doc.open_group("y-ticks");
    for p in minor.iter().filter_map(|v| ax.map(*v)) {
        doc.line((r.left - TICK_LEN * 0.6, p), (r.left, p), INK, 0.8);
    }
    for t in ticks {
        if let Some(p) = ax.map(t.value) {
            doc.line((r.left - TICK_LEN, p), (r.left, p), INK, 1.0);
            doc.text(
                (r.left - TICK_LEN - 4.0, p + TICK_FS * 0.35),
                TICK_FS,
                Anchor::End,
                0.0,
                &t.label,
            );
        }
    }
    doc.close_group();
}

/// Rotated y-axis label, vertically centred on the plot area, its baseline at `x`.
pub(crate) fn draw_y_label(doc: &mut SvgDoc, r: &PlotRect, x: f64, label: &str) {
    if !label.is_empty() {
        doc.text(
            (x, (r.top + r.bottom) / 2.0),
            LABEL_FS,
            Anchor::Middle,
            -90.0,
            label,
        );
    }
}

/// Liang–Barsky clipping of the segment `p → q` to the rectangle; `None` if fully outside.
pub fn clip_segment(
    p: (f64, f64),
    q: (f64, f64),
    r: &PlotRect,
) -> Option<((f64, f64), (f64, f64))> {
    let (dx, dy) = (q.0 - p.0, q.1 - p.1);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    let edges = [
        (-dx, p.0 - r.left),
        (dx, r.right - p.0),
        (-dy, p.1 - r.top),
        (dy, r.bottom - p.1),
    ];
    for (pk, qk) in edges {
        if pk == 0.0 {
            if qk < 0.0 {
                return None;
            }
            continue;
        }
        let t = qk / pk;
        if pk < 0.0 {
            t0 = t0.max(t);
        } else {
            t1 = t1.min(t);
        }
        if t0 > t1 {
            return None;
        }
    }
    let at = |t: f64| (p.0 + t * dx, p.1 + t * dy);
    Some((at(t0), at(t1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: PlotRect = PlotRect {
        left: 0.0,
        top: 0.0,
        right: 10.0,
        bottom: 10.0,
    };

    #[test]
    fn clip_inside_unchanged() {
        assert_eq!(
            clip_segment((1.0, 1.0), (9.0, 9.0), &R),
            Some(((1.0, 1.0), (9.0, 9.0)))
        );
    }

    #[test]
    fn clip_crossing_is_cut_at_edge() {
        let (a, b) = clip_segment((5.0, 5.0), (15.0, 5.0), &R).unwrap();
        assert_eq!(a, (5.0, 5.0));
        assert_eq!(b, (10.0, 5.0));
    }

    #[test]
    fn clip_outside_is_none() {
        assert_eq!(clip_segment((11.0, 1.0), (15.0, 9.0), &R), None);
    }
}
