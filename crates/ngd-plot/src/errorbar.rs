//! Categorical "mean ± std per method" charts, possibly several panels side by side.

use std::path::Path;

use crate::axis::{Axis, Scale, Tick, linear_ticks, resolve_range};
use crate::frame::{self, LABEL_FS, PlotRect, TICK_FS, TICK_LEN, TITLE_FS, clip_segment};
use crate::legend::{self, LegendEntry, LegendPosition};
use crate::style::{Marker, filled, hollow, palette_color};
use crate::svg::{Anchor, SvgDoc, text_width};

/// Angle (degrees) of category labels that do not fit horizontally.
const ROTATE_DEG: f64 = 35.0;
/// Colour of the secondary ("extra") marker and of legend samples.
const EXTRA_COLOR: &str = "#333333";

/// One category of an [`ErrorBarPanel`]: a mean with a ± std bar, plus an optional second value.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorBarPoint {
    /// Category name printed under the axis (e.g. the method).
    pub category: String,
    /// Central value, drawn as a filled marker.
    pub mean: f64,
    /// Half-length of the error bar (non-finite or ≤ 0: no bar).
    pub std: f64,
    /// Optional second value (e.g. kernel regression), drawn as an open circle.
    pub extra: Option<f64>,
}

impl ErrorBarPoint {
    /// A point without an extra value.
    pub fn new(category: impl Into<String>, mean: f64, std: f64) -> Self {
        ErrorBarPoint {
            category: category.into(),
            mean,
            std,
            extra: None,
        }
    }

    /// Sets the extra value.
    pub fn with_extra(mut self, extra: f64) -> Self {
        self.extra = Some(extra);
        self
    }

    /// Values that must be visible: mean ± std and the extra (non-finite ones dropped later).
    fn values(&self) -> Vec<f64> {
        let mut v = vec![self.mean];
        if self.std.is_finite() && self.std > 0.0 {
            v.extend([self.mean - self.std, self.mean + self.std]);
        }
        v.extend(self.extra);
        v
    }
}

/// One panel: categories along x, a linear y axis.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorBarPanel {
    /// Panel title (empty: none).
    pub title: String,
    /// Label of the y axis (empty: none).
    pub y_label: String,
    /// Categories, left to right.
    pub points: Vec<ErrorBarPoint>,
    /// Fixed y range; `None` (or an invalid range) means automatic.
    pub y_range: Option<(f64, f64)>,
}

impl ErrorBarPanel {
    /// An empty panel with an automatic y range.
    pub fn new(title: impl Into<String>, y_label: impl Into<String>) -> Self {
        ErrorBarPanel {
            title: title.into(),
            y_label: y_label.into(),
            points: Vec::new(),
            y_range: None,
        }
    }

    /// Builder-style: appends a point.
    pub fn with_point(mut self, p: ErrorBarPoint) -> Self {
        self.points.push(p);
        self
    }

    /// The y range used (automatic or the override).
    pub fn range(&self) -> (f64, f64) {
        resolve_range(
            Scale::Linear,
            self.y_range,
            self.points.iter().flat_map(|p| p.values()),
        )
    }
}

/// Panels of categorical mean ± std charts side by side, sharing one legend.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorBarChart {
    /// Panels, left to right (each gets `width / panels.len()`).
    pub panels: Vec<ErrorBarPanel>,
    /// Legend text of the mean ± std marker.
    pub mean_label: String,
    /// Legend text of the open-circle `extra` marker (shown only if some point has one).
    pub extra_label: String,
    /// Legend position inside the last panel (default: the least crowded corner).
    pub legend: LegendPosition,
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
}

/// Geometry of one panel.
struct PanelLayout {
    rect: PlotRect,
    y: Axis,
    ticks: Vec<Tick>,
    rotate: bool,
    y_label_x: f64,
}

impl ErrorBarChart {
    /// A chart of the given panels, 360 px wide per panel and 380 px high.
    pub fn new(panels: Vec<ErrorBarPanel>) -> Self {
        let width = 360 * panels.len().max(1) as u32;
        ErrorBarChart {
            panels,
            mean_label: "mean ± std".to_string(),
            extra_label: "extra".to_string(),
            legend: LegendPosition::Best,
            width,
            height: 380,
        }
    }

