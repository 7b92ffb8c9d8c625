//! Python 3.11 string semantics CLIP relies on: `str.lower`, `str.strip`, and `regex.sub(r'\s+', ' ')`.

use super::tables::tables;

const CAPITAL_SIGMA: char = '\u{3a3}';

/// `str.lower()`: full lowercase mappings (`İ` → `i̇`), and CPython's Final_Sigma rule for `Σ`.
pub(crate) fn lower(text: &str) -> String {
    if text.is_ascii() {
        return text.to_ascii_lowercase();
    }
    let t = tables();
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        if c == CAPITAL_SIGMA {
            out.push(if is_final_sigma(&chars, i) { '\u{3c2}' } else { '\u{3c3}' });
        } else if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            match t.lower.get(&c) {
                Some(low) => out.push_str(low),
                None => out.push(c),
            }
        }
    }
    out
}

/// CPython's `handle_capital_sigma`: a cased letter before (skipping case-ignorable characters) and none
/// after.
fn is_final_sigma(chars: &[char], i: usize) -> bool {
    let t = tables();
    let before = chars[..i].iter().rev().find(|&&c| !t.case_ignorable.contains(c));
    if !before.is_some_and(|&c| t.cased.contains(c)) {
        return false;
    }
    let after = chars[i + 1..].iter().find(|&&c| !t.case_ignorable.contains(c));
    !after.is_some_and(|&c| t.cased.contains(c))
}

/// `str.strip()`.
pub(crate) fn strip(text: &str) -> &str {
    let t = tables();
    text.trim_matches(|c: char| t.py_space.contains(c))
}

/// CLIP's `whitespace_clean`: every run of `regex`'s `\s` becomes one space, then `str.strip()`.
pub(crate) fn whitespace_clean(text: &str) -> String {
    let t = tables();
    let mut out = String::with_capacity(text.len());
    let mut in_space = false;
    for c in text.chars() {
        if t.regex_space.contains(c) {
            if !in_space {
                out.push(' ');
            }
            in_space = true;
        } else {
            out.push(c);
            in_space = false;
        }
    }
    strip(&out).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_follows_python() {
        // Values from Python 3.11: 'ΟΔΟΣ ΣΑ'.lower(), 'İ'.lower(), 'ΑΣ\u0301'.lower().
        assert_eq!(lower("ΟΔΟΣ ΣΑ"), "οδος σα");
        assert_eq!(lower("İ"), "i\u{307}");
        assert_eq!(lower("ΑΣ\u{301}"), "ας\u{301}");
        assert_eq!(lower("Σ"), "σ");
    }

    #[test]
    fn whitespace_follows_python() {
        // '\x1c' is str whitespace but not regex's \s: strip removes it at the ends only.
        assert_eq!(whitespace_clean("\u{1c} a \u{3000}\t b\u{a0}"), "a b");
        assert_eq!(whitespace_clean("a\u{1c}b"), "a\u{1c}b");
    }
}
