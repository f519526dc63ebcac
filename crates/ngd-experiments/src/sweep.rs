//! Charts of a mini-batch comparison ([`ngd_train::fit::run_sweep`]): test accuracy against
//! training time or epochs, per optimizer, from the sweep's record and summary.

use ngd_plot::{LineChart, Scale, Series, Style};
use ngd_train::fit::{BatchPoint, FitRecord, Spread, Status, Summary, SweepRecord};

/// Test accuracy against training seconds (`by_epoch = false`) or epochs: per optimizer the
/// mean over seeds (solid, markers) and the min/max over seeds (thin dashed, same colour),
/// and the target (grey dashed).
pub fn accuracy_chart(sweep: &SweepRecord, summary: &Summary, by_epoch: bool) -> LineChart {
    let x_label = if by_epoch {
        "epoch"
    } else {
        "training wall time (s)"
    };
    let mut chart = LineChart::new(sweep.config.title.clone(), x_label, "test accuracy");
    let mut x_max: f64 = 0.0;
    let mut y_max: f64 = 0.0;
    for (i, c) in sweep.config.optimizers.iter().enumerate() {
        let runs: Vec<&FitRecord> = sweep
            .runs
            .get(&c.label)
            .map(|r| r.iter().filter(|r| r.status == Status::Complete).collect())
            .unwrap_or_default();
        let Some(first) = runs.first() else { continue };
        let points = first.evaluations.len();
        let color = ngd_plot::palette_color(i).to_string();
        let mut mean = Vec::new();
        let (mut lo, mut hi) = (Vec::new(), Vec::new());
        for k in 0..points {
            let xs: Vec<f64> = runs
                .iter()
                .map(|r| {
                    let e = &r.evaluations[k.min(r.evaluations.len() - 1)];
                    if by_epoch { e.epoch } else { e.seconds }
                })
                .collect();
            let ys: Vec<f64> = runs
                .iter()
                .map(|r| r.evaluations[k.min(r.evaluations.len() - 1)].test_accuracy)
                .collect();
            let (x, y) = (
                Spread::of(&xs).expect("runs"),
                Spread::of(&ys).expect("runs"),
            );
            x_max = x_max.max(x.mean);
            y_max = y_max.max(y.max);
            mean.push((x.mean, y.mean));
            lo.push((x.mean, y.min));
            hi.push((x.mean, y.max));
        }
        let label = format!("{} ({} seeds)", c.label, runs.len());
        chart
            .series
            .push(Series::new(label, mean, Style::line_and_markers()).with_color(color.clone()));
        for band in [lo, hi] {
            chart
                .series
                .push(Series::new("", band, Style::dashed_line()).with_color(color.clone()));
        }
    }
    let t = summary.target_accuracy;
    chart.series.push(
        Series::new(
            format!("target {:.1}%", 100.0 * t),
            vec![(0.0, t), (x_max, t)],
            Style::dashed_line(),
        )
        .with_color("#999999"),
    );
    chart.y_range = Some((t - 0.04, (t + 0.015).max(y_max + 0.003).min(1.0)));
    chart
}

/// Steps (`seconds = false`) or training seconds to the tuning runs' validation target against
/// the batch size, per optimizer, log–log ([`ngd_train::fit::batch_points`]): the critical
/// batch size picture — steps fall as 1/B while the batch is below it and flatten above it.
pub fn batch_chart(sweep: &SweepRecord, points: &[BatchPoint], seconds: bool) -> LineChart {
    let y_label = if seconds {
        "training seconds to the validation target"
    } else {
        "steps to the validation target"
    };
    let mut chart = LineChart::new(sweep.config.title.clone(), "batch size", y_label)
        .with_scales(Scale::Log10, Scale::Log10);
    for (i, c) in sweep.config.optimizers.iter().enumerate() {
        let line: Vec<(f64, f64)> = points
            .iter()
            .filter(|p| p.label == c.label)
            .filter_map(|p| {
                let y = if seconds {
                    p.seconds
                } else {
                    p.steps.map(|s| s as f64)
                };
                y.map(|y| (p.batch_size as f64, y))
            })
            .collect();
        if line.is_empty() {
            continue;
        }
        let color = ngd_plot::palette_color(i).to_string();
        chart
            .series
            .push(Series::new(c.label.clone(), line, Style::line_and_markers()).with_color(color));
    }
    chart
}