    /// Renders the chart as a standalone SVG document.
    pub fn to_svg(&self) -> String {
        let mut doc = SvgDoc::new(self.width, self.height);
        let layouts = self.layouts();
        let mut last_obstacles = Vec::new();
        for (p, l) in self.panels.iter().zip(&layouts) {
            last_obstacles = draw_panel(&mut doc, p, l);
        }
        if let Some(l) = layouts.last() {
            legend::draw(
                &mut doc,
                &self.legend_entries(),
                self.legend,
                &l.rect,
                &last_obstacles,
            );
        }
        doc.finish()
    }

    /// Writes [`ErrorBarChart::to_svg`] to `path`, creating parent directories.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        crate::write_file(path, &self.to_svg())
    }

    /// Legend rows: the mean ± std marker, and the extra marker if any point has one.
    fn legend_entries(&self) -> Vec<LegendEntry> {
        let entry = |label: &str, marker, error_bar| LegendEntry {
            label: label.to_string(),
            color: EXTRA_COLOR.to_string(),
            line: false,
            dashed: false,
            marker: Some(marker),
            error_bar,
        };
        let mut out = vec![entry(&self.mean_label, (Marker::Circle, true), true)];
        if self
            .panels
            .iter()
            .flat_map(|p| &p.points)
            .any(|p| p.extra.is_some_and(f64::is_finite))
        {
            out.push(entry(&self.extra_label, (Marker::Circle, false), false));
        }
        out
    }

    /// Panel geometry, with a common top and bottom edge across panels.
    fn layouts(&self) -> Vec<PanelLayout> {
        let n = self.panels.len().max(1) as f64;
        let pw = self.width as f64 / n;
        let top = if self.panels.iter().any(|p| !p.title.is_empty()) {
            40.0
        } else {
            15.0
        };
        let mut ls: Vec<PanelLayout> = self
            .panels
            .iter()
            .enumerate()
            .map(|(k, p)| panel_layout(p, k as f64 * pw, pw, top))
            .collect();
        let label_h = self
            .panels
            .iter()
            .zip(&ls)
            .map(|(p, l)| category_label_height(p, l))
            .fold(0.0, f64::max);
        let bottom = (self.height as f64 - TICK_LEN - 4.0 - label_h - 12.0).max(top + 10.0);
        for l in &mut ls {
            l.rect.bottom = bottom;
            l.y = Axis::new(Scale::Linear, (l.y.lo, l.y.hi), (bottom, top));
        }
        ls
    }
}

/// Horizontal geometry of one panel starting at `x0` with width `pw` (bottom fixed later).
fn panel_layout(p: &ErrorBarPanel, x0: f64, pw: f64, top: f64) -> PanelLayout {
    let yr = p.range();
    let ticks = linear_ticks(yr.0, yr.1);
    let tick_w = ticks
        .iter()
        .map(|t| text_width(&t.label, TICK_FS))
        .fold(0.0, f64::max);
    let y_label_x = x0 + 10.0 + LABEL_FS * 0.85;
    let label_w = if p.y_label.is_empty() {
        0.0
    } else {
        LABEL_FS + 10.0
    };
    let left = x0 + 10.0 + label_w + tick_w + 4.0 + TICK_LEN;
    let right = (x0 + pw - 14.0).max(left + 10.0);
    let rect = PlotRect {
        left,
        top,
        right,
        bottom: top + 10.0,
    };
    let widest = p
        .points
        .iter()
        .map(|q| text_width(&q.category, TICK_FS))
        .fold(0.0, f64::max);
    let rotate = widest > 0.92 * slot_width(&rect, p.points.len());
    PanelLayout {
        rect,
        y: Axis::new(Scale::Linear, yr, (rect.bottom, top)),
        ticks,
        rotate,
        y_label_x,
    }
}

/// Width of one category slot.
fn slot_width(r: &PlotRect, n: usize) -> f64 {
    r.width() / n.max(1) as f64
}

/// Pixel x of the centre of category `i`.
fn category_x(r: &PlotRect, n: usize, i: usize) -> f64 {
    r.left + (i as f64 + 0.5) * slot_width(r, n)
}

/// Vertical space taken by the category labels of a panel.
fn category_label_height(p: &ErrorBarPanel, l: &PanelLayout) -> f64 {
    if !l.rotate {
        return TICK_FS;
    }
    let widest = p
        .points
        .iter()
        .map(|q| text_width(&q.category, TICK_FS))
        .fold(0.0, f64::max);
    let a = ROTATE_DEG.to_radians();
    widest * a.sin() + TICK_FS * a.cos()
}

