//! Line charts: several (x, y) series on linear or log axes.

use std::path::Path;

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

use crate::axis::{Axis, Scale};
use crate::frame::{self, Chart, DrawResult, TICK_FS, text_width};
use crate::legend::{self, Entry, LegendPosition};
use crate::style::{Marker, Style, palette_color, parse_color};

/// One data series of a [`LineChart`].
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend text (empty: not in the legend).
    pub label: String,
    /// Data points `(x, y)`, drawn in order.
    pub points: Vec<(f64, f64)>,
    /// Line/marker style.
    pub style: Style,
    /// `#RRGGBB` colour; `None` (or another syntax) picks the palette colour of the index.
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

    /// Sets an explicit `#RRGGBB` colour.
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
    /// Where the legend goes.
    pub legend: LegendPosition,
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
}

/// A series' geometry in transformed coordinates (log₁₀ on log axes).
struct Shape {
    /// Clipped polyline pieces (empty without a line).
    runs: Vec<Vec<(f64, f64)>>,
    /// Marker positions inside the axes (empty without markers).
    marks: Vec<(f64, f64)>,
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

    /// The x and y data ranges used (automatic or the overrides).
    pub fn ranges(&self) -> ((f64, f64), (f64, f64)) {
        let shown = || {
            self.series
                .iter()
                .flat_map(|s| &s.points)
                .filter(|p| self.transform(**p).is_some())
        };
        (
            self.x_scale.range(self.x_range, shown().map(|p| p.0)),
            self.y_scale.range(self.y_range, shown().map(|p| p.1)),
        )
    }

    /// Pixel rectangle `(left, top, right, bottom)` of the plotting area in the rendered SVG.
    pub fn plot_area(&self) -> (i32, i32, i32, i32) {
        let mut scratch = String::new();
        let root =
            SVGBackend::with_string(&mut scratch, (self.width, self.height)).into_drawing_area();
        frame::plot_rect(&self.chart(&root, self.plan().1))
    }

    /// Renders the chart as a standalone SVG document.
    pub fn to_svg(&self) -> String {
        let mut buf = String::new();
        let plan = self.plan();
        let root = SVGBackend::with_string(&mut buf, (self.width, self.height)).into_drawing_area();
        self.draw(&root, plan)
            .expect("drawing SVG into a String cannot fail");
        drop(root);
        buf
    }

