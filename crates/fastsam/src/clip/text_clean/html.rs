//! HTML character references: Python's `html.unescape` (which CLIP applies twice) and ftfy's stricter
//! `unescape_html` (only `;`-terminated references, plus upper-cased names such as `&EACUTE;`).

use std::sync::OnceLock;

use regex::{Captures, Regex};

use super::tables::tables;

fn compiled(name: &'static str, cell: &'static OnceLock<Regex>) -> &'static Regex {
    cell.get_or_init(|| {
        Regex::new(tables().regex(name)).unwrap_or_else(|e| panic!("generated regex {name} does not compile: {e}"))
    })
}

/// Python's `html.unescape`.
pub(crate) fn py_unescape(text: &str) -> String {
    static CHARREF: OnceLock<Regex> = OnceLock::new();
    if !text.contains('&') {
        return text.to_owned();
    }
    compiled("html_charref", &CHARREF).replace_all(text, |caps: &Captures| replace_charref(&caps[1])).into_owned()
}

/// Python's `html._replace_charref`; `body` is the reference without its leading `&`.
fn replace_charref(body: &str) -> String {
    if let Some(number) = body.strip_prefix('#') {
        let number = number.trim_end_matches(';');
        let value = match number.strip_prefix(['x', 'X']) {
            Some(hex) => parse_saturating(hex, 16),
            None => parse_saturating(number, 10),
        };
        return numeric_charref(value);
    }
    let html5 = &tables().html5;
    if let Some(value) = html5.get(body) {
        return value.clone();
    }
    // The longest prefix (of at least two characters) that names an entity, as the HTML standard says.
    let boundaries: Vec<usize> = body.char_indices().map(|(i, _)| i).skip(2).collect();
    for &end in boundaries.iter().rev() {
        if let Some(value) = html5.get(&body[..end]) {
            return format!("{value}{}", &body[end..]);
        }
    }
    format!("&{body}")
}

/// Digits to a number, saturating above the Unicode range (any such value decodes the same way).
fn parse_saturating(digits: &str, radix: u32) -> u32 {
    digits
        .chars()
        .filter_map(|d| d.to_digit(radix))
        .fold(0u32, |acc, d| acc.saturating_mul(radix).saturating_add(d).min(0x11_0000))
}

fn numeric_charref(value: u32) -> String {
    match value {
        // Python's `_invalid_charrefs`: NUL, CR, and the C1 range read as Windows-1252.
        0x00 => "\u{fffd}".into(),
        0x0d => "\r".into(),
        0x80..=0x9f => tables().charmap("sloppy-windows-1252")[value as usize].to_string(),
        0xd800..=0xdfff | 0x11_0000.. => "\u{fffd}".into(),
        // Python's `_invalid_codepoints` decode to nothing.
        0x01..=0x08 | 0x0b | 0x0e..=0x1f | 0x7f | 0xfdd0..=0xfdef => String::new(),
        v if v & 0xfffe == 0xfffe => String::new(),
        v => char::from_u32(v).map(String::from).unwrap_or_default(),
    }
}

/// ftfy's `unescape_html`.
pub(crate) fn ftfy_unescape(text: &str) -> String {
    static ENTITY: OnceLock<Regex> = OnceLock::new();
    if !text.contains('&') {
        return text.to_owned();
    }
    let t = tables();
    compiled("html_entity", &ENTITY)
        .replace_all(text, |caps: &Captures| {
            let reference = &caps[0];
            if let Some(value) = t.ftfy_upper.get(reference).or_else(|| t.html5.get(&reference[1..])) {
                return value.clone();
            }
            if reference.starts_with("&#") {
                let decoded = py_unescape(reference);
                // A partial decode (which leaves the `;` behind) is not what ftfy wants.
                if !decoded.contains(';') {
                    return decoded;
                }
            }
            reference.to_owned()
        })
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_unescape_cases() {
        // (input, Python 3.11.7 html.unescape(input))
        let cases = [
            ("&amp", "&"),
            ("&ampfoo", "&foo"),
            ("&#x41;", "A"),
            ("&#65", "A"),
            ("&#0;", "\u{fffd}"),
            ("&#x80;", "€"),
            ("&#xD800;", "\u{fffd}"),
            ("&#1114112;", "\u{fffd}"),
            ("&#11;", ""),
            ("&notit;", "¬it;"),
            ("&notin;", "∉"),
            ("&nosuch;", "&nosuch;"),
            ("&#x;", "&#x;"),
            ("&;", "&;"),
            ("&am", "&am"),
        ];
        for (input, expected) in cases {
            assert_eq!(py_unescape(input), expected, "{input}");
        }
    }
}
