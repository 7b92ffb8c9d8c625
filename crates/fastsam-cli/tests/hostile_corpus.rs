//! Replays the committed fuzz corpora (fuzz/corpus/<target>/*) through the same entry points the cargo-fuzz
//! targets call, without cargo-fuzz: every input that ever found new coverage must still run without a panic.

#[path = "../../../fuzz/src/entries.rs"]
mod entries;

#[path = "../../../fuzz/src/replay.rs"]
mod replay;

use replay::replay;

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
