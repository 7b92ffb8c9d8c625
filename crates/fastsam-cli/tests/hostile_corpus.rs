//! Replays the committed fuzz corpora (fuzz/corpus/<target>/*) through the same entry points the cargo-fuzz
//! targets call, without cargo-fuzz: every input that ever found new coverage must still run without a panic.

#[path = "../../../fuzz/src/entries.rs"]
mod entries;

use std::path::{Path, PathBuf};

fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{}: empty corpus", dir.display());
    files
}

fn replay(target: &str, entry: fn(&[u8])) {
    for path in corpus(target) {
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if std::panic::catch_unwind(|| entry(&bytes)).is_err() {
            panic!("{} panics", path.display());
        }
    }
}

#[test]
fn pickle_checkpoint_corpus() {
    replay("pickle_checkpoint", entries::pickle_checkpoint);
}

#[test]
fn image_decode_corpus() {
    replay("image_decode", entries::image_decode);
}

#[test]
fn rle_corpus() {
    replay("rle", entries::rle);
}

#[test]
fn server_request_corpus() {
    replay("server_request", entries::server_request);
}