    /// Writes [`LineChart::to_svg`] to `path`, creating parent directories.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        crate::write_file(path, &self.to_svg())
    }

    /// `(x, y)` transformed by the axis scales, `None` if an axis cannot show it.
    fn transform(&self, (x, y): (f64, f64)) -> Option<(f64, f64)> {
        Some((self.x_scale.forward(x)?, self.y_scale.forward(y)?))
    }

    /// The two axes.
    fn axes(&self) -> (Axis, Axis) {
        let (xr, yr) = self.ranges();
        (Axis::new(self.x_scale, xr), Axis::new(self.y_scale, yr))
    }

    /// Colour of the `i`-th series.
    fn color(&self, i: usize) -> RGBColor {
        let own = self.series[i].color.as_deref().and_then(parse_color);
        own.unwrap_or_else(|| parse_color(palette_color(i)).expect("palette entries are #RRGGBB"))
    }

    /// One legend row per series with a label (an empty label keeps a series out of it).
    fn entries(&self) -> Vec<Entry> {
        let rows = self
            .series
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.label.is_empty())
            .map(|(i, s)| Entry {
                label: s.label.clone(),
                color: self.color(i),
                line: s.style.line,
                dashed: s.style.dashed,
                marker: s.style.markers.then_some((Marker::for_index(i), true)),
                error_bar: false,
            });
        if self.legend == LegendPosition::Hidden {
            Vec::new()
        } else {
            rows.collect()
        }
    }

    /// Clipped lines and visible markers of a series.
    fn shape(&self, s: &Series, x: &Axis, y: &Axis) -> Shape {
        let pts: Vec<Option<(f64, f64)>> = s.points.iter().map(|p| self.transform(*p)).collect();
        let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
        let mut pen = None;
        for w in pts.windows(2).filter(|_| s.style.line) {
            let (Some(p), Some(q)) = (w[0], w[1]) else {
                continue;
            };
            let (t0, t1) = y.clip(p, q, 1, x.clip(p, q, 0, (0.0, 1.0)));
            if t0 > t1 {
                continue;
            }
            let at = |t: f64| (p.0 + t * (q.0 - p.0), p.1 + t * (q.1 - p.1));
            if pen != Some(at(t0)) {
                runs.push(vec![at(t0)]);
            }
            runs.last_mut().expect("a run was started").push(at(t1));
            pen = Some(at(t1));
        }
        let inside = |p: &(f64, f64)| x.contains(p.0) && y.contains(p.1);
        let marks = pts
            .into_iter()
            .flatten()
            .filter(inside)
            .filter(|_| s.style.markers)
            .collect();
        Shape { runs, marks }
    }

    /// Builds the plotters chart on `root` (`extra_right`: room kept right of the plot).
    fn chart<'a, DB: DrawingBackend>(
        &self,
        root: &'a DrawingArea<DB, Shift>,
        extra_right: i32,
    ) -> Chart<'a, DB> {
        let (x, y) = self.axes();
        let last_x = x
            .major
            .last()
            .map_or(0, |t| text_width(&x.label(*t), TICK_FS));
        ChartBuilder::on(root)
            .margin_top(frame::top_margin(!self.title.is_empty()))
            .margin_left(8)
            .margin_bottom(6)
            .margin_right((last_x / 2 + 6).max(20) + extra_right)
            .x_label_area_size(frame::x_area_height(1, &self.x_label))
            .y_label_area_size(frame::y_area_width(&y, &self.y_label))
            .build_cartesian_2d(x, y)
            .expect("the chart fits the image")
    }

    /// Legend corner and the room kept right of the plot for it.
    fn plan(&self) -> (Option<(i32, i32)>, i32) {
        let mut scratch = String::new();
        let root =
            SVGBackend::with_string(&mut scratch, (self.width, self.height)).into_drawing_area();
        let chart = self.chart(&root, 0);
        let (x, y) = self.axes();
        let px = |p: &(f64, f64)| chart.backend_coord(p);
        let mut covered = Vec::new();
        for s in &self.series {
            let shape = self.shape(s, &x, &y);
            covered.extend(shape.marks.iter().map(px));
            for seg in shape.runs.iter().flat_map(|r| r.windows(2)) {
                covered.extend(legend::samples(px(&seg[0]), px(&seg[1])));
            }
        }
        let rect = frame::plot_rect(&chart);
        legend::plan(self.legend, &self.entries(), rect, &covered, self.width)
    }

    /// Draws everything on `root`.
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        (legend_at, extra): (Option<(i32, i32)>, i32),
    ) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let mut chart = self.chart(root, extra);
        let (x, y) = self.axes();
        frame::draw_mesh(&mut chart, (&x, &y), (&self.x_label, &self.y_label))?;
        for (i, s) in self.series.iter().enumerate() {
            let shape = self.shape(s, &x, &y);
            let stroke = self.color(i).stroke_width(2);
            for run in shape.runs {
                if s.style.dashed {
                    chart
                        .plotting_area()
                        .draw(&DashedPathElement::new(run, 6, 4, stroke))?;
                } else {
                    chart.plotting_area().draw(&PathElement::new(run, stroke))?;
                }
            }
            for p in &shape.marks {
                Marker::for_index(i).draw(
                    root,
                    chart.backend_coord(p),
                    4,
                    self.color(i).filled(),
                )?;
            }
        }
        let rect = frame::plot_rect(&chart);
        frame::draw_frame(root, rect)?;
        frame::draw_title(root, &self.title, (rect.0 + rect.2) / 2)?;
        if let Some(at) = legend_at {
            legend::draw(root, &self.entries(), at)?;
        }
        Ok(())
    }
}
