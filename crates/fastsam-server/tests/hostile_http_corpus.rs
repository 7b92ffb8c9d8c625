//! Replays the committed `server_http` fuzz corpus (fuzz/corpus/server_http/*) through the same entry point
//! the cargo-fuzz target calls, without cargo-fuzz: every request that ever found new coverage must still be
//! answered with a 2xx, a JSON 4xx or a 503, never a panic or a 500.

#[path = "../../../fuzz/src/http.rs"]
mod http;

#[path = "../../../fuzz/src/replay.rs"]
mod replay;

#[test]
fn server_http_corpus() {
    replay::replay("server_http", http::server_http);
}
