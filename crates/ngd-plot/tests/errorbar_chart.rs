//! Rendering tests for `ErrorBarChart`.

mod common;
use common::{check_well_formed, count, polylines, texts};
use ngd_plot::{ErrorBarChart, ErrorBarPanel, ErrorBarPoint, PALETTE};

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

/// Hollow circles (the extra marker and its legend sample).
const HOLLOW: &str = "fill=\"none\" stroke=\"#333333\"";

#[test]
fn renders_well_formed_panels() {
    let mut chart = ErrorBarChart::new(vec![
        panel("MNIST", &["SGD", "NGD", "K-FAC"], true),
        panel("CIFAR-10", &["SGD", "NGD", "K-FAC"], true),
    ]);
    chart.extra_label = "kernel regression".into();
    let svg = chart.to_svg();
    assert_eq!(check_well_formed(&svg), Ok("svg".to_string()));
    assert!(svg.contains("viewBox=\"0 0 720 380\""));
    assert_eq!(
        count(&svg, "fill=\"none\" stroke=\"#222222\""),
        2,
        "one frame per panel"
    );
    assert_eq!(
        count(&svg, HOLLOW),
        6 + 1,
        "open circles and the legend sample"
    );
    let t = texts(&svg);
    for s in ["MNIST", "CIFAR-10", "mean ± std", "kernel regression"] {
        assert!(t.iter().any(|x| x == s), "{s}");
    }
    assert_eq!(t.iter().filter(|s| *s == "K-FAC").count(), 2);
    // Each category has its palette colour: a bar with two caps and a filled mean marker.
    for c in &PALETTE[..3] {
        assert_eq!(
            polylines(&svg, c).len(),
            2 * 3,
            "bar + 2 caps per panel in {c}"
        );
        assert_eq!(
            count(&svg, &format!("fill=\"{c}\" stroke=\"none\"")),
            2,
            "mean marker per panel in {c}"
        );
    }
}

#[test]
fn no_extra_legend_without_extras() {
    let svg = ErrorBarChart::new(vec![panel("p", &["a", "b"], false)]).to_svg();
    assert!(texts(&svg).iter().any(|t| t == "mean ± std"));
    assert!(!texts(&svg).iter().any(|t| t == "extra"));
    assert_eq!(count(&svg, HOLLOW), 0);
}

#[test]
fn long_category_names_are_wrapped_and_escaped() {
    let names = [
        "exact NGD <full Fisher>",
        "block-diagonal & damped",
        "SGD with momentum",
        "Adam",
    ];
    let svg = ErrorBarChart::new(vec![panel("p", &names, false)]).to_svg();
    check_well_formed(&svg).unwrap();
    assert!(svg.contains("&lt;full") && svg.contains("Fisher&gt;") && svg.contains("&amp;"));
    let t = texts(&svg);
    assert!(
        !t.iter().any(|s| s == "SGD with momentum"),
        "wrapped: {t:?}"
    );
    assert!(t.iter().any(|s| s == "Adam"), "short names stay whole");
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
    // Mean 0.5 is below the fixed range (not drawn), 0.7 is inside; extra 0.95 is above.
    assert_eq!(
        count(&svg, &format!("fill=\"{}\" stroke=\"none\"", PALETTE[0])),
        0
    );
    assert_eq!(
        count(&svg, &format!("fill=\"{}\" stroke=\"none\"", PALETTE[1])),
        1
    );
    assert_eq!(count(&svg, HOLLOW), 1, "only the legend sample");
    assert!(!svg.contains("NaN"));
}
