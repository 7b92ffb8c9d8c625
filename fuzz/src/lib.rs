//! Fuzzing entry points, shared by the cargo-fuzz targets and by the plain `cargo test` that replays the
//! committed corpora (crates/fastsam-cli/tests/hostile_corpus.rs includes these files with `#[path]`).

// The CLI's own `--point`/`--box` parsers, compiled from its source: the binary crate has no library to link.
#[path = "../../crates/fastsam-cli/src/args.rs"]
#[allow(dead_code)]
mod cli_args;
pub mod entries;
