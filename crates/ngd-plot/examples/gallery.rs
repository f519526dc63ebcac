//! Renders one example of each chart: `cargo run -p ngd-plot --example gallery [OUT_DIR]`
//! writes `ngd-plot-{loss,linear,accuracy,loglog}.svg` (default
//! directory: the system temp dir).

use std::path::PathBuf;

use ngd_plot::{ErrorBarChart, ErrorBarPanel, ErrorBarPoint, LineChart, Scale, Series, Style};

/// Synthetic loss curve decaying from 1 to `10^-decades` with a little wiggle.
fn loss(decades: f64, n: usize) -> Vec<(f64, f64)> {
    (0..=n)
        .map(|k| {
            let t = k as f64 / n as f64;
            (
                k as f64,
                10f64.powf(-decades * t + 0.15 * (7.0 * t).sin() * t),
            )
        })
        .collect()
}

/// Training loss on a log y axis, including a point at zero loss (skipped); the top-right
/// corner is crowded, so the default legend placement picks another corner.
fn loss_chart() -> LineChart {
    let mut exact = loss(6.0, 50);
    exact[50].1 = 0.0;
    LineChart::new("Training loss (MNIST subset, n = 256)", "epoch", "loss")
        .with_scales(Scale::Linear, Scale::Log10)
        .with_series(Series::new("exact NGD", exact, Style::line()))
        .with_series(Series::new("K-FAC", loss(4.0, 50), Style::dashed_line()))
        .with_series(Series::new("SGD", loss(1.5, 50), Style::line()))
        .with_series(Series::new(
            "Adam",
            loss(3.0, 50).into_iter().step_by(5).collect(),
            Style::line_and_markers(),
        ))
        .with_series(Series::new(
            "kernel regression",
            vec![(50.0, 2e-6)],
            Style::markers(),
        ))
}

/// Log–log chart over many decades (thinned decade labels, minor ticks at the others).
fn loglog_chart() -> LineChart {
    let pts = |p: f64| {
        (0..=40)
            .map(|k| 10f64.powf(-8.0 + 0.3 * k as f64))
            .map(|x| (x, x.powf(p) + 1e-18))
            .collect()
    };
    LineChart::new("Power laws", "damping ρ", "error")
        .with_scales(Scale::Log10, Scale::Log10)
        .with_series(Series::new("ρ²", pts(2.0), Style::line()))
        .with_series(Series::new("ρ", pts(1.0), Style::dashed_line()))
        .with_series(Series::new("√ρ", pts(0.5), Style::markers()))
}

/// A linear chart with negative values and an explicit x range.
fn linear_chart() -> LineChart {
    let f = |a: f64| {
        (0..=40)
            .map(|k| {
                (
                    k as f64 * 0.25,
                    a * (k as f64 * 0.25).sin() * (-0.1 * k as f64 * 0.25).exp(),
                )
            })
            .collect()
    };
    let mut c = LineChart::new("Alignment <K, yyᵀ> & friends", "step size η", "Δ loss")
        .with_series(Series::new("η = 0.1", f(1.0), Style::line()))
        .with_series(Series::new("η = 1", f(2.5), Style::line_and_markers()))
        .with_series(Series::new("η = 10", f(-1.5), Style::dashed_line()));
    c.x_range = Some((0.0, 10.0));
    c
}

/// Fig. 2-style accuracy panels.
fn accuracy_chart() -> ErrorBarChart {
    let methods = ["SGD", "Adam", "K-FAC", "exact NGD", "NGD (damped)"];
    let panel = |title: &str, base: f64| {
        let mut p = ErrorBarPanel::new(title, "test accuracy");
        for (i, m) in methods.iter().enumerate() {
            let mean = base + 0.012 * i as f64 - 0.004 * (i % 2) as f64;
            p.points.push(
                ErrorBarPoint::new(*m, mean, 0.004 + 0.003 * (i % 3) as f64)
                    .with_extra(base + 0.03),
            );
        }
        p
    };
    let mut c = ErrorBarChart::new(vec![
        panel("MNIST", 0.90),
        panel("Fashion-MNIST", 0.80),
        panel("CIFAR-10", 0.40),
    ]);
    c.extra_label = "kernel regression".to_string();
    c
}

fn main() -> std::io::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    loss_chart().save(&dir.join("ngd-plot-loss.svg"))?;
    linear_chart().save(&dir.join("ngd-plot-linear.svg"))?;
    accuracy_chart().save(&dir.join("ngd-plot-accuracy.svg"))?;
    loglog_chart().save(&dir.join("ngd-plot-loglog.svg"))?;
    println!(
        "wrote {}/ngd-plot-{{loss,linear,accuracy,loglog}}.svg",
        dir.display()
    );
    Ok(())
}
