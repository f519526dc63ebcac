//! Categorical "mean ± std per method" charts, possibly several panels side by side.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::axis::{Axis, Scale};
use crate::frame::{self, Chart, DrawResult, INK, TICK_FS, TICK_LEN, font, text_width};
use crate::legend::{self, Entry, LegendPosition};
use crate::style::{Marker, palette_color, parse_color};

/// Colour of the secondary ("extra") marker and of the legend samples.
const EXTRA_COLOR: RGBColor = RGBColor(0x33, 0x33, 0x33);

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

    /// The error bar's ends, if it has one.
    fn bar(&self) -> Option<(f64, f64)> {
        (self.std.is_finite() && self.std > 0.0)
            .then_some((self.mean - self.std, self.mean + self.std))
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
        let values = self.points.iter().flat_map(|p| {
            let bar = p.bar().map(|(a, b)| [a, b]).into_iter().flatten();
            std::iter::once(p.mean).chain(bar).chain(p.extra)
        });
        Scale::Linear.range(self.y_range, values)
    }

    /// Category labels broken into lines that fit a slot of `slot` pixels.
    fn label_lines(&self, slot: i32) -> Vec<Vec<String>> {
        let fits = |s: &str| text_width(s, TICK_FS) as f64 <= 0.92 * f64::from(slot);
        let wrap = |name: &str| {
            let mut lines: Vec<String> = Vec::new();
            for word in name.split_whitespace() {
                match lines.last_mut() {
                    Some(l) if fits(&format!("{l} {word}")) => *l = format!("{l} {word}"),
                    _ => lines.push(word.to_string()),
                }
            }
            lines
        };
        self.points.iter().map(|p| wrap(&p.category)).collect()
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
    /// Legend position, in the last panel (default: a corner free of data, else outside).
    pub legend: LegendPosition,
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
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
        let mut buf = String::new();
        let (legend_at, extra) = self.plan();
        let root = SVGBackend::with_string(&mut buf, (self.width, self.height)).into_drawing_area();
        self.draw(&root, legend_at, extra)
            .expect("drawing SVG into a String cannot fail");
        drop(root);
        buf
    }

    /// Writes [`ErrorBarChart::to_svg`] to `path`, creating parent directories.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        crate::write_file(path, &self.to_svg())
    }

    /// Legend rows: the mean ± std marker, and the extra marker if any point has one.
    fn entries(&self) -> Vec<Entry> {
        let entry = |label: &str, filled, error_bar| Entry {
            label: label.to_string(),
            color: EXTRA_COLOR,
            line: false,
            dashed: false,
            marker: Some((Marker::Circle, filled)),
            error_bar,
        };
        let has_extra = self
            .panels
            .iter()
            .flat_map(|p| &p.points)
            .any(|p| p.extra.is_some_and(f64::is_finite));
        match self.legend {
            LegendPosition::Hidden => Vec::new(),
            _ if has_extra => vec![
                entry(&self.mean_label, true, true),
                entry(&self.extra_label, false, false),
            ],
            _ => vec![entry(&self.mean_label, true, true)],
        }
    }

    /// Panel areas, left to right, leaving `extra_right` pixels free on the right.
    fn areas<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        extra_right: i32,
    ) -> Vec<DrawingArea<DB, Shift>> {
        let main = root.margin(0, 0, 0, extra_right);
        main.split_evenly((1, self.panels.len().max(1)))
    }

    /// The chart of panel `p` on `area`, with `lines` rows of category labels.
    fn chart<'a, DB: DrawingBackend>(
        &self,
        p: &ErrorBarPanel,
        area: &'a DrawingArea<DB, Shift>,
        lines: usize,
    ) -> Chart<'a, DB> {
        let y = Axis::new(Scale::Linear, p.range());
        ChartBuilder::on(area)
            .margin_top(frame::top_margin(
                self.panels.iter().any(|p| !p.title.is_empty()),
            ))
            .margin_left(8)
            .margin_right(14)
            .margin_bottom(6)
            .x_label_area_size(frame::x_area_height(lines, ""))
            .y_label_area_size(frame::y_area_width(&y, &p.y_label))
            .build_cartesian_2d(Axis::bare(0.0, p.points.len().max(1) as f64), y)
            .expect("the chart fits the image")
    }

    /// Category label lines of every panel and their common row count.
    fn labels(&self, extra_right: i32) -> (Vec<Vec<Vec<String>>>, usize) {
        let pw = (self.width as i32 - extra_right) / self.panels.len().max(1) as i32;
        let lines: Vec<_> = self
            .panels
            .iter()
            .map(|p| p.label_lines((pw - 90) / p.points.len().max(1) as i32))
            .collect();
        let rows = lines
            .iter()
            .flatten()
            .map(Vec::len)
            .max()
            .unwrap_or(1)
            .max(1);
        (lines, rows)
    }

    /// Legend corner (in the last panel if one is free) and the room kept right of the panels.
    fn plan(&self) -> (Option<(i32, i32)>, i32) {
        let Some(p) = self.panels.last() else {
            return (None, 0);
        };
        let mut scratch = String::new();
        let root =
            SVGBackend::with_string(&mut scratch, (self.width, self.height)).into_drawing_area();
        let areas = self.areas(&root, 0);
        let chart = self.chart(p, &areas[areas.len() - 1], self.labels(0).1);
        let mut covered = Vec::new();
        for (i, q) in p.points.iter().enumerate() {
            let (lo, hi) = q.bar().unwrap_or((q.mean, q.mean));
            let ends = [lo, hi, q.mean].into_iter().chain(q.extra);
            let (a, b) = ends
                .filter(|v| v.is_finite())
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                    (a.min(v), b.max(v))
                });
            let px = |v: f64| chart.backend_coord(&(i as f64 + 0.5, v));
            covered.extend(legend::samples(px(a), px(b)));
        }
        let rect = frame::plot_rect(&chart);
        legend::plan(self.legend, &self.entries(), rect, &covered, self.width)
    }

    /// Draws every panel and the legend.
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        legend_at: Option<(i32, i32)>,
        extra: i32,
    ) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let (lines, rows) = self.labels(extra);
        for ((p, area), lines) in self.panels.iter().zip(self.areas(root, extra)).zip(lines) {
            let mut chart = self.chart(p, &area, rows);
            let (y, x) = (Axis::new(Scale::Linear, p.range()), Axis::bare(0.0, 1.0));
            frame::draw_mesh(&mut chart, (&x, &y), ("", &p.y_label))?;
            let rect = frame::plot_rect(&chart);
            for (i, (q, label)) in p.points.iter().zip(lines).enumerate() {
                let color = parse_color(palette_color(i)).expect("palette entries are #RRGGBB");
                draw_point(&chart, root, q, i as f64 + 0.5, &y, color)?;
                let (cx, _) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
                root.draw(&PathElement::new(
                    vec![(cx, rect.3), (cx, rect.3 + TICK_LEN)],
                    INK,
                ))?;
                for (k, l) in label.iter().enumerate() {
                    let at = (cx, rect.3 + 2 * TICK_LEN + k as i32 * (TICK_FS as i32 + 3));
                    root.draw(&Text::new(
                        l.clone(),
                        at,
                        font(TICK_FS).pos(Pos::new(HPos::Center, VPos::Top)),
                    ))?;
                }
            }
            frame::draw_frame(root, rect)?;
            frame::draw_title(root, &p.title, (rect.0 + rect.2) / 2)?;
        }
        if let Some(at) = legend_at {
            legend::draw(root, &self.entries(), at)?;
        }
        Ok(())
    }
}

