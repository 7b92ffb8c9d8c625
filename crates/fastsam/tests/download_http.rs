//! Downloads against a loopback HTTP server written here: good file, corrupted file, interrupted and resumed
//! download, a server that ignores `Range`, a stalled server, and an unreachable mirror.
//!
//! The served file is tests/fixtures/golden/graph/seg_s.pt; its SHA-256 below was computed with `sha256sum`.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fastsam::weights::download::{download, download_with, part_path, Expected, Progress, Timeouts};
use fastsam::weights::{KnownWeights, ModelCache};
use fastsam::Error;

const SHA256: &str = "f9b728c948adb97363ef18b3ef1973650bb2678c02996117110e4e6656a5dc91";

fn fixture() -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/golden/graph/seg_s.pt");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn expected(len: usize) -> Expected {
    Expected { size: Some(len as u64), sha256: SHA256.into() }
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Good,
    /// One byte in the middle flipped.
    Corrupt,
    /// The first response announces the whole body but the connection closes after this many bytes.
    TruncateFirst(usize),
    /// The first response sends this many bytes, then nothing (the connection stays open).
    StallFirst(usize),
    /// Always the whole file with status 200, whatever the `Range`.
    IgnoreRange,
}

struct Server {
    url: String,
    /// The `Range` header of every request (None when absent), in order.
    ranges: Arc<Mutex<Vec<Option<String>>>>,
}

fn serve(body: Vec<u8>, mode: Mode) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/files", listener.local_addr().unwrap());
    let ranges = Arc::new(Mutex::new(Vec::new()));
    let seen = ranges.clone();
    std::thread::spawn(move || {
        for (i, stream) in listener.incoming().enumerate() {
            let Ok(stream) = stream else { continue };
            let range = read_request(&stream);
            seen.lock().unwrap().push(range.clone());
            let body = body.clone();
            // Each connection on its own thread, so a stalled one does not block the next request.
            std::thread::spawn(move || respond(stream, &body, range, mode, i == 0));
        }
    });
    Server { url, ranges }
}

fn read_request(stream: &TcpStream) -> Option<String> {
    let mut reader = BufReader::new(stream);
    let mut range = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            return range;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("range") {
                range = Some(value.trim().to_string());
            }
        }
    }
}

fn respond(mut stream: TcpStream, body: &[u8], range: Option<String>, mode: Mode, first: bool) {
    let mut body = body.to_vec();
    if mode == Mode::Corrupt {
        let mid = body.len() / 2;
        body[mid] ^= 0xFF;
    }
    let start = match (&range, mode) {
        (_, Mode::IgnoreRange) | (None, _) => None,
        (Some(r), _) => r.strip_prefix("bytes=").and_then(|r| r.trim_end_matches('-').parse::<usize>().ok()),
    };
    let total = body.len();
    let (head, payload) = match start {
        Some(s) => (
            format!(
                "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {s}-{}/{total}\r\n\
                 Connection: close\r\n\r\n",
                total - s,
                total - 1
            ),
            &body[s..],
        ),
        None => (format!("HTTP/1.1 200 OK\r\nContent-Length: {total}\r\nConnection: close\r\n\r\n"), &body[..]),
    };
    let _ = stream.write_all(head.as_bytes());
    match mode {
        Mode::TruncateFirst(n) if first => {
            let _ = stream.write_all(&payload[..n]);
        }
        Mode::StallFirst(n) if first => {
            let _ = stream.write_all(&payload[..n]);
            let _ = stream.flush();
            std::thread::sleep(Duration::from_secs(5));
        }
        _ => {
            let _ = stream.write_all(payload);
        }
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fastsam-download-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn no_progress() -> impl FnMut(Progress) {
    |_| {}
}

fn sha256_of(path: &Path) -> String {
    fastsam::weights::download::sha256_file(path).unwrap()
}

#[test]
fn good_file_is_downloaded_verified_and_renamed() {
    let body = fixture();
    let server = serve(body.clone(), Mode::Good);
    let target = temp_dir("good").join("seg_s.pt");
    let mut last = None;
    download(&server.url, &target, &expected(body.len()), &mut |p| last = Some(p)).unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), body);
    assert!(!part_path(&target).exists());
    assert_eq!(last, Some(Progress { done: body.len() as u64, total: Some(body.len() as u64) }));
    assert_eq!(*server.ranges.lock().unwrap(), vec![None]);
}

