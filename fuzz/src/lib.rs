//! Fuzzing entry points, shared by the cargo-fuzz targets and by the plain `cargo test` that replays the
//! committed corpora (crates/fastsam-cli/tests/hostile_corpus.rs includes these files with `#[path]`).

pub mod entries;
