//! Under load: a full queue turns uploads away (503 + Retry-After) instead of growing memory, and prompt
//! latency over HTTP is measured (printed, not asserted: timing belongs to benchmarks).

mod common;

use std::sync::{Arc, Barrier};
use std::time::Instant;

use common::{bus_jpg, rss_bytes, Server};
use fastsam_server::api::UploadResponse;
use fastsam_server::ServerConfig;

const CACHE_LIMIT: u64 = 48 << 20;

#[test]
fn parallel_uploads_get_200_or_503_and_memory_stays_bounded() {
    let server = Server::start(ServerConfig { queue: 4, workers: 1, cache_bytes: CACHE_LIMIT, ..Default::default() });
    // Warm up (ORT arenas, first-run allocations) before the baseline.
    assert_eq!(server.upload_raw(&bus_jpg()).status, 200);
    let before = rss_bytes();

    let image = Arc::new(bus_jpg());
    let start = Arc::new(Barrier::new(32));
    let clients: Vec<_> = (0..32)
        .map(|_| {
            let (image, start, addr) = (image.clone(), start.clone(), server.addr);
            std::thread::spawn(move || {
                start.wait();
                let (content_type, body) = common::multipart("file", "bus.jpg", &image);
                common::request(addr, "POST", "/v1/images", &[("Content-Type", &content_type)], &body)
            })
        })
        .collect();
    let responses: Vec<_> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    let after = rss_bytes();

    let ok = responses.iter().filter(|r| r.status == 200).count();
    let busy: Vec<_> = responses.iter().filter(|r| r.status == 503).collect();
    assert_eq!(ok + busy.len(), 32, "statuses: {:?}", responses.iter().map(|r| r.status).collect::<Vec<_>>());
    assert!(ok >= 1, "the admitted uploads succeed");
    assert!(!busy.is_empty(), "32 simultaneous uploads overflow 1 worker + 4 queued");
    for r in &busy {
        assert!(r.error(503).contains("queue is full"));
        assert!(r.header("retry-after").is_some_and(|v| v.parse::<u32>().is_ok()));
    }
    let cache = server.state.cache.stats();
    assert!(cache.bytes <= CACHE_LIMIT, "{cache:?}");
    // At most 5 segmentations are in flight; the cache is capped; the 32 bodies are 137 kB each. Anything
    // near "32 decoded images plus their masks" (~32 x 3 MB + ORT buffers each) would mean the bound leaks.
    let growth = after.saturating_sub(before);
    eprintln!(
        "32 parallel uploads: {ok} x 200, {} x 503; cache {} images / {} bytes (limit {CACHE_LIMIT}); \
         RSS {} MB -> {} MB",
        busy.len(),
        cache.images,
        cache.bytes,
        before >> 20,
        after >> 20
    );
    assert!(growth < CACHE_LIMIT + (300 << 20), "RSS grew by {} MB", growth >> 20);
}

#[test]
fn select_latency_over_http() {
    let server = Server::start(ServerConfig::default());
    let res = server.upload_raw(&bus_jpg());
    let upload: UploadResponse = serde_json::from_slice(&res.body).unwrap();
    let path = format!("/v1/images/{}/select", upload.id);
    let mut round_trip = Vec::new();
    let mut server_side = Vec::new();
    for i in 0..100 {
        // Points on objects (box centres), so each prompt selects and encodes masks.
        let [bx, by, bw, bh] = upload.annotations[(i * 37) % upload.annotations.len()].bbox;
        let (x, y) = (bx + bw / 2.0, by + bh / 2.0);
        let body = format!(r#"{{"points": [[{x}, {y}]], "labels": [1]}}"#);
        let t = Instant::now();
        let res = server.post_json(&path, &body);
        round_trip.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(res.status, 200, "{}", res.text());
        server_side.push(res.json()["latency_ms"].as_f64().unwrap());
    }
    let p = |v: &mut Vec<f64>, q: f64| {
        v.sort_by(f64::total_cmp);
        v[((v.len() - 1) as f64 * q).round() as usize]
    };
    eprintln!(
        "select over HTTP ({} masks, 100 point prompts): round trip p50 {:.2} ms p90 {:.2} ms; server p50 {:.3} ms",
        upload.annotations.len(),
        p(&mut round_trip, 0.5),
        p(&mut round_trip, 0.9),
        p(&mut server_side, 0.5)
    );
}
