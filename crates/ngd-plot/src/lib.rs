//! Publication-style SVG charts for experiment results, drawn with [`plotters`].
//!
//! * [`LineChart`]: several `(x, y)` [`Series`] on linear or log₁₀ axes (loss curves, …), with
//!   decade ticks labelled `10ᵏ`, a title and a legend placed where it covers no data.
//! * [`ErrorBarChart`]: one or more [`ErrorBarPanel`]s of categorical mean ± std values, with
//!   an optional second marker per category (e.g. a kernel-regression reference).
//!
//! Output is a standalone SVG document (plotters' SVG backend: `xmlns`, `viewBox`, escaped
//! text). Colours come from the colour-blind-safe Okabe–Ito [`PALETTE`]; line series also
//! cycle marker shapes so that series differ by more than colour.
//!
//! Fonts: plotters is built without a font backend (no `ttf`/`ab_glyph` feature), so nothing
//! reads system fonts or needs a font file; SVG text is written as `font-family="sans-serif"`
//! and laid out by the viewer. Layout sizes (label areas, legend boxes) use a fixed 0.6 em
//! average glyph width.
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

pub use axis::Scale;
pub use errorbar::{ErrorBarChart, ErrorBarPanel, ErrorBarPoint};
pub use legend::LegendPosition;
pub use line::{LineChart, Series};
pub use style::{PALETTE, Style, palette_color};

use std::path::Path;

/// Writes `contents` to `path`, creating missing parent directories.
fn write_file(path: &Path, contents: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, contents)
}
