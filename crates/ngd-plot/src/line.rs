//! Line charts: several (x, y) series on linear or log axes.

use std::fmt::Write as _;
use std::path::Path;

use crate::axis::{Axis, Scale, Tick, resolve_range};
use crate::frame::{self, LABEL_FS, PlotRect, TICK_FS, TICK_LEN, TITLE_FS, clip_segment};
use crate::legend::{self, LegendEntry, LegendPosition};
use crate::style::{Marker, Style, filled, palette_color};
use crate::svg::{Anchor, SvgDoc, escape, px, text_width};

/// One data series of a [`LineChart`].
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// Data points `(x, y)`, drawn in order.
    pub points: Vec<(f64, f64)>,
    /// Line/marker style.
    pub style: Style,
    /// SVG colour (e.g. `"#0072B2"`); `None` picks the palette colour of the series index.
    pub color: Option<String>,
}

impl Series {
    /// A series with the palette colour of its index.
    pub fn new(label: impl Into<String>, points: Vec<(f64, f64)>, style: Style) -> Self {
        Series {
            label: label.into(),
            points,
            style,
            color: None,
        }
    }

    /// Sets an explicit colour.
    pub fn with_color(mut self, color: impl Into<String>) -> Self {
        self.color = Some(color.into());
        self
    }
}

/// A chart of one or more series against common x and y axes.
///
/// Points the axes cannot show (non-finite values, non-positive values on a log axis) are
/// skipped and break the line; parts outside the axis ranges are clipped at the plot border.
#[derive(Clone, Debug, PartialEq)]
pub struct LineChart {
    /// Title above the plot (empty: none).
    pub title: String,
    /// Label under the x axis (empty: none).
    pub x_label: String,
    /// Label left of the y axis (empty: none).
    pub y_label: String,
    /// Scale of the x axis.
    pub x_scale: Scale,
    /// Scale of the y axis.
    pub y_scale: Scale,
    /// Fixed x range; `None` (or a range invalid for the scale) means automatic.
    pub x_range: Option<(f64, f64)>,
    /// Fixed y range; `None` (or a range invalid for the scale) means automatic.
    pub y_range: Option<(f64, f64)>,
    /// The data.
    pub series: Vec<Series>,
    /// Where the legend goes (default [`LegendPosition::Best`]: top-right inside the plot area
    /// unless that covers more data than another corner).
    pub legend: LegendPosition,
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
}

/// Geometry of a rendered line chart.
struct Layout {
    rect: PlotRect,
    x: Axis,
    y: Axis,
    x_ticks: Vec<Tick>,
    y_ticks: Vec<Tick>,
}

impl LineChart {
    /// An empty 640×420 chart with linear axes and automatic ranges.
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Self {
        LineChart {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            x_scale: Scale::Linear,
            y_scale: Scale::Linear,
            x_range: None,
            y_range: None,
            series: Vec::new(),
            legend: LegendPosition::Best,
            width: 640,
            height: 420,
        }
    }

    /// Builder-style: appends a series.
    pub fn with_series(mut self, series: Series) -> Self {
        self.series.push(series);
        self
    }

    /// Builder-style: sets both axis scales.
    pub fn with_scales(mut self, x: Scale, y: Scale) -> Self {
        self.x_scale = x;
        self.y_scale = y;
        self
    }

    /// The x and y data → pixel mappings used by [`LineChart::to_svg`].
    pub fn axes(&self) -> (Axis, Axis) {
        let l = self.layout();
        (l.x, l.y)
    }

    /// The x and y data ranges used (automatic or the overrides).
    pub fn ranges(&self) -> ((f64, f64), (f64, f64)) {
        let xs = self.series.iter().flat_map(|s| self.shown(s).map(|p| p.0));
        let ys = self.series.iter().flat_map(|s| self.shown(s).map(|p| p.1));
        (
            resolve_range(self.x_scale, self.x_range, xs),
            resolve_range(self.y_scale, self.y_range, ys),
        )
    }

