//! The character data the text cleaning needs, generated from the Python reference itself by
//! `tools/golden/clip_text_tables.py` (Python 3.11.7 / Unicode 14.0.0, ftfy 6.3.1, regex 2026.11.19) into
//! `assets/clip/text_tables.txt`. Taking it from the reference, rather than from Rust's own Unicode
//! tables, keeps Unicode-version differences between the two from changing a single token.

use std::collections::HashMap;
use std::sync::OnceLock;

const TABLES: &str = include_str!("../../../assets/clip/text_tables.txt");

/// Sorted, disjoint, inclusive codepoint ranges.
pub(crate) struct RangeSet(Vec<(u32, u32)>);

impl RangeSet {
    pub(crate) fn contains(&self, c: char) -> bool {
        let c = c as u32;
        match self.0.binary_search_by(|&(lo, _)| lo.cmp(&c)) {
            Ok(_) => true,
            Err(0) => false,
            Err(i) => c <= self.0[i - 1].1,
        }
    }
}

pub(crate) struct Tables {
    /// `regex`'s `\s` (CLIP's whitespace_clean).
    pub(crate) regex_space: RangeSet,
    /// `str.isspace` (`str.strip`).
    pub(crate) py_space: RangeSet,
    /// Characters `str.lower` skips when deciding whether a capital sigma ends a word.
    pub(crate) case_ignorable: RangeSet,
    /// Cased characters that are not case-ignorable.
    pub(crate) cased: RangeSet,
    /// Codepoints unassigned in Unicode 14.0 (what Python's NFC leaves alone).
    pub(crate) unassigned: RangeSet,
    /// `str.lower` for every character it changes (U+03A3 is context-dependent and handled apart).
    pub(crate) lower: HashMap<char, String>,
    /// ftfy's fix_character_width and fix_latin_ligatures maps.
    pub(crate) width: HashMap<char, String>,
    pub(crate) ligatures: HashMap<char, String>,
    /// Python's `html.entities.html5` (names without the `&`, some without `;`).
    pub(crate) html5: HashMap<String, String>,
    /// ftfy's upper-case entity spellings (`&EACUTE;`) that html5 lacks.
    pub(crate) ftfy_upper: HashMap<String, String>,
    /// ftfy's CHARMAP_ENCODINGS in trial order: what each byte decodes to.
    pub(crate) charmaps: Vec<(String, [char; 256])>,
    regexes: HashMap<String, String>,
}

impl Tables {
    /// A pattern emitted by the generator for Rust's `regex` crate.
    pub(crate) fn regex(&self, name: &str) -> &str {
        self.regexes
            .get(name)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("assets/clip/text_tables.txt has no regex {name:?}; regenerate it"))
    }

    pub(crate) fn charmap(&self, name: &str) -> &[char; 256] {
        self.charmaps
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, m)| m)
            .unwrap_or_else(|| panic!("assets/clip/text_tables.txt has no charmap {name:?}; regenerate it"))
    }
}

/// The tables, parsed once. They are compiled into the binary, so a parse failure is a build defect
/// (caught by the tests), not something input can cause.
pub(crate) fn tables() -> &'static Tables {
    static TABLES_ONCE: OnceLock<Tables> = OnceLock::new();
    TABLES_ONCE.get_or_init(|| parse(TABLES).unwrap_or_else(|e| panic!("assets/clip/text_tables.txt is corrupt: {e}")))
}

