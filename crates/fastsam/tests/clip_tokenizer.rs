//! The CLIP tokenizer against OpenAI's `clip/simple_tokenizer.py` (ftfy 6.3.1, regex 2026.11.19):
//! the shared golden file (shared/data/clip/tokenizer_golden.jsonl) and the extra cases produced by
//! tools/golden/tokenizer.py (tests/fixtures/golden/clip/extra.jsonl).

use std::path::{Path, PathBuf};

use fastsam::clip::text_clean;
use fastsam::clip::tokenizer::{ClipTokenizer, CONTEXT_LENGTH, END_OF_TEXT, START_OF_TEXT};
use serde_json::Value;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `<repo>/../shared`, as CI lays it out; a git worktree one level deeper finds it one level up.
fn shared_dir() -> PathBuf {
    let root = repo_root();
    [root.join("../shared"), root.join("../../shared")]
        .into_iter()
        .find(|p| p.join("data/clip").is_dir())
        .unwrap_or_else(|| panic!("shared/data/clip not found beside {}", root.display()))
}

fn read_jsonl(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}: {l}", path.display())))
        .collect()
}

fn ids(value: &Value) -> Vec<u32> {
    value.as_array().expect("ids array").iter().map(|v| v.as_u64().expect("id") as u32).collect()
}

#[test]
fn shared_golden_is_reproduced_exactly() {
    let tokenizer = ClipTokenizer::global();
    let lines = read_jsonl(&shared_dir().join("data/clip/tokenizer_golden.jsonl"));
    assert_eq!(lines.len(), 173);
    let mut failures = Vec::new();
    for line in &lines {
        let text = line["text"].as_str().expect("text");
        let expected = ids(&line["ids"]);
        let got = tokenizer.tokenize_unpadded(text);
        if got != expected {
            failures.push(format!("{text:?}\n  expected {expected:?}\n  got      {got:?}"));
        }
    }
    println!("shared golden: {}/{} exact", lines.len() - failures.len(), lines.len());
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn extra_golden_is_reproduced_exactly() {
    let tokenizer = ClipTokenizer::global();
    let lines = read_jsonl(&repo_root().join("tests/fixtures/golden/clip/extra.jsonl"));
    let mut failures = Vec::new();
    for line in &lines {
        let text = line["text"].as_str().expect("text");
        let kind = line["kind"].as_str().unwrap_or("?");
        let fixed = text_clean::fix_text(text);
        let clean = text_clean::clean(text);
        let got = tokenizer.encode(text);
        let expected = ids(&line["ids"]);
        if fixed != line["fix_text"].as_str().expect("fix_text") {
            failures.push(format!("[{kind}] fix_text({text:?}) = {fixed:?}, expected {:?}", line["fix_text"]));
        } else if clean != line["clean"].as_str().expect("clean") {
            failures.push(format!("[{kind}] clean({text:?}) = {clean:?}, expected {:?}", line["clean"]));
        } else if got != expected {
            failures.push(format!("[{kind}] encode({text:?}) = {got:?}, expected {expected:?}"));
        }
    }
    println!("extra golden: {}/{} exact", lines.len() - failures.len(), lines.len());
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn tokenize_pads_and_truncates_like_clip_tokenize() {
    let tokenizer = ClipTokenizer::global();
    // From the shared golden: "a photo of a cat" → [49406, 320, 1125, 539, 320, 2368, 49407].
    let padded = tokenizer.tokenize("a photo of a cat", CONTEXT_LENGTH, false).expect("fits");
    assert_eq!(padded.len(), CONTEXT_LENGTH);
    assert_eq!(&padded[..7], &[49406, 320, 1125, 539, 320, 2368, 49407]);
    assert!(padded[7..].iter().all(|&v| v == 0));

    // "cat " * 76 is 78 ids before truncation (shared golden): an error unless truncating.
    let long = "cat ".repeat(76);
    assert!(tokenizer.tokenize(&long, CONTEXT_LENGTH, false).is_err());
    let cut = tokenizer.tokenize(&long, CONTEXT_LENGTH, true).expect("truncated");
    assert_eq!(cut.len(), CONTEXT_LENGTH);
    assert_eq!(cut[0], i64::from(START_OF_TEXT));
    assert_eq!(cut[CONTEXT_LENGTH - 1], i64::from(END_OF_TEXT));
    assert_eq!(tokenizer.encode("cat"), vec![2368]);
    assert!(cut[1..CONTEXT_LENGTH - 1].iter().all(|&v| v == 2368));
}
