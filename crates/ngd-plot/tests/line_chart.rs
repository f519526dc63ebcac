//! Rendering tests for `LineChart`.

mod common;
use common::{attr_values, check_well_formed, count, polylines, texts};
use ngd_plot::{LegendPosition, LineChart, PALETTE, Scale, Series, Style, palette_color};

/// Three decreasing curves over 1e-6..1 plus a marker-only series.
fn loss_chart() -> LineChart {
    let curve = |rate: f64| {
        (0..=30)
            .map(|k| (k as f64, 10f64.powf(-rate * k as f64 / 30.0)))
            .collect()
    };
    LineChart::new("Loss", "epoch", "training loss")
        .with_scales(Scale::Linear, Scale::Log10)
        .with_series(Series::new("NGD", curve(6.0), Style::line()))
        .with_series(Series::new("SGD", curve(2.0), Style::dashed_line()))
        .with_series(Series::new("Adam", curve(4.0), Style::line_and_markers()))
        .with_series(Series::new(
            "kernel",
            vec![(10.0, 1e-3), (20.0, 1e-4)],
            Style::markers(),
        ))
}

/// Legend box `(x, y, width, height)`: the only rectangle with the grey legend border.
fn legend_box(svg: &str) -> Option<(f64, f64, f64, f64)> {
    let line = svg
        .lines()
        .find(|l| l.starts_with("<rect") && l.contains("stroke=\"#BBBBBB\""))?;
    let get = |a: &str| attr_values(line, "<rect", a)[0].parse::<f64>().unwrap();
    Some((get("x"), get("y"), get("width"), get("height")))
}

/// Centres of the `<circle>` markers filled with `color`.
fn circles(svg: &str, color: &str) -> Vec<(f64, f64)> {
    svg.lines()
        .filter(|l| l.starts_with("<circle") && l.contains(&format!("fill=\"{color}\"")))
        .map(|l| {
            (
                attr_values(l, "<circle", "cx")[0].parse().unwrap(),
                attr_values(l, "<circle", "cy")[0].parse().unwrap(),
            )
        })
        .collect()
}

/// Pixel position of a data point, from the plot area and the axis ranges.
fn pixel(chart: &LineChart, (x, y): (f64, f64)) -> (f64, f64) {
    let (l, t, r, b) = chart.plot_area();
    let ((x0, x1), (y0, y1)) = chart.ranges();
    let f = |v: f64, s: Scale| if s == Scale::Log10 { v.log10() } else { v };
    let fx = (f(x, chart.x_scale) - f(x0, chart.x_scale))
        / (f(x1, chart.x_scale) - f(x0, chart.x_scale));
    let fy = (f(y, chart.y_scale) - f(y0, chart.y_scale))
        / (f(y1, chart.y_scale) - f(y0, chart.y_scale));
    (
        l as f64 + fx * (r - l) as f64,
        b as f64 - fy * (b - t) as f64,
    )
}

#[test]
fn output_is_well_formed_standalone_svg() {
    let svg = loss_chart().to_svg();
    assert_eq!(check_well_formed(&svg), Ok("svg".to_string()));
    assert!(svg.contains("xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.contains("viewBox=\"0 0 640 420\""));
    assert!(texts(&svg).iter().any(|t| t == "Loss"), "title");
}

#[test]
fn measured_solid_with_markers_and_theory_dashed_in_the_same_colour() {
    let pts: Vec<(f64, f64)> = (0..=10).map(|k| (k as f64, 0.5f64.powi(k))).collect();
    let mut chart = LineChart::new("t", "step", "loss").with_scales(Scale::Linear, Scale::Log10);
    for (label, style) in [
        ("measured", Style::line_and_markers()),
        ("theory", Style::dashed_line()),
    ] {
        chart.series.push(Series {
            label: label.into(),
            points: pts.clone(),
            style,
            color: Some(PALETTE[2].into()),
        });
    }
    let svg = chart.to_svg();
    let lines = polylines(&svg, PALETTE[2]);
    let solid = lines.iter().filter(|l| l.len() == pts.len()).count();
    assert_eq!(solid, 1, "one unbroken measured line through every point");
    let dashes = lines.iter().filter(|l| l.len() < pts.len()).count();
    assert!(dashes > 20, "theory drawn as many short dashes: {dashes}");
    assert_eq!(
        circles(&svg, PALETTE[2]).len(),
        pts.len() + 1,
        "markers + legend sample"
    );
    for other in PALETTE.iter().filter(|c| **c != PALETTE[2]) {
        assert!(polylines(&svg, other).is_empty(), "no line in {other}");
    }
}

