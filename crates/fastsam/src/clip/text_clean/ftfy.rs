//! ftfy 6.3.1's `fix_text` with its default configuration, as `clip/simple_tokenizer.py` calls it.
//!
//! Ported from ftfy (`ftfy/__init__.py`, `fixes.py`, `chardata.py`), Apache-2.0, Copyright 2023 Robyn
//! Speer; see `assets/clip/LICENSE.ftfy.txt`. `fix_surrogates` has no counterpart: a Rust `&str` cannot
//! hold surrogates, and none of the steps here can produce one.

use std::sync::OnceLock;

use regex::Regex;
use unicode_normalization::UnicodeNormalization;

use super::html::ftfy_unescape;
use super::mojibake::{fix_c1_controls, fix_encoding};
use super::tables::tables;

/// ftfy fixes text in segments: lines (with their `\n`), cut every million characters if longer.
const MAX_SEGMENT_CHARS: usize = 1_000_000;

/// `ftfy.fix_text(text)`.
pub(crate) fn fix_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // `unescape_html="auto"`: a `<` means real HTML, whose entities stay. ftfy switches the option off
    // for the segment that has one and, because it keeps the changed config, for every segment after it.
    let mut unescape = true;
    let mut rest = text;
    while !rest.is_empty() {
        let end = segment_end(rest);
        let (segment, tail) = rest.split_at(end);
        unescape &= !segment.contains('<');
        out.push_str(&fix_segment(segment, unescape));
        rest = tail;
    }
    out
}

fn segment_end(text: &str) -> usize {
    let line_end = text.find('\n').map_or(text.len(), |i| i + 1);
    match text[..line_end].char_indices().nth(MAX_SEGMENT_CHARS) {
        Some((cut, _)) => cut,
        None => line_end,
    }
}

/// ftfy's `fix_and_explain`: apply every fixer in order until the text stops changing.
fn fix_segment(segment: &str, unescape: bool) -> String {
    let mut text = segment.to_owned();
    loop {
        let original = text.clone();
        if unescape {
            text = ftfy_unescape(&text);
        }
        text = fix_encoding(&text);
        text = fix_c1_controls(&text);
        text = map_chars(&text, |c| tables().ligatures.get(&c).map(String::as_str));
        text = map_chars(&text, |c| tables().width.get(&c).map(String::as_str));
        text = uncurl_quotes(&text);
        text = fix_line_breaks(&text);
        text = remove_terminal_escapes(&text);
        text.retain(|c| !is_removed_control(c));
        text = nfc(&text);
        if text == original {
            return text;
        }
    }
}

/// `str.translate` with a map to strings.
fn map_chars<'a>(text: &str, map: impl Fn(char) -> Option<&'a str>) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match map(c) {
            Some(s) => out.push_str(s),
            None => out.push(c),
        }
    }
    out
}

fn uncurl_quotes(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{201c}'..='\u{201f}' => '"',
            '\u{2bc}' | '\u{2018}'..='\u{201b}' => '\'',
            c => c,
        })
        .collect()
}

fn fix_line_breaks(text: &str) -> String {
    text.replace("\r\n", "\n").replace(['\r', '\u{2028}', '\u{2029}', '\u{85}'], "\n")
}

/// "ANSI" terminal escapes such as colour codes.
fn remove_terminal_escapes(text: &str) -> String {
    static ANSI: OnceLock<Regex> = OnceLock::new();
    if !text.contains('\u{1b}') {
        return text.to_owned();
    }
    let ansi = ANSI.get_or_init(|| {
        Regex::new(tables().regex("ansi_escape"))
            .unwrap_or_else(|e| panic!("generated regex ansi_escape does not compile: {e}"))
    });
    ansi.replace_all(text, "").into_owned()
}

/// ftfy's `remove_control_chars`: controls with no displayed effect (whitespace controls, C1, joiners,
/// bidi marks and tag characters stay).
fn is_removed_control(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{8}' | '\u{b}' | '\u{e}'..='\u{1f}' | '\u{7f}'
        | '\u{206a}'..='\u{206f}' | '\u{feff}' | '\u{fff9}'..='\u{fffc}')
}

/// `unicodedata.normalize("NFC", text)` as Python 3.11 (Unicode 14.0) does it. A codepoint unassigned in
/// 14.0 is, to Python, a starter that composes with nothing, so it splits the text into stretches that
/// normalize independently; normalizing them apart keeps newer Unicode data from touching it.
fn nfc(text: &str) -> String {
    if text.is_ascii() {
        return text.to_owned();
    }
    let unassigned = &tables().unassigned;
    let mut out = String::with_capacity(text.len());
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if unassigned.contains(c) {
            out.extend(text[start..i].nfc());
            out.push(c);
            start = i + c.len_utf8();
        }
    }
    out.extend(text[start..].nfc());
    out
}
