//! Legend boxes: size, placement away from the data, drawing.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::frame::{DrawResult, Rect, font, text_width};
use crate::style::Marker;

/// Legend font size (px).
const FS: f64 = 12.0;
/// Row height (px).
const ROW_H: i32 = 18;
/// Width of the line/marker sample (px).
const SAMPLE_W: i32 = 26;
/// Padding inside the box (px).
const PAD: i32 = 7;
/// Distance from the plot frame (px).
const INSET: i32 = 8;

/// Where a legend goes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LegendPosition {
    /// The first corner of the plot area (top right, top left, bottom right, bottom left) where
    /// it covers no data; outside on the right if every corner does.
    #[default]
    Best,
    /// Top-right corner inside the plot area.
    TopRight,
    /// Top-left corner inside the plot area.
    TopLeft,
    /// Bottom-right corner inside the plot area.
    BottomRight,
    /// Bottom-left corner inside the plot area.
    BottomLeft,
    /// Right of the plot area (the plot gets narrower).
    OutsideRight,
    /// No legend.
    Hidden,
}

/// One legend row.
pub(crate) struct Entry {
    pub label: String,
    pub color: RGBColor,
    pub line: bool,
    pub dashed: bool,
    /// Marker shape and whether it is filled.
    pub marker: Option<(Marker, bool)>,
    pub error_bar: bool,
}

/// Pixel size `(width, height)` of the legend box.
pub(crate) fn size(entries: &[Entry]) -> (i32, i32) {
    let text = entries
        .iter()
        .map(|e| text_width(&e.label, FS))
        .max()
        .unwrap_or(0);
    (
        2 * PAD + SAMPLE_W + 6 + text,
        2 * PAD + ROW_H * entries.len() as i32 - 4,
    )
}

/// Top-left corner of the box for an inside position; for [`LegendPosition::Best`] the first
/// corner whose box contains none of the `covered` pixels (`None`: every corner is taken).
pub(crate) fn place(
    pos: LegendPosition,
    (w, h): (i32, i32),
    (l, t, r, b): Rect,
    covered: &[(i32, i32)],
) -> Option<(i32, i32)> {
    let corner = |p| match p {
        LegendPosition::TopLeft => (l + INSET, t + INSET),
        LegendPosition::BottomRight => (r - INSET - w, b - INSET - h),
        LegendPosition::BottomLeft => (l + INSET, b - INSET - h),
        _ => (r - INSET - w, t + INSET),
    };
    if pos != LegendPosition::Best {
        return Some(corner(pos));
    }
    use LegendPosition::*;
    [TopRight, TopLeft, BottomRight, BottomLeft]
        .into_iter()
        .map(corner)
        .find(|&(x, y)| {
            !covered
                .iter()
                .any(|&(px, py)| px >= x - 3 && px <= x + w + 3 && py >= y - 3 && py <= y + h + 3)
        })
}

/// Legend corner and the room to keep right of the plot for it: a [`place`]d corner, or
/// outside on the right (image width `width`) when that is asked for or no corner is free.
pub(crate) fn plan(
    pos: LegendPosition,
    entries: &[Entry],
    rect: Rect,
    covered: &[(i32, i32)],
    width: u32,
) -> (Option<(i32, i32)>, i32) {
    let (w, h) = size(entries);
    match pos {
        _ if entries.is_empty() => (None, 0),
        LegendPosition::OutsideRight => (Some((width as i32 - w - INSET, rect.1)), w + 2 * INSET),
        _ => match place(pos, (w, h), rect, covered) {
            Some(at) => (Some(at), 0),
            None => plan(LegendPosition::OutsideRight, entries, rect, covered, width),
        },
    }
}

/// Pixels every ~4 px from `a` to `b` (both included).
pub(crate) fn samples(a: (i32, i32), b: (i32, i32)) -> impl Iterator<Item = (i32, i32)> {
    let n = (a.0 - b.0).abs().max((a.1 - b.1).abs()) / 4 + 1;
    (0..=n).map(move |k| (a.0 + (b.0 - a.0) * k / n, a.1 + (b.1 - a.1) * k / n))
}

/// Draws the box with its top-left corner at `(x, y)`.
pub(crate) fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    entries: &[Entry],
    (x, y): (i32, i32),
) -> DrawResult<DB> {
    let (w, h) = size(entries);
    root.draw(&Rectangle::new(
        [(x, y), (x + w, y + h)],
        WHITE.mix(0.9).filled(),
    ))?;
    root.draw(&Rectangle::new(
        [(x, y), (x + w, y + h)],
        RGBColor(0xbb, 0xbb, 0xbb).stroke_width(1),
    ))?;
    for (k, e) in entries.iter().enumerate() {
        let cy = y + PAD + ROW_H * k as i32 + ROW_H / 2 - 2;
        let (x0, x1, cx) = (x + PAD, x + PAD + SAMPLE_W, x + PAD + SAMPLE_W / 2);
        let stroke = e.color.stroke_width(2);
        if e.line && e.dashed {
            for (a, b) in [(x0, x0 + 7), (x0 + 10, x0 + 16), (x0 + 19, x1)] {
                root.draw(&PathElement::new(vec![(a, cy), (b, cy)], stroke))?;
            }
        } else if e.line {
            root.draw(&PathElement::new(vec![(x0, cy), (x1, cy)], stroke))?;
        }
        if e.error_bar {
            let s = e.color.stroke_width(1);
            root.draw(&PathElement::new(vec![(cx, cy - 7), (cx, cy + 7)], s))?;
            for dy in [-7, 7] {
                root.draw(&PathElement::new(
                    vec![(cx - 3, cy + dy), (cx + 3, cy + dy)],
                    s,
                ))?;
            }
        }
        match e.marker {
            Some((m, true)) => m.draw(root, (cx, cy), 4, e.color.filled())?,
            Some((_, false)) => root.draw(&Circle::new((cx, cy), 5, e.color.stroke_width(1)))?,
            None => {}
        }
        let style = font(FS).pos(Pos::new(HPos::Left, VPos::Center));
        root.draw(&Text::new(e.label.clone(), (x1 + 6, cy), style))?;
    }
    Ok(())
}