    /// Points of `s` whose both coordinates the scales can show (the others are skipped).
    fn shown<'a>(&'a self, s: &'a Series) -> impl Iterator<Item = &'a (f64, f64)> + 'a {
        s.points.iter().filter(|(x, y)| {
            self.x_scale.forward(*x).is_some() && self.y_scale.forward(*y).is_some()
        })
    }

    /// Plot-area rectangle and axes.
    fn layout(&self) -> Layout {
        let (xr, yr) = self.ranges();
        let (w, h) = (self.width as f64, self.height as f64);
        let probe_x = Axis::new(self.x_scale, xr, (0.0, 1.0));
        let probe_y = Axis::new(self.y_scale, yr, (0.0, 1.0));
        let (x_ticks, y_ticks) = (probe_x.ticks(), probe_y.ticks());
        let y_tick_w = y_ticks
            .iter()
            .map(|t| text_width(&t.label, TICK_FS))
            .fold(0.0, f64::max);
        let last_x_w = x_ticks
            .last()
            .map_or(0.0, |t| text_width(&t.label, TICK_FS));
        let left =
            12.0 + if self.y_label.is_empty() {
                0.0
            } else {
                LABEL_FS + 10.0
            } + y_tick_w
                + 4.0
                + TICK_LEN;
        let top = if self.title.is_empty() { 15.0 } else { 40.0 };
        let bottom_margin = TICK_LEN
            + 4.0
            + TICK_FS
            + if self.x_label.is_empty() {
                0.0
            } else {
                LABEL_FS + 12.0
            }
            + 12.0;
        let right = w - (last_x_w / 2.0 + 6.0).max(20.0);
        let rect = PlotRect {
            left,
            top,
            right: right.max(left + 10.0),
            bottom: (h - bottom_margin).max(top + 10.0),
        };
        let x = Axis::new(self.x_scale, xr, (rect.left, rect.right));
        let y = Axis::new(self.y_scale, yr, (rect.bottom, rect.top));
        Layout {
            rect,
            x,
            y,
            x_ticks,
            y_ticks,
        }
    }

    /// Renders the chart as a standalone SVG document.
    pub fn to_svg(&self) -> String {
        let l = self.layout();
        let mut doc = SvgDoc::new(self.width, self.height);
        frame::draw_grid(
            &mut doc,
            &l.rect,
            Some((&l.x, &l.x_ticks)),
            (&l.y, &l.y_ticks),
        );
        let mut obstacles = Vec::new();
        for (i, s) in self.series.iter().enumerate() {
            obstacles.extend(self.draw_series(&mut doc, &l, i, s));
        }
        frame::draw_frame(&mut doc, &l.rect);
        frame::draw_x_ticks(&mut doc, &l.rect, &l.x, &l.x_ticks, &l.x.minor_ticks());
        frame::draw_y_ticks(&mut doc, &l.rect, &l.y, &l.y_ticks, &l.y.minor_ticks());
        self.draw_labels(&mut doc, &l.rect);
        legend::draw(
            &mut doc,
            &self.legend_entries(),
            self.legend,
            &l.rect,
            &obstacles,
        );
        doc.finish()
    }

    /// Writes [`LineChart::to_svg`] to `path`, creating parent directories.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        crate::write_file(path, &self.to_svg())
    }

    /// Title and axis labels.
    fn draw_labels(&self, doc: &mut SvgDoc, r: &PlotRect) {
        let cx = (r.left + r.right) / 2.0;
        if !self.title.is_empty() {
            doc.bold_text((cx, 24.0), TITLE_FS, &self.title);
        }
        if !self.x_label.is_empty() {
            let y = r.bottom + TICK_LEN + 4.0 + TICK_FS + 10.0 + LABEL_FS * 0.85;
            doc.text((cx, y), LABEL_FS, Anchor::Middle, 0.0, &self.x_label);
        }
        frame::draw_y_label(doc, r, 12.0 + LABEL_FS * 0.85, &self.y_label);
    }

    /// Colour of the `i`-th series.
    fn color(&self, i: usize) -> String {
        self.series[i]
            .color
            .clone()
            .unwrap_or_else(|| palette_color(i).to_string())
    }

    /// Draws one series; returns pixel points it covers (for legend placement).
    fn draw_series(&self, doc: &mut SvgDoc, l: &Layout, i: usize, s: &Series) -> Vec<(f64, f64)> {
        let pts: Vec<Option<(f64, f64)>> = s
            .points
            .iter()
            .map(|&(x, y)| Some((l.x.map(x)?, l.y.map(y)?)))
            .collect();
        let color = self.color(i);
        let mut covered = Vec::new();
        if s.style.line {
            let (d, samples) = line_path(&pts, &l.rect);
            let dash = if s.style.dashed {
                " stroke-dasharray=\"6 4\""
            } else {
                ""
            };
            doc.raw(&format!(
                "<path class=\"series-line\" d=\"{d}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\" stroke-linejoin=\"round\" stroke-linecap=\"round\"{dash}/>",
                escape(&color)
            ));
            covered.extend(samples);
        }
        if s.style.markers {
            covered.extend(draw_markers(
                doc,
                &pts,
                &l.rect,
                Marker::for_index(i),
                &color,
            ));
        }
        covered
    }

    /// One legend row per series.
    fn legend_entries(&self) -> Vec<LegendEntry> {
        (0..self.series.len())
            .map(|i| {
                let s = &self.series[i];
                LegendEntry {
                    label: s.label.clone(),
                    color: self.color(i),
                    line: s.style.line,
                    dashed: s.style.dashed,
                    marker: s.style.markers.then_some((Marker::for_index(i), true)),
                    error_bar: false,
                }
            })
            .collect()
    }
}

