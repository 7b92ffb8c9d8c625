//! Replays a committed fuzz corpus (fuzz/corpus/<target>/*) through a cargo-fuzz entry point, without
//! cargo-fuzz. Included with `#[path]` by the replay tests of the crates that own the entry points.

use std::path::{Path, PathBuf};

/// The corpus files of `target`, sorted; panics when the folder is missing or empty.
pub fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{}: empty corpus", dir.display());
    files
}

/// Runs `entry` on every corpus file of `target`; a panic names the file.
pub fn replay(target: &str, entry: fn(&[u8])) {
    for path in corpus(target) {
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if std::panic::catch_unwind(|| entry(&bytes)).is_err() {
            panic!("{} panics", path.display());
        }
    }
}
