//! Fonts, colours and the shared plotters set-up: axes, grid, frame and title.

use plotters::coord::Shift;
use plotters::coord::cartesian::Cartesian2d;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::axis::Axis;

/// Tick-label font size (px).
pub(crate) const TICK_FS: f64 = 12.0;
/// Axis-label font size (px).
pub(crate) const LABEL_FS: f64 = 14.0;
/// Title font size (px).
const TITLE_FS: f64 = 15.0;
/// Tick length (px).
pub(crate) const TICK_LEN: i32 = 5;
/// Axis, frame and text colour.
pub(crate) const INK: RGBColor = RGBColor(0x22, 0x22, 0x22);

/// Pixel rectangle `(left, top, right, bottom)`.
pub(crate) type Rect = (i32, i32, i32, i32);
/// A plotters drawing error of backend `DB`.
pub(crate) type DrawResult<DB> =
    Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;
/// The chart type used everywhere: both coordinates transformed by their [`Axis`].
pub(crate) type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<Axis, Axis>>;

/// Sans-serif text of `px` pixels (plotters' SVG backend writes `font-size = size / 1.24`).
pub(crate) fn font(px: f64) -> TextStyle<'static> {
    ("sans-serif", px * 1.24).into_font().color(&INK)
}

/// Estimated rendered width of `text` (average sans-serif glyph ≈ 0.6 em).
pub(crate) fn text_width(text: &str, px: f64) -> i32 {
    (text.chars().count() as f64 * px * 0.6).ceil() as i32
}

/// Width of the y label area: the y axis label, the widest tick label and the tick.
pub(crate) fn y_area_width(y: &Axis, y_label: &str) -> i32 {
    let ticks = y
        .major
        .iter()
        .map(|t| text_width(&y.label(*t), TICK_FS))
        .max()
        .unwrap_or(0);
    let label = if y_label.is_empty() {
        0
    } else {
        LABEL_FS as i32 + 8
    };
    label + ticks + 2 * TICK_LEN + 4
}

/// Height of the x label area holding tick labels (`lines` rows) and the x axis label.
pub(crate) fn x_area_height(lines: usize, x_label: &str) -> i32 {
    let label = if x_label.is_empty() {
        0
    } else {
        LABEL_FS as i32 + 10
    };
    2 * TICK_LEN + lines as i32 * (TICK_FS as i32 + 3) + label + 2
}

/// Grid (majors bold, minors light), axes, ticks, tick labels and axis labels.
pub(crate) fn draw_mesh<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    (x, y): (&Axis, &Axis),
    (x_label, y_label): (&str, &str),
) -> DrawResult<DB> {
    let (fx, fy) = (|t: &f64| x.label(*t), |t: &f64| y.label(*t));
    let mut mesh = chart.configure_mesh();
    mesh.bold_line_style(RGBColor(0xe3, 0xe3, 0xe3))
        .light_line_style(RGBColor(0xf2, 0xf2, 0xf2))
        .axis_style(INK)
        .set_all_tick_mark_size(TICK_LEN)
        .x_labels(100)
        .y_labels(100)
        .max_light_lines(100)
        .x_label_style(font(TICK_FS))
        .y_label_style(font(TICK_FS))
        .axis_desc_style(font(LABEL_FS))
        .x_label_formatter(&fx)
        .y_label_formatter(&fy);
    if !x_label.is_empty() {
        mesh.x_desc(x_label);
    }
    if !y_label.is_empty() {
        mesh.y_desc(y_label);
    }
    mesh.draw()
}

/// Pixel rectangle `(left, top, right, bottom)` of a chart's plotting area.
pub(crate) fn plot_rect<DB: DrawingBackend>(chart: &Chart<'_, DB>) -> Rect {
    let (xs, ys) = chart.plotting_area().get_pixel_range();
    (xs.start, ys.start, xs.end - 1, ys.end - 1)
}

/// The frame around the plotting area.
pub(crate) fn draw_frame<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    (l, t, r, b): Rect,
) -> DrawResult<DB> {
    // Around the area, on the axis lines plotters draws just outside it (left, bottom).
    root.draw(&Rectangle::new(
        [(l - 1, t - 1), (r + 1, b + 1)],
        INK.stroke_width(1),
    ))
}

/// Bold title centred at pixel `(cx, 22)` (nothing if empty).
pub(crate) fn draw_title<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    cx: i32,
) -> DrawResult<DB> {
    if title.is_empty() {
        return Ok(());
    }
    let style = ("sans-serif", TITLE_FS * 1.24, FontStyle::Bold)
        .into_font()
        .color(&INK)
        .pos(Pos::new(HPos::Center, VPos::Center));
    root.draw(&Text::new(title.to_string(), (cx, 22), style))
}

/// Top margin: room for a title or a small gap.
pub(crate) fn top_margin(has_title: bool) -> i32 {
    if has_title { 40 } else { 15 }
}
