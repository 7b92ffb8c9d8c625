//! ftfy's `fix_encoding`: detect mojibake (UTF-8 decoded as a single-byte encoding) with ftfy's badness
//! heuristic, and undo it by re-encoding and decoding as UTF-8, with ftfy's repairs for bytes that were
//! altered on the way (`restore_byte_a0`, `replace_lossy_sequences`) and for mojibake embedded in
//! otherwise good text (`decode_inconsistent_utf8`).
//!
//! Ported from ftfy 6.3.1 (`ftfy/__init__.py`, `fixes.py`, `badness.py`, `bad_codecs/`), Apache-2.0,
//! Copyright 2023 Robyn Speer; see `assets/clip/LICENSE.ftfy.txt`.

use std::collections::HashMap;
use std::sync::OnceLock;

use regex::bytes::Regex as BytesRegex;
use regex::Regex;

use super::tables::tables;

/// ftfy's encodings (CHARMAP_ENCODINGS order) with what they need for encoding text.
struct Charmap {
    name: String,
    /// Characters that bytes 0x80..=0xFF and 0x1A decode to: what `possible_encoding` accepts beyond ASCII.
    high: HashMap<char, u8>,
    sloppy: bool,
}

struct Detector {
    charmaps: Vec<Charmap>,
    badness: Regex,
    utf8_detector: Regex,
    utf8_not_after: Regex,
    altered_utf8: BytesRegex,
    lossy_utf8: BytesRegex,
    c1_as_1252: [char; 32],
}

fn detector() -> &'static Detector {
    static DETECTOR: OnceLock<Detector> = OnceLock::new();
    DETECTOR.get_or_init(|| {
        let t = tables();
        let charmaps = t
            .charmaps
            .iter()
            .map(|(name, chars)| {
                let high = (0x80..=0xFF).chain([0x1A]).map(|b| (chars[b], b as u8)).collect();
                Charmap { name: name.clone(), high, sloppy: name.starts_with("sloppy") }
            })
            .collect();
        let cp1252 = t.charmap("sloppy-windows-1252");
        Detector {
            charmaps,
            badness: text_regex("badness"),
            utf8_detector: text_regex("utf8_detector"),
            utf8_not_after: text_regex("utf8_detector_not_after"),
            altered_utf8: bytes_regex("altered_utf8"),
            lossy_utf8: bytes_regex("lossy_utf8"),
            c1_as_1252: std::array::from_fn(|i| cp1252[0x80 + i]),
        }
    })
}

fn text_regex(name: &str) -> Regex {
    regex::RegexBuilder::new(tables().regex(name))
        .size_limit(64 << 20)
        .build()
        .unwrap_or_else(|e| panic!("generated regex {name} does not compile: {e}"))
}

fn bytes_regex(name: &str) -> BytesRegex {
    BytesRegex::new(tables().regex(name)).unwrap_or_else(|e| panic!("generated regex {name} does not compile: {e}"))
}

/// ftfy's `is_bad`: does the text contain a sequence that is far likelier mojibake than intended?
pub(crate) fn is_bad(text: &str) -> bool {
    detector().badness.is_match(text)
}

/// ftfy's `fix_encoding` (default configuration): repeat single fixing steps until nothing changes.
pub(crate) fn fix_encoding(text: &str) -> String {
    let mut text = text.to_owned();
    loop {
        let fixed = fix_encoding_step(&text);
        if fixed == text {
            return text;
        }
        text = fixed;
    }
}

/// ftfy's `_fix_encoding_one_step_and_explain`, without the explanation.
fn fix_encoding_step(text: &str) -> String {
    if text.is_ascii() || !is_bad(text) {
        return text.to_owned();
    }
    let d = detector();
    for charmap in &d.charmaps {
        let Some(mut bytes) = encode(text, charmap) else {
            continue;
        };
        if charmap.name != "macroman" && d.altered_utf8.is_match(&bytes) {
            bytes = restore_byte_a0(&bytes);
        }
        if charmap.sloppy {
            bytes = d.lossy_utf8.replace_all(&bytes, "\u{fffd}".as_bytes()).into_owned();
        }
        if let Some(fixed) = decode_utf8_variants(&bytes) {
            return fixed;
        }
    }
    if d.utf8_detector.is_match(text) {
        let fixed = decode_inconsistent_utf8(text);
        if fixed != text {
            return fixed;
        }
    }
    // ftfy next re-reads Latin-1 text as strict Windows-1252 (its test for "text fits both, leave it" looks
    // for the name "windows-1252", which its list never holds). That gives exactly what fix_c1_controls
    // gives below: both map C1 controls through Windows-1252 and change nothing else.
    if text.chars().any(is_c1) {
        return fix_c1_controls(text);
    }
    text.to_owned()
}