/// SVG path data through the pixel points, broken at `None` and clipped to `r`, plus sample
/// points along the drawn segments.
pub(crate) fn line_path(pts: &[Option<(f64, f64)>], r: &PlotRect) -> (String, Vec<(f64, f64)>) {
    let mut d = String::new();
    let mut pen: Option<(f64, f64)> = None;
    let mut samples = Vec::new();
    for w in pts.windows(2) {
        let (Some(p), Some(q)) = (w[0], w[1]) else {
            continue;
        };
        let Some((a, b)) = clip_segment(p, q, r) else {
            continue;
        };
        if pen != Some(a) {
            let _ = write!(d, "M{},{}", px(a.0), px(a.1));
        }
        let _ = write!(d, "L{},{}", px(b.0), px(b.1));
        pen = Some(b);
        samples.extend(sample_segment(a, b));
    }
    (d, samples)
}

/// Points every ~5 px along a segment (both ends included).
fn sample_segment(a: (f64, f64), b: (f64, f64)) -> impl Iterator<Item = (f64, f64)> {
    let n = (((b.0 - a.0).hypot(b.1 - a.1) / 5.0).ceil() as usize).max(1);
    (0..=n).map(move |k| {
        let t = k as f64 / n as f64;
        (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1))
    })
}

/// Draws markers at the points inside `r`; returns their positions.
fn draw_markers(
    doc: &mut SvgDoc,
    pts: &[Option<(f64, f64)>],
    r: &PlotRect,
    m: Marker,
    color: &str,
) -> Vec<(f64, f64)> {
    let inside: Vec<(f64, f64)> = pts
        .iter()
        .flatten()
        .copied()
        .filter(|p| r.contains(*p, 0.5))
        .collect();
    doc.open_group("series-markers");
    let paint = filled(color);
    for p in &inside {
        doc.raw(&m.svg(*p, 3.5, &paint));
    }
    doc.close_group();
    inside
}