#[test]
fn default_colours_follow_the_palette() {
    let svg = loss_chart().to_svg();
    for i in 0..3 {
        assert!(
            !polylines(&svg, palette_color(i)).is_empty(),
            "series {i} in {}",
            palette_color(i)
        );
    }
}

#[test]
fn one_legend_entry_per_series() {
    let svg = loss_chart().to_svg();
    assert!(legend_box(&svg).is_some());
    for label in ["NGD", "SGD", "Adam", "kernel"] {
        assert!(
            texts(&svg).iter().any(|t| t == label),
            "legend label {label}"
        );
    }
    let mut hidden = loss_chart();
    hidden.legend = LegendPosition::Hidden;
    let svg = hidden.to_svg();
    assert!(legend_box(&svg).is_none());
    assert!(!texts(&svg).iter().any(|t| t == "NGD"));
}

/// A series with an empty label (a spread band beside its mean) is drawn but not listed: the
/// legend box is as tall as without it.
#[test]
fn unlabelled_series_stay_out_of_the_legend() {
    let height = |chart: &LineChart| legend_box(&chart.to_svg()).expect("legend").3;
    let base = loss_chart();
    let mut banded = loss_chart();
    banded.series.push(Series::new(
        "",
        vec![(1.0, 0.5), (2.0, 0.2)],
        Style::dashed_line(),
    ));
    assert_eq!(height(&banded), height(&base));
    let mut labelled = loss_chart();
    labelled.series.push(Series::new(
        "band",
        vec![(1.0, 0.5), (2.0, 0.2)],
        Style::dashed_line(),
    ));
    assert!(height(&labelled) > height(&base));
}

#[test]
fn legend_top_right_inside_plot_area() {
    let mut chart = loss_chart();
    chart.legend = LegendPosition::TopRight;
    let (bx, by, bw, _) = legend_box(&chart.to_svg()).unwrap();
    let (l, t, r, b) = chart.plot_area();
    assert!(
        bx > f64::from(l + r) / 2.0 && bx + bw < f64::from(r),
        "right half, inside"
    );
    assert!(
        by > f64::from(t) && by < f64::from(t + b) / 2.0,
        "top half, inside"
    );
}

/// Whether the pixel lies in the box.
fn inside((x, y): (f64, f64), (bx, by, bw, bh): (f64, f64, f64, f64)) -> bool {
    x > bx && x < bx + bw && y > by && y < by + bh
}

#[test]
fn best_legend_prefers_top_right_and_avoids_data() {
    // Data only at the bottom: top-right is free and chosen.
    let low = LineChart::new("t", "x", "y")
        .with_series(Series::new(
            "a",
            vec![(0.0, 0.0), (10.0, 0.0)],
            Style::line(),
        ))
        .with_series(Series::new("b", vec![(0.0, 10.0)], Style::markers()));
    let (bx, by, _, _) = legend_box(&low.to_svg()).unwrap();
    let (l, t, r, b) = low.plot_area();
    assert!(bx > f64::from(l + r) / 2.0 && by < f64::from(t + b) / 2.0);
    // A rising line through the top-right corner: the legend moves and covers no data.
    let pts: Vec<(f64, f64)> = (0..=40).map(|k| (k as f64, k as f64)).collect();
    let rising = LineChart::new("t", "x", "y").with_series(Series::new(
        "a",
        pts.clone(),
        Style::line_and_markers(),
    ));
    let svg = rising.to_svg();
    let lb = legend_box(&svg).unwrap();
    let (l, t, r, b) = rising.plot_area();
    assert!(
        lb.0 < f64::from(l + r) / 2.0 || lb.1 > f64::from(t + b) / 2.0,
        "not top-right"
    );
    // Every point and the line between consecutive points stay clear of the box.
    for w in pts.windows(2) {
        for k in 0..=10 {
            let f = f64::from(k) / 10.0;
            let p = (
                w[0].0 + f * (w[1].0 - w[0].0),
                w[0].1 + f * (w[1].1 - w[0].1),
            );
            assert!(!inside(pixel(&rising, p), lb), "legend covers {p:?}");
        }
    }
}

