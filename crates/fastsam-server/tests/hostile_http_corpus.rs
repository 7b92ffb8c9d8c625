//! Replays the committed `server_http` fuzz corpus (fuzz/corpus/server_http/*) through the same entry point
//! the cargo-fuzz target calls, without cargo-fuzz: every request that ever found new coverage must still be
//! answered with a 2xx, a JSON 4xx or a 503, never a panic or a 500.

#[path = "../../../fuzz/src/http.rs"]
mod http;

use std::path::Path;

#[test]
fn server_http_corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/server_http");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{}: empty corpus", dir.display());
    for path in files {
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if std::panic::catch_unwind(|| http::server_http(&bytes)).is_err() {
            panic!("{} fails", path.display());
        }
    }
}
