//! Rendering tests for `ErrorBarChart`.

mod common;
use common::{attr_values, check_well_formed, count, texts};
use ngd_plot::{ErrorBarChart, ErrorBarPanel, ErrorBarPoint};

fn panel(title: &str, names: &[&str], with_extra: bool) -> ErrorBarPanel {
    let mut p = ErrorBarPanel::new(title, "test accuracy");
    for (i, n) in names.iter().enumerate() {
        let q = ErrorBarPoint::new(*n, 0.8 + 0.03 * i as f64, 0.01 + 0.005 * i as f64);
        p.points.push(if with_extra {
            q.with_extra(0.82 + 0.02 * i as f64)
        } else {
            q
        });
    }
    p
}

#[test]
fn renders_well_formed_panels() {
    let chart = ErrorBarChart::new(vec![
        panel("MNIST", &["SGD", "NGD", "K-FAC"], true),
        panel("CIFAR-10", &["SGD", "NGD", "K-FAC"], true),
    ]);
    let svg = chart.to_svg();
    assert_eq!(check_well_formed(&svg), Ok("svg".to_string()));
    assert!(svg.contains("viewBox=\"0 0 720 380\""));
    assert_eq!(count(&svg, "class=\"panel\""), 2);
    assert_eq!(count(&svg, "class=\"errorbar-point\""), 6);
    assert_eq!(
        count(&svg, "class=\"legend-entry\""),
        2,
        "mean ± std and extra"
    );
    assert_eq!(
        count(&svg, "fill=\"none\" stroke="),
        6 + 1 + 2,
        "open circles, legend sample, 2 frames"
    );
    let t = texts(&svg);
    assert!(t.iter().any(|s| s == "MNIST") && t.iter().any(|s| s == "CIFAR-10"));
    assert_eq!(t.iter().filter(|s| *s == "K-FAC").count(), 2);
}

#[test]
fn no_extra_legend_without_extras() {
    let svg = ErrorBarChart::new(vec![panel("p", &["a", "b"], false)]).to_svg();
    assert_eq!(count(&svg, "class=\"legend-entry\""), 1);
}

#[test]
fn long_category_names_are_rotated_and_escaped() {
    let names = [
        "exact NGD <full Fisher>",
        "block-diagonal & damped",
        "SGD with momentum",
    ];
    let svg = ErrorBarChart::new(vec![panel("p", &names, false)]).to_svg();
    check_well_formed(&svg).unwrap();
    assert!(svg.contains("exact NGD &lt;full Fisher&gt;"));
    assert!(svg.contains("block-diagonal &amp; damped"));
    assert_eq!(count(&svg, "transform=\"rotate(-35"), 3);
}

#[test]
fn y_range_covers_error_bars_and_extras() {
    let p = ErrorBarPanel::new("p", "acc")
        .with_point(ErrorBarPoint::new("a", 0.5, 0.1))
        .with_point(ErrorBarPoint::new("b", 0.7, f64::NAN).with_extra(0.95));
    let (lo, hi) = p.range();
    assert!(lo < 0.4 && lo > 0.3 && hi > 0.95 && hi < 1.05, "{lo} {hi}");
    let mut fixed = p.clone();
    fixed.y_range = Some((0.6, 0.8));
    assert_eq!(fixed.range(), (0.6, 0.8));
    let svg = ErrorBarChart::new(vec![fixed]).to_svg();
    check_well_formed(&svg).unwrap();
    // mean 0.5 is below the fixed range (not drawn), 0.7 is inside; extra 0.95 is above.
    let data = &svg[..svg.find("class=\"legend\"").unwrap()];
    let cys = attr_values(data, "<circle", "cy");
    assert_eq!(
        cys.len(),
        1,
        "only the mean inside the range is drawn: {cys:?}"
    );
}