#[test]
fn corrupted_file_is_rejected_and_deleted() {
    let body = fixture();
    let server = serve(body.clone(), Mode::Corrupt);
    let target = temp_dir("corrupt").join("seg_s.pt");
    let err = download(&server.url, &target, &expected(body.len()), &mut no_progress()).unwrap_err();
    assert!(matches!(err, Error::Download { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("SHA-256") && msg.contains(SHA256) && msg.contains("deleted"), "{msg}");
    assert!(!target.exists());
    assert!(!part_path(&target).exists());
}

#[test]
fn interrupted_download_resumes_with_a_range_request() {
    let body = fixture();
    let cut = 200_000;
    let server = serve(body.clone(), Mode::TruncateFirst(cut));
    let target = temp_dir("resume").join("seg_s.pt");
    let err = download(&server.url, &target, &expected(body.len()), &mut no_progress()).unwrap_err();
    assert!(err.to_string().contains(&server.url), "{err}");
    assert!(!target.exists());
    assert_eq!(std::fs::metadata(part_path(&target)).unwrap().len(), cut as u64);

    download(&server.url, &target, &expected(body.len()), &mut no_progress()).unwrap();
    assert_eq!(sha256_of(&target), SHA256);
    assert_eq!(*server.ranges.lock().unwrap(), vec![None, Some(format!("bytes={cut}-"))]);
}

#[test]
fn stalled_server_times_out_and_the_next_attempt_resumes() {
    let body = fixture();
    let sent = 100_000;
    let server = serve(body.clone(), Mode::StallFirst(sent));
    let target = temp_dir("stall").join("seg_s.pt");
    let timeouts = Timeouts { connect: Duration::from_secs(5), idle: Duration::from_millis(300) };
    let err = download_with(&server.url, &target, &expected(body.len()), timeouts, &mut no_progress()).unwrap_err();
    assert!(matches!(err, Error::Download { .. }), "{err}");
    let kept = std::fs::metadata(part_path(&target)).unwrap().len();
    assert!(kept > 0 && kept <= sent as u64, "{kept}");

    download_with(&server.url, &target, &expected(body.len()), timeouts, &mut no_progress()).unwrap();
    assert_eq!(sha256_of(&target), SHA256);
    assert_eq!(server.ranges.lock().unwrap()[1], Some(format!("bytes={kept}-")));
}

#[test]
fn server_ignoring_range_restarts_from_zero() {
    let body = fixture();
    let server = serve(body.clone(), Mode::IgnoreRange);
    let target = temp_dir("norange").join("seg_s.pt");
    // A partial file whose bytes are wrong: appending the full body to it would never verify.
    std::fs::write(part_path(&target), vec![0xAB; 1000]).unwrap();
    download(&server.url, &target, &expected(body.len()), &mut no_progress()).unwrap();
    assert_eq!(sha256_of(&target), SHA256);
    assert_eq!(*server.ranges.lock().unwrap(), vec![Some("bytes=1000-".to_string())]);
}

#[test]
fn unreachable_mirror_names_the_url_and_the_target_path() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = temp_dir("offline");
    let mirror = format!("http://127.0.0.1:{port}/weights");
    let cache = ModelCache::new(&dir, Some(mirror.clone()));
    let weights = KnownWeights::lookup("fastsam-s").unwrap();
    let err = cache.resolve("fastsam-s", &mut no_progress()).unwrap_err();
    let msg = err.to_string();
    let url = format!("{mirror}/FastSAM-s.pt");
    assert!(msg.contains(&url), "{msg}");
    assert!(msg.contains(&dir.join("FastSAM-s.pt").display().to_string()), "{msg}");
    assert!(!cache.path(weights).exists());
}

#[test]
fn existing_path_wins_over_a_name() {
    let dir = temp_dir("path-wins");
    let file = dir.join("fastsam-s");
    std::fs::write(&file, b"x").unwrap();
    let cache = ModelCache::new(&dir, Some("http://127.0.0.1:9".into()));
    let cwd_relative = file.to_str().unwrap();
    assert_eq!(cache.resolve(cwd_relative, &mut no_progress()).unwrap(), file);
    let err = cache.resolve("no-such-model", &mut no_progress()).unwrap_err();
    assert!(err.to_string().contains("fastsam-s, fastsam-x, vit-b-32"), "{err}");
}
