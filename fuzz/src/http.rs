//! The `server_http` target: whole HTTP requests into the server's real router (tiny real model, real cache,
//! real worker pool), without sockets. Kept apart from `entries.rs` because it needs the server crate and
//! tokio: its corpus is replayed by crates/fastsam-server/tests/hostile_http_corpus.rs, which includes this
//! file with `#[path]`.
//!
//! Input: `METHOD PATH` on the first line, then `Name: value` header lines, an empty line, and the body.
//! `@ID` anywhere in the path stands for the id of an image uploaded when the target starts, so prompts and
//! renders reach their handlers instead of stopping at "unknown image".

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderName, HeaderValue, Method, Request};
use axum::Router;
use fastsam::model::EngineOptions;
use fastsam::{FastSam, SegmentOptions};
use fastsam_server::{router, AppState, ServerConfig, SharedState, TextModel};
use tower::ServiceExt;

/// Stands for the seeded image's id in a fuzzed path.
pub const ID_PLACEHOLDER: &str = "@ID";

struct Harness {
    runtime: tokio::runtime::Runtime,
    state: SharedState,
    app: Router,
    seed_image: Vec<u8>,
    /// The seeded image's id; uploaded again (new id) when a fuzzed DELETE or cache eviction removed it.
    seed_id: Mutex<String>,
}

/// The repository root, found upwards from this crate (the fuzz crate or the server crate, whichever
/// includes this file).
fn repo() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .find(|p| p.join("tests/fixtures/fastsam").is_dir())
        .unwrap_or_else(|| panic!("no repository root above {}", here.display()))
        .to_path_buf()
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let root = repo();
        let engine = EngineOptions { intra_threads: Some(1), ..EngineOptions::default() };
        // A small inference size keeps every accepted upload cheap; the handlers run the same code paths.
        let options = SegmentOptions { imgsz: 128, reference_threads: 1, ..SegmentOptions::default() };
        let model = FastSam::load_with(root.join("tests/fixtures/fastsam/fastsam-s-tiny.pt"), &engine)
            .and_then(|m| m.with_options(options))
            .expect("loading the tiny test model (set ORT_DYLIB_PATH, see tools/setup-ort.sh)");
        let config = ServerConfig {
            max_upload_bytes: 256 * 1024,
            max_pixels: 1 << 20,
            cache_bytes: 64 << 20,
            workers: 1,
            queue: 1,
            request_timeout: Duration::from_secs(60),
            retry_after_secs: 1,
            ..ServerConfig::default()
        };
        let state = AppState::new(model, TextModel::default(), config).expect("starting the worker pool");
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
        let app = router(state.clone());
        let seed_image = std::fs::read(root.join("examples/bus.jpg")).expect("examples/bus.jpg");
        let h = Harness { runtime, state, app, seed_image, seed_id: Mutex::new(String::new()) };
        h.ensure_seed();
        h
    })
}

impl Harness {
    fn ensure_seed(&self) -> String {
        let mut id = self.seed_id.lock().unwrap_or_else(|e| e.into_inner());
        if id.is_empty() || self.state.cache.get(&id).is_none() {
            let req = Request::post("/v1/images")
                .header(header::CONTENT_TYPE, "application/octet-stream")
                .body(Body::from(self.seed_image.clone()))
                .expect("seed request");
            let (status, body) = self.send(req);
            assert_eq!(status, 200, "seed upload: {}", String::from_utf8_lossy(&body));
            let json: serde_json::Value = serde_json::from_slice(&body).expect("seed upload answer is JSON");
            *id = json["id"].as_str().expect("seed upload answer has an id").to_string();
        }
        id.clone()
    }

    fn send(&self, req: Request<Body>) -> (u16, Vec<u8>) {
        self.runtime.block_on(async {
            let res = self.app.clone().oneshot(req).await.expect("the router is infallible");
            let status = res.status().as_u16();
            let is_json = res
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/json"));
            let body = axum::body::to_bytes(res.into_body(), usize::MAX).await.expect("response body");
            if status >= 400 {
                assert!(is_json, "status {status}: error body is not JSON: {}", String::from_utf8_lossy(&body));
            }
            (status, body.to_vec())
        })
    }
}

/// Parses the fuzz input into a request; `None` for what an HTTP/1 parser (hyper) would refuse before the
/// router ever saw it (bad method, URI or header syntax).
fn parse_request(data: &[u8], seed_id: &str) -> Option<Request<Body>> {
    let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&data[..i], &data[i + 2..]),
        None => (data, &data[data.len()..]),
    };
    let mut lines = head.split(|&b| b == b'\n');
    let first = std::str::from_utf8(lines.next()?).ok()?;
    let (method, path) = first.split_once(' ')?;
    let mut builder = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).ok()?)
        .uri(path.trim().replace(ID_PLACEHOLDER, seed_id));
    for line in lines {
        let colon = line.iter().position(|&b| b == b':')?;
        let name = HeaderName::from_bytes(&line[..colon]).ok()?;
        // hyper makes the body exactly Content-Length bytes (or refuses the request): so does this.
        if name == header::CONTENT_LENGTH || name == header::TRANSFER_ENCODING {
            continue;
        }
        builder = builder.header(name, HeaderValue::from_bytes(line[colon + 1..].trim_ascii()).ok()?);
    }
    builder = builder.header(header::CONTENT_LENGTH, body.len());
    builder.body(Body::from(body.to_vec())).ok()
}

/// Any request: never a panic, never a 500 (bad input is the client's error), and every error answer is JSON
/// `{"error": "<non-empty message>"}`.
pub fn server_http(data: &[u8]) {
    let h = harness();
    let seed_id = h.ensure_seed();
    let Some(req) = parse_request(data, &seed_id) else { return };
    let (status, body) = h.send(req);
    assert!(
        (200..300).contains(&status) || (400..500).contains(&status) || status == 503,
        "status {status}: {}",
        String::from_utf8_lossy(&body)
    );
    if status >= 400 {
        let json: serde_json::Value =
            serde_json::from_slice(&body).unwrap_or_else(|e| panic!("status {status}: error body is not JSON ({e})"));
        let message = json["error"].as_str().unwrap_or_default();
        assert!(!message.trim().is_empty(), "status {status}: no error message in {json}");
    }
}
