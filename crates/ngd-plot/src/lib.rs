//! Dependency-free, publication-style SVG charts for experiment results.
//!
//! * [`LineChart`]: several `(x, y)` [`Series`] on linear or log₁₀ axes (loss curves, …), with
//!   nice ticks, axis labels, a title and a legend box inside the plot area.
//! * [`ErrorBarChart`]: one or more [`ErrorBarPanel`]s of categorical mean ± std values, with
//!   an optional second marker per category (e.g. a kernel-regression reference).
//!
//! Output is a standalone SVG 1.1 document (`xmlns`, `viewBox`); all text is XML-escaped.
//! Colours come from the colour-blind-safe Okabe–Ito [`PALETTE`]; line series also cycle
//! marker shapes so that series differ by more than colour.
//!
//! ```
//! use ngd_plot::{LineChart, Scale, Series, Style};
//! let chart = LineChart::new("Training loss", "epoch", "loss")
//!     .with_scales(Scale::Linear, Scale::Log10)
//!     .with_series(Series::new("NGD", vec![(0.0, 1.0), (1.0, 0.1), (2.0, 0.01)], Style::line()));
//! let svg = chart.to_svg();
//! assert!(svg.contains("xmlns=\"http://www.w3.org/2000/svg\""));
//! ```

#![warn(missing_docs)]

mod axis;
mod errorbar;
mod frame;
mod legend;
mod line;
mod style;
mod svg;

pub use axis::{
    AUTO_MARGIN, Axis, Scale, Tick, auto_range, decade_label, linear_ticks, log_minor_ticks,
    log_ticks, nice_step, superscript,
};
pub use errorbar::{ErrorBarChart, ErrorBarPanel, ErrorBarPoint};
pub use frame::{PlotRect, clip_segment};
pub use legend::LegendPosition;
pub use line::{LineChart, Series};
pub use style::{PALETTE, Style, palette_color};
pub use svg::escape;

use std::path::Path;

/// Writes `contents` to `path`, creating missing parent directories.
fn write_file(path: &Path, contents: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, contents)
}