fn parse(text: &str) -> Result<Tables, String> {
    let mut sections: HashMap<(String, String), Vec<&str>> = HashMap::new();
    let mut order: Vec<(String, String)> = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        if let Some(header) = line.strip_prefix('@') {
            let (kind, name) = header.split_once(' ').ok_or_else(|| format!("bad header {line:?}"))?;
            let key = (kind.to_owned(), name.to_owned());
            order.push(key.clone());
            sections.insert(key.clone(), Vec::new());
            current = Some(key);
        } else {
            let key = current.as_ref().ok_or("data before the first section")?;
            sections.get_mut(key).ok_or("lost section")?.push(line);
        }
    }
    let body = |kind: &str, name: &str| -> Result<&Vec<&str>, String> {
        sections.get(&(kind.to_owned(), name.to_owned())).ok_or_else(|| format!("missing @{kind} {name}"))
    };
    let ranges =
        |name: &str| -> Result<RangeSet, String> { parse_ranges(body("ranges", name)?.first().copied().unwrap_or("")) };
    let map = |name: &str| -> Result<HashMap<char, String>, String> {
        body("map", name)?
            .iter()
            .map(|line| {
                let (k, v) = line.split_once('\t').ok_or_else(|| format!("bad map line {line:?}"))?;
                Ok((parse_char(k)?, parse_string(v)?))
            })
            .collect()
    };
    let entities = |name: &str| -> Result<HashMap<String, String>, String> {
        body("entities", name)?
            .iter()
            .map(|line| {
                let (k, v) = line.split_once('\t').ok_or_else(|| format!("bad entity line {line:?}"))?;
                Ok((k.to_owned(), parse_string(v)?))
            })
            .collect()
    };
    let mut charmaps = Vec::new();
    let mut regexes = HashMap::new();
    for key in &order {
        let lines = &sections[key];
        match key.0.as_str() {
            "charmap" => {
                let chars: Vec<char> =
                    lines.first().copied().unwrap_or("").split(' ').map(parse_char).collect::<Result<_, _>>()?;
                let chars: [char; 256] = chars.try_into().map_err(|_| format!("charmap {} is not 256 long", key.1))?;
                charmaps.push((key.1.clone(), chars));
            }
            "regex" => {
                regexes.insert(key.1.clone(), lines.first().copied().unwrap_or("").to_owned());
            }
            _ => {}
        }
    }
    Ok(Tables {
        regex_space: ranges("regex_space")?,
        py_space: ranges("py_space")?,
        case_ignorable: ranges("case_ignorable")?,
        cased: ranges("cased")?,
        unassigned: ranges("unassigned")?,
        lower: map("lower")?,
        width: map("width")?,
        ligatures: map("ligatures")?,
        html5: entities("html5")?,
        ftfy_upper: entities("ftfy_upper")?,
        charmaps,
        regexes,
    })
}

fn parse_hex(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s, 16).map_err(|e| format!("bad hex {s:?}: {e}"))
}

fn parse_char(s: &str) -> Result<char, String> {
    char::from_u32(parse_hex(s)?).ok_or_else(|| format!("{s} is not a scalar value"))
}

fn parse_string(s: &str) -> Result<String, String> {
    s.split(' ').map(parse_char).collect()
}

fn parse_ranges(line: &str) -> Result<RangeSet, String> {
    let mut out = Vec::new();
    for item in line.split(' ').filter(|s| !s.is_empty()) {
        let (lo, hi) = match item.split_once('-') {
            Some((lo, hi)) => (parse_hex(lo)?, parse_hex(hi)?),
            None => (parse_hex(item)?, parse_hex(item)?),
        };
        out.push((lo, hi));
    }
    if out.windows(2).any(|w| w[0].1 >= w[1].0) {
        return Err("ranges are not sorted and disjoint".into());
    }
    Ok(RangeSet(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_parse_and_hold_what_the_pipeline_needs() {
        let t = tables();
        assert!(t.py_space.contains('\u{1f}') && !t.regex_space.contains('\u{1f}'));
        assert!(t.regex_space.contains('\u{3000}') && !t.regex_space.contains('a'));
        assert_eq!(t.lower[&'\u{130}'], "i\u{307}");
        assert_eq!(t.html5["amp;"], "&");
        assert_eq!(t.charmaps.len(), 10);
        assert_eq!(t.charmap("sloppy-windows-1252")[0x80], '€');
        for name in ["token", "badness", "utf8_detector", "html_charref", "altered_utf8", "lossy_utf8"] {
            assert!(!t.regex(name).is_empty());
        }
    }
}
