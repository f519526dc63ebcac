//! Low-level SVG text helpers: escaping, number formatting and a small document builder.

use std::fmt::Write as _;

/// Font stack used for every text element.
pub(crate) const FONT_FAMILY: &str = "DejaVu Sans, Helvetica, Arial, sans-serif";

/// Escapes `&`, `<`, `>`, `"` and `'` so that `s` is safe both as element text and inside a
/// double-quoted attribute value.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters other than tab/newline are not allowed in XML 1.0.
            c if (c as u32) < 0x20 && c != '\t' && c != '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Formats a pixel coordinate with at most two decimals and no trailing zeros.
pub(crate) fn px(v: f64) -> String {
    let r = (v * 100.0).round() / 100.0;
    let r = if r == 0.0 { 0.0 } else { r }; // no "-0"
    let s = format!("{r:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Rough width in pixels of `text` rendered at `font_size` (average glyph ≈ 0.6 em).
pub(crate) fn text_width(text: &str, font_size: f64) -> f64 {
    text.chars().count() as f64 * font_size * 0.6
}

/// Horizontal anchoring of a text element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Anchor {
    Start,
    Middle,
    End,
}

impl Anchor {
    fn as_str(self) -> &'static str {
        match self {
            Anchor::Start => "start",
            Anchor::Middle => "middle",
            Anchor::End => "end",
        }
    }
}

/// An SVG document under construction. Text is escaped on the way in.
pub(crate) struct SvgDoc {
    buf: String,
}

impl SvgDoc {
    /// Starts a standalone document of the given size with a white background.
    pub(crate) fn new(width: u32, height: u32) -> Self {
        let mut buf = String::new();
        buf.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            buf,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{width}\" \
             height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"{FONT_FAMILY}\">"
        );
        let _ = writeln!(
            buf,
            "<rect x=\"0\" y=\"0\" width=\"{width}\" height=\"{height}\" fill=\"white\"/>"
        );
        SvgDoc { buf }
    }

    /// Appends a raw, already well-formed fragment.
    pub(crate) fn raw(&mut self, fragment: &str) {
        self.buf.push_str(fragment);
        self.buf.push('\n');
    }

    /// Opens a `<g>` group with the given class.
    pub(crate) fn open_group(&mut self, class: &str) {
        let _ = writeln!(self.buf, "<g class=\"{}\">", escape(class));
    }

    /// Closes the innermost group.
    pub(crate) fn close_group(&mut self) {
        self.buf.push_str("</g>\n");
    }

    /// Draws a straight line segment.
    pub(crate) fn line(
        &mut self,
        (x1, y1): (f64, f64),
        (x2, y2): (f64, f64),
        stroke: &str,
        w: f64,
    ) {
        let _ = writeln!(
            self.buf,
            "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"{}\"/>",
            px(x1),
            px(y1),
            px(x2),
            px(y2),
            escape(stroke),
            px(w)
        );
    }

    /// Draws a rectangle; `fill`/`stroke` are SVG paint values (e.g. `"none"`).
    pub(crate) fn rect(&mut self, (x, y, w, h): (f64, f64, f64, f64), fill: &str, stroke: &str) {
        let _ = writeln!(
            self.buf,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\" stroke=\"{}\" stroke-width=\"1\"/>",
            px(x),
            px(y),
            px(w.max(0.0)),
            px(h.max(0.0)),
            escape(fill),
            escape(stroke)
        );
    }

    /// Draws a text element; `rotate` is in degrees around the anchor point.
    pub(crate) fn text(
        &mut self,
        (x, y): (f64, f64),
        size: f64,
        anchor: Anchor,
        rotate: f64,
        s: &str,
    ) {
        let transform = if rotate != 0.0 {
            format!(" transform=\"rotate({} {} {})\"", px(rotate), px(x), px(y))
        } else {
            String::new()
        };
        let _ = writeln!(
            self.buf,
            "<text x=\"{}\" y=\"{}\" font-size=\"{}\" text-anchor=\"{}\"{transform}>{}</text>",
            px(x),
            px(y),
            px(size),
            anchor.as_str(),
            escape(s)
        );
    }

    /// Same as [`SvgDoc::text`] but bold (titles).
    pub(crate) fn bold_text(&mut self, (x, y): (f64, f64), size: f64, s: &str) {
        let _ = writeln!(
            self.buf,
            "<text x=\"{}\" y=\"{}\" font-size=\"{}\" font-weight=\"bold\" text-anchor=\"middle\">{}</text>",
            px(x),
            px(y),
            px(size),
            escape(s)
        );
    }

    /// Closes the root element and returns the document text.
    pub(crate) fn finish(mut self) -> String {
        self.buf.push_str("</svg>\n");
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_characters() {
        assert_eq!(
            escape("a & b <c> \"d\" 'e'"),
            "a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos;"
        );
    }

    #[test]
    fn px_trims_and_avoids_negative_zero() {
        assert_eq!(px(1.0), "1");
        assert_eq!(px(1.256), "1.26");
        assert_eq!(px(-0.001), "0");
        assert_eq!(px(10.5), "10.5");
    }
}
