//! Rendering tests for `LineChart`.

mod common;
use common::{attr_values, check_well_formed, count, path_points, texts};
use ngd_plot::{Axis, LegendPosition, LineChart, Scale, Series, Style};

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

#[test]
fn output_is_well_formed_standalone_svg() {
    let svg = loss_chart().to_svg();
    assert_eq!(check_well_formed(&svg), Ok("svg".to_string()));
    assert!(svg.contains("xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.contains("viewBox=\"0 0 640 420\""));
}

#[test]
fn one_path_per_line_series() {
    let chart = loss_chart();
    let lines = chart.series.iter().filter(|s| s.style.line).count();
    assert_eq!(lines, 3);
    let svg = chart.to_svg();
    assert_eq!(count(&svg, "<path") + count(&svg, "<polyline"), lines);
    assert_eq!(
        count(&svg, "stroke-dasharray"),
        2,
        "dashed series line and its legend sample"
    );
}

#[test]
fn one_legend_entry_per_series() {
    let svg = loss_chart().to_svg();
    assert_eq!(count(&svg, "class=\"legend-entry\""), 4);
    for label in ["NGD", "SGD", "Adam", "kernel"] {
        assert!(
            texts(&svg).iter().any(|t| t == label),
            "legend label {label}"
        );
    }
    let mut hidden = loss_chart();
    hidden.legend = LegendPosition::Hidden;
    assert_eq!(count(&hidden.to_svg(), "legend-entry"), 0);
}

/// Legend box (x, y, width, height) in pixels.
fn legend_box(svg: &str) -> (f64, f64, f64, f64) {
    let legend = &svg[svg.find("class=\"legend\"").unwrap()..];
    let get = |a: &str| attr_values(legend, "<rect", a)[0].parse::<f64>().unwrap();
    (get("x"), get("y"), get("width"), get("height"))
}

#[test]
fn legend_top_right_inside_plot_area() {
    let mut chart = loss_chart();
    chart.legend = LegendPosition::TopRight;
    let (bx, by, bw, _) = legend_box(&chart.to_svg());
    let (x, y) = chart.axes();
    assert!(
        bx > (x.px_lo + x.px_hi) / 2.0 && bx + bw < x.px_hi,
        "right half, inside"
    );
    assert!(
        by > y.px_hi && by < (y.px_lo + y.px_hi) / 2.0,
        "top half, inside"
    );
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
    let (bx, by, _, _) = legend_box(&low.to_svg());
    let (x, y) = low.axes();
    assert!(bx > (x.px_lo + x.px_hi) / 2.0 && by < (y.px_lo + y.px_hi) / 2.0);
    // A rising line through the top-right corner: the legend moves and covers no marker.
    let pts: Vec<(f64, f64)> = (0..=40).map(|k| (k as f64, k as f64)).collect();
    let rising =
        LineChart::new("t", "x", "y").with_series(Series::new("a", pts.clone(), Style::markers()));
    let svg = rising.to_svg();
    let (bx, by, bw, bh) = legend_box(&svg);
    let (x, y) = rising.axes();
    assert!(
        bx < (x.px_lo + x.px_hi) / 2.0 || by > (y.px_lo + y.px_hi) / 2.0,
        "not top-right"
    );
    for (px, py) in pts
        .iter()
        .map(|p| (x.map(p.0).unwrap(), y.map(p.1).unwrap()))
    {
        assert!(
            !(px > bx && px < bx + bw && py > by && py < by + bh),
            "legend covers ({px}, {py})"
        );
    }
}

#[test]
fn log_ticks_at_decades_for_1e6_to_1() {
    let chart = loss_chart();
    let (_, y) = chart.axes();
    let ticks = y.ticks();
    let values: Vec<f64> = ticks.iter().map(|t| t.value.log10().round()).collect();
    assert_eq!(values, [-6.0, -5.0, -4.0, -3.0, -2.0, -1.0, 0.0]);
    let labels: Vec<&str> = ticks.iter().map(|t| t.label.as_str()).collect();
    assert_eq!(
        labels,
        ["10⁻⁶", "10⁻⁵", "10⁻⁴", "10⁻³", "10⁻²", "10⁻¹", "10⁰"]
    );
    let t = texts(&chart.to_svg());
    for l in labels {
        assert!(t.iter().any(|s| s == l), "tick label {l} rendered");
    }
}

#[test]
fn linear_axis_has_5_to_8_nice_ticks() {
    let (x, _) = loss_chart().axes();
    let v: Vec<f64> = x.ticks().iter().map(|t| t.value).collect();
    assert!((5..=8).contains(&v.len()), "{v:?}");
    assert_eq!(v, [0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0]);
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
    let chart = LineChart::new("t", "x", "y")
        .with_scales(Scale::Linear, Scale::Log10)
        .with_series(Series::new("line", pts.clone(), Style::line()))
        .with_series(Series::new("dots", pts, Style::markers()));
    let svg = chart.to_svg();
    check_well_formed(&svg).unwrap();
    let (x, y) = chart.axes();
    assert!(
        y.lo > 0.0 && y.lo < 0.001 && y.hi > 1.0 && y.hi < 2.0,
        "y range {:?}",
        (y.lo, y.hi)
    );
    assert!(x.hi < 9.0, "x range ignores the infinite point");
    let d = &attr_values(&svg, "<path", "d")[0];
    assert!(!d.contains("NaN") && !d.contains("inf"), "{d}");
    assert_eq!(count(d, "M"), 3, "line broken at skipped points: {d}");
    assert_eq!(count(d, "L"), 3, "{d}");
    for (px, py) in path_points(d) {
        assert!(
            px >= x.px_lo - 1e-6
                && px <= x.px_hi + 1e-6
                && py >= y.px_hi - 1e-6
                && py <= y.px_lo + 1e-6
        );
    }
    let markers = &svg[svg.find("series-markers").unwrap()..];
    let markers = &markers[..markers.find("</g>").unwrap()];
    assert_eq!(
        count(markers, "<rect"),
        6,
        "one marker per positive finite point"
    );
}

