//! CLIP's text normalisation before BPE, exactly as `clip/simple_tokenizer.py` does it:
//! `whitespace_clean(basic_clean(text)).lower()`, where `basic_clean` is `ftfy.fix_text` (ftfy 6.3.1)
//! then `html.unescape` twice then `str.strip`.
//!
//! The character data comes from the Python reference itself (see `tables`), so the result follows
//! Python 3.11's Unicode 14.0 and the `regex` module's classes, not Rust's newer Unicode tables.
//! Known divergences (none reachable from realistic prompts): Python raises on a decimal character
//! reference longer than 4300 digits, and Python strings may hold lone surrogates, which `&str` cannot.

mod ftfy;
mod html;
mod mojibake;
mod pystr;
pub(crate) mod tables;

/// The text CLIP's pre-tokenizer sees.
pub fn clean(text: &str) -> String {
    let fixed = ftfy::fix_text(text);
    let unescaped = html::py_unescape(&html::py_unescape(&fixed));
    pystr::lower(&pystr::whitespace_clean(pystr::strip(&unescaped)))
}

/// `ftfy.fix_text(text)` with ftfy's default configuration.
pub fn fix_text(text: &str) -> String {
    ftfy::fix_text(text)
}