#[test]
fn legend_goes_outside_when_every_corner_has_data() {
    let corners = vec![
        (0.0, 0.0),
        (0.0, 10.0),
        (10.0, 10.0),
        (10.0, 0.0),
        (5.0, 5.0),
    ];
    let chart = LineChart::new("t", "x", "y").with_series(Series::new(
        "corners",
        corners,
        Style::markers(),
    ));
    let (bx, _, _, _) = legend_box(&chart.to_svg()).unwrap();
    let (_, _, r, _) = chart.plot_area();
    assert!(
        bx > f64::from(r),
        "legend {bx} right of the plot (right edge {r})"
    );
    assert!(r < 560, "the plot made room: {r}");
}

#[test]
fn log_ticks_labelled_as_powers_of_ten() {
    let t = texts(&loss_chart().to_svg());
    for l in ["10⁻⁶", "10⁻⁵", "10⁻⁴", "10⁻³", "10⁻²", "10⁻¹", "10⁰"] {
        assert!(t.iter().any(|s| s == l), "tick label {l} in {t:?}");
    }
    assert!(
        !t.iter()
            .any(|s| s.contains('e') && s.chars().any(|c| c.is_ascii_digit())),
        "no 1e-3 style labels: {t:?}"
    );
    for l in ["0", "5", "10", "15", "20", "25", "30"] {
        assert!(t.iter().any(|s| s == l), "linear tick label {l}");
    }
}

#[test]
fn short_log_ranges_label_1_2_5() {
    let pts = vec![(150.0, 1.0), (4000.0, 2.0)];
    let chart = LineChart::new("t", "width", "y")
        .with_scales(Scale::Log10, Scale::Linear)
        .with_series(Series::new("a", pts, Style::line()));
    let t = texts(&chart.to_svg());
    for l in ["200", "500", "10³", "2000"] {
        assert!(t.iter().any(|s| s == l), "tick label {l} in {t:?}");
    }
}

#[test]
fn non_positive_and_non_finite_values_are_skipped_on_log_axis() {
    let pts = vec![
        (0.0, 1.0),
        (1.0, 0.5),
        (2.0, 0.0),
        (3.0, 0.1),
        (4.0, 0.05),
        (5.0, -1.0),
        (6.0, f64::NAN),
        (7.0, 0.01),
        (8.0, 0.001),
        (f64::INFINITY, 0.1),
    ];
    let mut chart = LineChart::new("t", "x", "y")
        .with_scales(Scale::Linear, Scale::Log10)
        .with_series(Series::new("line", pts.clone(), Style::line()))
        .with_series(Series::new("dots", pts, Style::markers()));
    chart.legend = LegendPosition::Hidden;
    let svg = chart.to_svg();
    check_well_formed(&svg).unwrap();
    assert!(!svg.contains("NaN") && !svg.contains("inf"));
    let ((_, x1), (y0, y1)) = chart.ranges();
    assert!(
        y0 > 0.0 && y0 < 0.001 && y1 > 1.0 && y1 < 2.0,
        "y range {:?}",
        (y0, y1)
    );
    assert!(x1 < 9.0, "x range ignores the infinite point");
    let runs = polylines(&svg, PALETTE[0]);
    assert_eq!(runs.len(), 3, "line broken at skipped points: {runs:?}");
    // Series 1 draws squares (`<polygon>`): one per positive finite point.
    let squares = format!("<polygon opacity=\"1\" fill=\"{}\"", PALETTE[1]);
    assert_eq!(count(&svg, &squares), 6);
}

#[test]
fn out_of_range_points_are_clipped() {
    let pts = vec![(0.0, 0.0), (1.0, 5.0), (2.0, 0.5), (3.0, 0.7)];
    let mut chart =
        LineChart::new("t", "x", "y").with_series(Series::new("a", pts, Style::line_and_markers()));
    chart.y_range = Some((0.0, 1.0));
    chart.x_range = Some((0.0, 3.0));
    chart.legend = LegendPosition::Hidden;
    let svg = chart.to_svg();
    let (l, t, r, b) = chart.plot_area();
    let runs = polylines(&svg, PALETTE[0]);
    assert_eq!(
        runs.len(),
        2,
        "excursion above the range splits the line: {runs:?}"
    );
    for (x, y) in runs.concat() {
        assert!(
            x >= f64::from(l) - 1.0
                && x <= f64::from(r) + 1.0
                && y >= f64::from(t) - 1.0
                && y <= f64::from(b) + 1.0
        );
    }
    assert_eq!(
        circles(&svg, PALETTE[0]).len(),
        3,
        "markers inside the range only"
    );
}