/// Error bar (clipped, capped where its ends are visible), mean and extra marker at column `x`.
fn draw_point<DB: DrawingBackend>(
    chart: &Chart<'_, DB>,
    root: &DrawingArea<DB, Shift>,
    q: &ErrorBarPoint,
    x: f64,
    y: &Axis,
    color: RGBColor,
) -> DrawResult<DB> {
    let px = |v: f64| chart.backend_coord(&(x, v));
    if let Some((lo, hi)) = q.bar() {
        let (t0, t1) = y.clip((x, lo), (x, hi), 1, (0.0, 1.0));
        if t0 <= t1 {
            let (a, b) = (px(lo + t0 * (hi - lo)), px(lo + t1 * (hi - lo)));
            root.draw(&PathElement::new(vec![a, b], color.stroke_width(2)))?;
        }
        for end in [lo, hi].into_iter().filter(|v| y.contains(*v)) {
            let (cx, cy) = px(end);
            root.draw(&PathElement::new(
                vec![(cx - 5, cy), (cx + 5, cy)],
                color.stroke_width(2),
            ))?;
        }
    }
    if y.contains(q.mean) {
        Marker::Circle.draw(root, px(q.mean), 4, color.filled())?;
    }
    if let Some(e) = q.extra.filter(|e| y.contains(*e)) {
        root.draw(&Circle::new(px(e), 6, EXTRA_COLOR.stroke_width(2)))?;
    }
    Ok(())
}
