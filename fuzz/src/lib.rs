//! Fuzzing entry points, shared by the cargo-fuzz targets and by the plain `cargo test`s that replay the
//! committed corpora (crates/fastsam-cli/tests/hostile_corpus.rs includes `entries.rs`,
//! crates/fastsam-server/tests/hostile_http_corpus.rs includes `http.rs`, both with `#[path]`).

pub mod entries;
pub mod http;