/// Draws a whole panel; returns the pixel points covered by data (for legend placement).
fn draw_panel(doc: &mut SvgDoc, p: &ErrorBarPanel, l: &PanelLayout) -> Vec<(f64, f64)> {
    doc.open_group("panel");
    frame::draw_grid(doc, &l.rect, None, (&l.y, &l.ticks));
    let mut covered = Vec::new();
    for (i, q) in p.points.iter().enumerate() {
        let x = category_x(&l.rect, p.points.len(), i);
        covered.extend(draw_point(doc, q, x, &l.y, &l.rect, palette_color(i)));
    }
    frame::draw_frame(doc, &l.rect);
    frame::draw_y_ticks(doc, &l.rect, &l.y, &l.ticks, &[]);
    draw_categories(doc, p, l);
    frame::draw_y_label(doc, &l.rect, l.y_label_x, &p.y_label);
    if !p.title.is_empty() {
        doc.bold_text(
            ((l.rect.left + l.rect.right) / 2.0, 24.0),
            TITLE_FS,
            &p.title,
        );
    }
    doc.close_group();
    covered
}

/// Category ticks and labels under the panel.
fn draw_categories(doc: &mut SvgDoc, p: &ErrorBarPanel, l: &PanelLayout) {
    let r = &l.rect;
    doc.open_group("x-ticks");
    for (i, q) in p.points.iter().enumerate() {
        let x = category_x(r, p.points.len(), i);
        doc.line((x, r.bottom), (x, r.bottom + TICK_LEN), "#222222", 1.0);
        let y = r.bottom + TICK_LEN + 3.0 + TICK_FS * 0.85;
        if l.rotate {
            doc.text((x + 4.0, y), TICK_FS, Anchor::End, -ROTATE_DEG, &q.category);
        } else {
            doc.text((x, y), TICK_FS, Anchor::Middle, 0.0, &q.category);
        }
    }
    doc.close_group();
}

/// Error bar, mean marker and extra marker of one category at pixel column `x`.
fn draw_point(
    doc: &mut SvgDoc,
    q: &ErrorBarPoint,
    x: f64,
    y: &Axis,
    r: &PlotRect,
    color: &str,
) -> Vec<(f64, f64)> {
    let mut covered = Vec::new();
    doc.open_group("errorbar-point");
    if q.std.is_finite() && q.std > 0.0 {
        covered.extend(draw_bar(
            doc,
            x,
            (y.map(q.mean - q.std), y.map(q.mean + q.std)),
            r,
            color,
        ));
    }
    let mean_px = y
        .map(q.mean)
        .map(|py| (x, py))
        .filter(|p| r.contains(*p, 0.5));
    if let Some(p) = mean_px {
        doc.raw(&Marker::Circle.svg(p, 4.0, &filled(color)));
        covered.push(p);
    }
    let extra_px = q
        .extra
        .and_then(|e| y.map(e))
        .map(|py| (x, py))
        .filter(|p| r.contains(*p, 0.5));
    if let Some(p) = extra_px {
        doc.raw(&Marker::Circle.svg(p, 5.5, &hollow(EXTRA_COLOR)));
        covered.push(p);
    }
    doc.close_group();
    covered
}

/// Vertical bar between the two pixel ends (clipped), with caps at visible ends.
fn draw_bar(
    doc: &mut SvgDoc,
    x: f64,
    ends: (Option<f64>, Option<f64>),
    r: &PlotRect,
    color: &str,
) -> Vec<(f64, f64)> {
    let (Some(lo), Some(hi)) = ends else {
        return Vec::new();
    };
    let Some((a, b)) = clip_segment((x, lo), (x, hi), r) else {
        return Vec::new();
    };
    doc.line(a, b, color, 1.5);
    for end in [lo, hi] {
        if r.contains((x, end), 0.5) {
            doc.line((x - 5.0, end), (x + 5.0, end), color, 1.5);
        }
    }
    let n = ((a.1 - b.1).abs() / 5.0).ceil().max(1.0) as usize;
    (0..=n)
        .map(|k| (x, a.1 + (b.1 - a.1) * k as f64 / n as f64))
        .collect()
}