#[test]
fn text_is_escaped() {
    let chart = LineChart::new("A & B <C>", "x<1>", "y & z").with_series(
        Series::new(
            "NGD <damped> & co",
            vec![(0.0, 1.0), (1.0, 2.0)],
            Style::line(),
        )
        .with_color("#123456\""),
    );
    let svg = chart.to_svg();
    check_well_formed(&svg).unwrap();
    for s in [
        "A &amp; B &lt;C&gt;",
        "x&lt;1&gt;",
        "y &amp; z",
        "NGD &lt;damped&gt; &amp; co",
    ] {
        assert!(svg.contains(s), "{s}");
    }
    assert!(!svg.contains("<C>") && !svg.contains("<damped>"));
    assert!(
        !polylines(&svg, PALETTE[0]).is_empty(),
        "an invalid colour falls back to the palette"
    );
}

#[test]
fn rendered_points_match_the_axes() {
    let pts = vec![(5.0, 5.0), (7.5, 2.5), (1.0, 9.0)];
    let mut chart =
        LineChart::new("t", "x", "y").with_series(Series::new("p", pts.clone(), Style::markers()));
    chart.x_range = Some((0.0, 10.0));
    chart.y_range = Some((0.0, 10.0));
    chart.legend = LegendPosition::Hidden;
    let drawn = circles(&chart.to_svg(), PALETTE[0]);
    assert_eq!(drawn.len(), 3);
    for (p, (cx, cy)) in pts.into_iter().zip(drawn) {
        let (ex, ey) = pixel(&chart, p);
        assert!(
            (cx - ex).abs() <= 1.0 && (cy - ey).abs() <= 1.0,
            "{p:?}: ({cx}, {cy}) vs ({ex}, {ey})"
        );
    }
    let mut log = LineChart::new("t", "x", "y").with_scales(Scale::Log10, Scale::Log10);
    log.series.push(Series::new(
        "p",
        vec![(1e-3, 10.0), (1.0, 1e4), (31.6, 0.01)],
        Style::markers(),
    ));
    log.legend = LegendPosition::Hidden;
    let drawn = circles(&log.to_svg(), PALETTE[0]);
    for (p, (cx, cy)) in log.series[0].points.iter().zip(drawn) {
        let (ex, ey) = pixel(&log, *p);
        assert!(
            (cx - ex).abs() <= 1.0 && (cy - ey).abs() <= 1.0,
            "{p:?}: ({cx}, {cy}) vs ({ex}, {ey})"
        );
    }
}

#[test]
fn invalid_override_falls_back_to_auto_range() {
    let mut chart = LineChart::new("t", "x", "y")
        .with_scales(Scale::Linear, Scale::Log10)
        .with_series(Series::new(
            "p",
            vec![(1.0, 1e-2), (2.0, 1.0)],
            Style::line(),
        ));
    chart.y_range = Some((0.0, 1.0));
    let (_, (y0, _)) = chart.ranges();
    assert!(y0 > 0.0 && y0 < 1e-2);
}

#[test]
fn empty_and_degenerate_charts_render() {
    check_well_formed(&LineChart::new("", "", "").to_svg()).unwrap();
    let one = LineChart::new("one", "x", "y").with_series(Series::new(
        "p",
        vec![(3.0, 3.0)],
        Style::line(),
    ));
    check_well_formed(&one.to_svg()).unwrap();
    let ((x0, x1), (y0, y1)) = one.ranges();
    assert!(x0 < 3.0 && x1 > 3.0 && y0 < 3.0 && y1 > 3.0);
}

#[test]
fn save_writes_the_svg() {
    let dir = std::env::temp_dir().join(format!("ngd-plot-test-{}", std::process::id()));
    let path = dir.join("sub/chart.svg");
    let chart = loss_chart();
    chart.save(&path).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), chart.to_svg());
    std::fs::remove_dir_all(&dir).unwrap();
}
