//! A real server on 127.0.0.1 (real model, real sockets) and a minimal HTTP/1.1 client for the tests.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

use fastsam::mask::Mask;
use fastsam::output::annotations::Annotation;
use fastsam::output::rle::Rle;
use fastsam::FastSam;
use fastsam_server::api::UploadResponse;
use fastsam_server::{AppState, ServerConfig, SharedState, TextModel};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The tiny FastSAM fixture when it exists; otherwise the FastSAM-x-shaped graph fixture, which finds 300
/// masks on bus.jpg (the FastSAM-s-shaped one finds none, leaving nothing to select).
pub fn model_path() -> PathBuf {
    let tiny = repo().join("tests/fixtures/fastsam/fastsam-s-tiny.pt");
    if tiny.exists() {
        tiny
    } else {
        repo().join("tests/fixtures/golden/graph/seg_x.pt")
    }
}

/// The tiny random CLIP fixture (tools/fixtures/clip).
pub fn clip_path() -> PathBuf {
    repo().join("tests/fixtures/clip/clip-tiny.pt")
}

pub fn bus_jpg() -> Vec<u8> {
    std::fs::read(repo().join("examples/bus.jpg")).expect("examples/bus.jpg")
}

pub struct Server {
    pub addr: SocketAddr,
    pub state: SharedState,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl Server {
    pub fn start(config: ServerConfig) -> Server {
        Server::start_with_text(config, TextModel::default())
    }

    /// A server whose text prompts go through `text` (e.g. the tiny CLIP fixture, [`clip_path`]).
    pub fn start_with_text(config: ServerConfig, text: TextModel) -> Server {
        let model = FastSam::load(model_path()).expect("loading the test model");
        let state = AppState::new(model, text, config).expect("starting workers");
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (shutdown, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let served = state.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                addr_tx.send(listener.local_addr()?).expect("test thread waits for the address");
                fastsam_server::serve(listener, served, async {
                    let _ = shutdown_rx.await;
                })
                .await
            })
        });
        let addr = addr_rx.recv().expect("server thread died before listening");
        Server { addr, state, shutdown: Some(shutdown), thread: Some(thread) }
    }

    /// Graceful shutdown: stops accepting, finishes requests in flight, returns.
    pub fn stop(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            t.join().expect("server thread panicked").expect("server failed");
        }
    }

    pub fn get(&self, path: &str) -> Response {
        request(self.addr, "GET", path, &[], b"")
    }

    pub fn delete(&self, path: &str) -> Response {
        request(self.addr, "DELETE", path, &[], b"")
    }

    pub fn post_json(&self, path: &str, body: &str) -> Response {
        request(self.addr, "POST", path, &[("Content-Type", "application/json")], body.as_bytes())
    }

    pub fn upload_multipart(&self, name: &str, bytes: &[u8]) -> Response {
        let (content_type, body) = multipart("file", name, bytes);
        request(self.addr, "POST", "/v1/images", &[("Content-Type", &content_type)], &body)
    }

    pub fn upload_raw(&self, bytes: &[u8]) -> Response {
        request(self.addr, "POST", "/v1/images", &[("Content-Type", "application/octet-stream")], bytes)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.stop_now();
        }
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("status {}: body is not JSON ({e}): {}", self.status, self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// An error answer: the expected status, JSON `{"error": "..."}`; returns the message.
    pub fn error(&self, status: u16) -> String {
        assert_eq!(self.status, status, "body: {}", self.text());
        assert!(self.header("content-type").unwrap_or("").starts_with("application/json"), "{:?}", self.headers);
        self.json()["error"].as_str().unwrap_or_else(|| panic!("no error field: {}", self.text())).to_string()
    }
}

pub fn multipart(field: &str, file_name: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "fastsam-test-boundary-7c1f";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{file_name}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

pub fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(600))).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes()).unwrap();
    // The server may answer (413) and close before reading all of a large body.
    let _ = stream.write_all(body);
    read_response(&mut stream)
}

pub fn read_response(stream: &mut TcpStream) -> Response {
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Response {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or_else(|| {
        panic!("no HTTP head in {:?}", String::from_utf8_lossy(raw));
    });
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).expect("status line");
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))).collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Response { status, headers, body }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[eol + 2..eol + 2 + size]);
        data = &data[eol + 4 + size..];
    }
    out
}

/// Width and height from a PNG's IHDR.
pub fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let be = |i: usize| u32::from_be_bytes([png[i], png[i + 1], png[i + 2], png[i + 3]]);
    (be(16), be(20))
}

/// Resident set size of this process (server included: it runs in-process), in bytes.
pub fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

pub fn masks_of(upload: &UploadResponse) -> Vec<Mask> {
    upload
        .annotations
        .iter()
        .map(|a| {
            Rle::from_string(a.segmentation.size[0], a.segmentation.size[1], &a.segmentation.counts)
                .and_then(|r| r.decode())
                .expect("annotation RLE")
        })
        .collect()
}

pub fn assert_same_annotations(got: &[Annotation], want: &[Annotation]) {
    assert_eq!(got.len(), want.len());
    // Boxes and scores are f32 values written as f64; serde_json's default float parser may miss the last
    // f64 bit, never the f32.
    let f32s = |a: &Annotation| (a.bbox.map(|v| v as f32), a.score as f32);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let reason = |a: &Annotation| (a.text.clone(), a.text_score.map(|v| v as f32), a.point_index);
        let same = (g.id, &g.segmentation, g.area) == (w.id, &w.segmentation, w.area)
            && f32s(g) == f32s(w)
            && reason(g) == reason(w);
        assert!(same, "annotation {i} differs: {g:?} vs {w:?}");
    }
}

/// A pixel inside `mask`: the middle of the longest run of its row nearest the box's middle that has any
/// (a mask need not be convex).
pub fn inside(mask: &Mask) -> (u32, u32) {
    let [_, y0, _, y1] = mask.bbox().expect("non-empty mask");
    let middle = (y0 + y1) / 2;
    let y = (y0..y1).filter(|&y| !mask.row_runs(y).is_empty()).min_by_key(|&y| y.abs_diff(middle)).unwrap();
    let (a, b) = mask.row_runs(y).into_iter().max_by_key(|&(a, b)| b - a).unwrap();
    ((a + b) / 2, y)
}
