//! Test helpers: a tiny XML well-formedness checker and SVG scraping utilities.

#![allow(dead_code)]

/// Checks that `s` is a well-formed XML document: tags nest and match, attribute values are
/// quoted and contain no `<`, entities are valid, there is exactly one root element and no
/// non-whitespace text outside it. Returns the root element's name.
pub fn check_well_formed(s: &str) -> Result<String, String> {
    let mut stack: Vec<String> = Vec::new();
    let mut root: Option<String> = None;
    let mut rest = s;
    while !rest.is_empty() {
        let lt = rest.find('<').unwrap_or(rest.len());
        check_text(&rest[..lt], !stack.is_empty())?;
        rest = &rest[lt..];
        if rest.is_empty() {
            break;
        }
        rest = if let Some(r) = rest.strip_prefix("<?") {
            after(r, "?>")?
        } else if let Some(r) = rest.strip_prefix("<!--") {
            after(r, "-->")?
        } else if let Some(r) = rest.strip_prefix("</") {
            let end = r.find('>').ok_or("unterminated end tag")?;
            let name = r[..end].trim();
            match stack.pop() {
                Some(open) if open == name => {}
                other => return Err(format!("</{name}> closes {other:?}")),
            }
            &r[end + 1..]
        } else {
            let (name, self_closing, r) = parse_start_tag(&rest[1..])?;
            if stack.is_empty() {
                if root.is_some() {
                    return Err(format!("second root element <{name}>"));
                }
                root = Some(name.clone());
            }
            if !self_closing {
                stack.push(name);
            }
            r
        };
    }
    if !stack.is_empty() {
        return Err(format!("unclosed elements {stack:?}"));
    }
    root.ok_or_else(|| "no root element".to_string())
}

/// The text after the first occurrence of `end`.
fn after<'a>(s: &'a str, end: &str) -> Result<&'a str, String> {
    s.find(end)
        .map(|i| &s[i + end.len()..])
        .ok_or_else(|| format!("missing {end}"))
}

/// Text content: valid entities only; outside the root only whitespace.
fn check_text(t: &str, inside: bool) -> Result<(), String> {
    if !inside && !t.trim().is_empty() {
        return Err(format!("text outside root: {t:?}"));
    }
    check_entities(t)
}

/// Every `&` starts `&name;` or `&#…;`.
fn check_entities(t: &str) -> Result<(), String> {
    let mut rest = t;
    while let Some(i) = rest.find('&') {
        let r = &rest[i + 1..];
        let semi = r.find(';').ok_or_else(|| format!("bare & in {t:?}"))?;
        let name = &r[..semi];
        let ok = matches!(name, "amp" | "lt" | "gt" | "quot" | "apos")
            || name
                .strip_prefix('#')
                .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric()));
        if !ok {
            return Err(format!("bad entity &{name};"));
        }
        rest = &r[semi + 1..];
    }
    Ok(())
}

/// Parses `name attr="v" … >` or `… />`; returns (name, self-closing, rest).
fn parse_start_tag(s: &str) -> Result<(String, bool, &str), String> {
    let name_end = s
        .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
        .ok_or("unterminated tag")?;
    let name = &s[..name_end];
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_alphanumeric() || "-_:.".contains(c))
    {
        return Err(format!("bad tag name {name:?}"));
    }
    let mut rest = &s[name_end..];
    let mut seen = Vec::new();
    loop {
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix("/>") {
            return Ok((name.to_string(), true, r));
        }
        if let Some(r) = rest.strip_prefix('>') {
            return Ok((name.to_string(), false, r));
        }
        let eq = rest
            .find('=')
            .ok_or_else(|| format!("attribute without value in <{name}>"))?;
        let attr = rest[..eq].trim();
        if attr.is_empty()
            || !attr
                .chars()
                .all(|c| c.is_alphanumeric() || "-_:.".contains(c))
        {
            return Err(format!("bad attribute name {attr:?} in <{name}>"));
        }
        if seen.contains(&attr) {
            return Err(format!("duplicate attribute {attr} in <{name}>"));
        }
        seen.push(attr);
        let r = rest[eq + 1..].trim_start();
        let q = r
            .chars()
            .next()
            .filter(|c| *c == '"' || *c == '\'')
            .ok_or("unquoted attribute")?;
        let close = r[1..].find(q).ok_or("unterminated attribute value")?;
        let value = &r[1..1 + close];
        if value.contains('<') {
            return Err(format!("'<' in attribute {attr}"));
        }
        check_entities(value)?;
        rest = &r[close + 2..];
    }
}

/// Number of non-overlapping occurrences of `needle`.
pub fn count(s: &str, needle: &str) -> usize {
    s.matches(needle).count()
}

/// Values of attribute `attr` on every element whose start tag begins with `tag_prefix`.
pub fn attr_values(svg: &str, tag_prefix: &str, attr: &str) -> Vec<String> {
    let key = format!(" {attr}=\"");
    svg.match_indices(tag_prefix)
        .filter_map(|(i, _)| {
            let tag = &svg[i..i + svg[i..].find('>')?];
            let a = tag.find(&key)? + key.len();
            Some(tag[a..a + tag[a..].find('"')?].to_string())
        })
        .collect()
}

/// The pixel points of every `<polyline>` whose stroke is `color`, one list per polyline.
pub fn polylines(svg: &str, color: &str) -> Vec<Vec<(f64, f64)>> {
    let key = format!("stroke=\"{color}\"");
    svg.lines()
        .filter(|l| l.starts_with("<polyline") && l.contains(&key))
        .map(|l| {
            let pts = &l[l.find("points=\"").expect("points") + 8..];
            pts[..pts.find('"').expect("end of points")]
                .split_whitespace()
                .map(|p| {
                    let (x, y) = p.split_once(',').expect("x,y");
                    (x.parse().expect("x"), y.parse().expect("y"))
                })
                .collect()
        })
        .collect()
}

/// The text content of every `<text>` element.
pub fn texts(svg: &str) -> Vec<String> {
    svg.match_indices("<text")
        .filter_map(|(i, _)| {
            let start = i + svg[i..].find('>')? + 1;
            let end = start + svg[start..].find("</text>")?;
            Some(svg[start..end].trim().to_string())
        })
        .collect()
}