#[test]
fn out_of_range_points_are_clipped() {
    let pts = vec![(0.0, 0.0), (1.0, 5.0), (2.0, 0.5), (3.0, 0.7)];
    let mut chart =
        LineChart::new("t", "x", "y").with_series(Series::new("a", pts, Style::line_and_markers()));
    chart.y_range = Some((0.0, 1.0));
    chart.x_range = Some((0.0, 3.0));
    let svg = chart.to_svg();
    let (x, y) = chart.axes();
    let d = &attr_values(&svg, "<path", "d")[0];
    for (px, py) in path_points(d) {
        assert!(py >= y.px_hi - 1e-6, "clipped at the top: {d}");
        assert!(px >= x.px_lo - 1e-6 && px <= x.px_hi + 1e-6);
    }
    assert_eq!(
        count(d, "M"),
        2,
        "excursion above the range splits the line: {d}"
    );
    assert_eq!(
        count(&svg, "<circle"),
        3 + 1,
        "3 markers inside + 1 legend marker"
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
    assert!(svg.contains("A &amp; B &lt;C&gt;"));
    assert!(svg.contains("x&lt;1&gt;"));
    assert!(svg.contains("y &amp; z"));
    assert!(svg.contains("NGD &lt;damped&gt; &amp; co"));
    assert!(!svg.contains("<C>") && !svg.contains("<damped>"));
}

#[test]
fn axis_mapping_linear_and_log() {
    let lin = Axis::new(Scale::Linear, (0.0, 10.0), (100.0, 500.0));
    assert_eq!(lin.map(0.0), Some(100.0));
    assert_eq!(lin.map(2.5), Some(200.0));
    assert_eq!(lin.map(10.0), Some(500.0));
    assert_eq!(lin.map(12.5), Some(600.0), "not clamped");
    let log = Axis::new(Scale::Log10, (1e-4, 1.0), (400.0, 0.0));
    assert!((log.map(1e-2).unwrap() - 200.0).abs() < 1e-9);
    assert!((log.map(1e-3).unwrap() - 300.0).abs() < 1e-9);
    assert_eq!(log.map(0.0), None);
    assert_eq!(log.map(-1.0), None);
    assert_eq!(log.map(f64::NAN), None);
}

#[test]
fn rendered_point_matches_mapping() {
    let mut chart = LineChart::new("t", "x", "y").with_series(Series::new(
        "p",
        vec![(5.0, 5.0), (7.5, 2.5)],
        Style::markers(),
    ));
    chart.x_range = Some((0.0, 10.0));
    chart.y_range = Some((0.0, 10.0));
    let (x, y) = chart.axes();
    assert_eq!(x.map(0.0), Some(x.px_lo));
    assert_eq!(y.map(10.0), Some(y.px_hi));
    assert!(y.px_lo > y.px_hi, "y grows upwards");
    let (ex, ey) = (x.map(7.5).unwrap(), y.map(2.5).unwrap());
    assert!((ex - (x.px_lo + 0.75 * (x.px_hi - x.px_lo))).abs() < 1e-9);
    assert!((ey - (y.px_lo + 0.25 * (y.px_hi - y.px_lo))).abs() < 1e-9);
    let svg = chart.to_svg();
    let cx: Vec<f64> = attr_values(&svg, "<circle", "cx")
        .iter()
        .map(|v| v.parse().unwrap())
        .collect();
    let cy: Vec<f64> = attr_values(&svg, "<circle", "cy")
        .iter()
        .map(|v| v.parse().unwrap())
        .collect();
    assert!(
        (cx[1] - ex).abs() < 0.01 && (cy[1] - ey).abs() < 0.01,
        "{cx:?} {cy:?} vs {ex} {ey}"
    );
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
    let (_, y) = chart.axes();
    assert!(y.lo > 0.0 && y.lo < 1e-2);
}

#[test]
fn empty_and_degenerate_charts_render() {
    check_well_formed(&LineChart::new("", "", "").to_svg()).unwrap();
    let one = LineChart::new("one", "x", "y").with_series(Series::new(
        "p",
        vec![(3.0, 3.0)],
        Style::line(),
    ));
    let svg = one.to_svg();
    check_well_formed(&svg).unwrap();
    let (x, y) = one.axes();
    assert!(x.lo < 3.0 && x.hi > 3.0 && y.lo < 3.0 && y.hi > 3.0);
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