/// `text.encode(encoding)` when ftfy's `possible_encoding` allows it, else `None`.
fn encode(text: &str, charmap: &Charmap) -> Option<Vec<u8>> {
    text.chars()
        .map(|c| match c as u32 {
            0x00..=0x19 | 0x1B..=0x7F => Some(c as u8),
            _ => charmap.high.get(&c).copied(),
        })
        .collect()
}

fn is_c1(c: char) -> bool {
    ('\u{80}'..='\u{9f}').contains(&c)
}

/// ftfy's `fix_c1_controls`: C1 controls read as their Windows-1252 (sloppy) characters.
pub(crate) fn fix_c1_controls(text: &str) -> String {
    let d = detector();
    text.chars().map(|c| if is_c1(c) { d.c1_as_1252[c as usize - 0x80] } else { c }).collect()
}

/// ftfy's `restore_byte_a0`: put back byte A0 where a space replaced it inside a UTF-8 sequence.
fn restore_byte_a0(bytes: &[u8]) -> Vec<u8> {
    let bytes = a_grave_words(bytes);
    detector()
        .altered_utf8
        .replace_all(&bytes, |caps: &regex::bytes::Captures| {
            caps[0].iter().map(|&b| if b == b' ' { 0xA0 } else { b }).collect::<Vec<u8>>()
        })
        .into_owned()
}

/// ftfy's `A_GRAVE_WORD_RE` substitution, `\xc3 (?! |quele|quela|quilo|s )` → `\xc3\xa0 `: "Ã " is
/// usually the word "à" whose A0 became a space, except before Portuguese contractions like "às".
fn a_grave_words(bytes: &[u8]) -> Vec<u8> {
    const KEEP_BEFORE: [&[u8]; 5] = [b" ", b"quele", b"quela", b"quilo", b"s "];
    let mut out = Vec::with_capacity(bytes.len() + 8);
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == 0xC3
            && bytes.get(i + 1) == Some(&b' ')
            && !KEEP_BEFORE.iter().any(|w| bytes[i + 2..].starts_with(w))
        {
            out.extend_from_slice(&[0xC3, 0xA0, b' ']);
            i += 2;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// ftfy's `utf-8-variants` codec (strict): UTF-8, plus CESU-8 surrogate pairs and Java's `C0 80` for NUL.
fn decode_utf8_variants(bytes: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(bytes.len());
    let mut rest = bytes;
    while !rest.is_empty() {
        let special = rest.windows(2).position(|w| matches!(w, [0xC0, 0x80] | [0xED, 0xA0..=0xBF]));
        let plain_end = special.unwrap_or(rest.len());
        out.push_str(std::str::from_utf8(&rest[..plain_end]).ok()?);
        rest = &rest[plain_end..];
        match rest {
            [] => {}
            [0xC0, 0x80, ..] => {
                out.push('\0');
                rest = &rest[2..];
            }
            [0xED, hi1 @ 0xA0..=0xAF, lo1 @ 0x80..=0xBF, 0xED, hi2 @ 0xB0..=0xBF, lo2 @ 0x80..=0xBF, ..] => {
                let cp = (((*hi1 as u32) & 0x0F) << 16)
                    + (((*lo1 as u32) & 0x3F) << 10)
                    + (((*hi2 as u32) & 0x0F) << 6)
                    + ((*lo2 as u32) & 0x3F)
                    + 0x10000;
                out.push(char::from_u32(cp)?);
                rest = &rest[6..];
            }
            // A lone or malformed surrogate is an error, as in the strict codec.
            _ => return None,
        }
    }
    Some(out)
}

/// ftfy's `decode_inconsistent_utf8`: fix each UTF-8-looking stretch that is itself bad on its own.
fn decode_inconsistent_utf8(text: &str) -> String {
    let d = detector();
    let total_chars = text.chars().count();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut search_from = 0;
    while let Some(m) = d.utf8_detector.find_at(text, search_from) {
        // The look-behind Rust's regex lacks: no strict continuation character just before the match.
        if let Some(prev) = text[..m.start()].chars().next_back() {
            if d.utf8_not_after.is_match(prev.encode_utf8(&mut [0; 4])) {
                search_from = m.start() + text[m.start()..].chars().next().map_or(1, char::len_utf8);
                continue;
            }
        }
        let found = m.as_str();
        out.push_str(&text[copied..m.start()]);
        if found.chars().count() < total_chars && is_bad(found) {
            out.push_str(&fix_encoding(found));
        } else {
            out.push_str(found);
        }
        copied = m.end();
        search_from = m.end();
    }
    out.push_str(&text[copied..]);
    out
}
