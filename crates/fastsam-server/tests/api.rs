//! Every route and every error status of the HTTP API, over 127.0.0.1 against a real model.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::time::Duration;

use common::{assert_same_annotations, bus_jpg, inside, masks_of, png_size, read_response, Server};
use fastsam_server::api::{SelectResponse, UploadResponse};
use fastsam_server::routes::API_ROUTES;
use fastsam_server::ServerConfig;

fn small_limits() -> ServerConfig {
    // bus.jpg is 137 kB and 810x1080 = 0.87 MP: both limits sit just above it.
    ServerConfig { max_upload_bytes: 1 << 20, max_pixels: 1_000_000, ..ServerConfig::default() }
}

#[test]
fn openapi_documents_exactly_the_served_routes() {
    let server = Server::start(ServerConfig::default());
    let doc = server.get("/openapi.json").json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys().filter(|k| *k != "parameters") {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    let served: BTreeSet<_> = API_ROUTES.iter().map(|&(m, p)| (m.to_string(), p.to_string())).collect();
    assert_eq!(documented, served);
    // And each one is really routed: nothing answers with the router's fallback.
    for (method, path) in &served {
        let path = path.replace("{id}", "0123456789abcdef");
        let res = common::request(server.addr, method, &path, &[("Content-Type", "application/json")], b"{}");
        assert_ne!(res.status, 405, "{method} {path}");
        if res.status == 404 {
            assert!(res.error(404).contains("no image with id"), "{method} {path} fell through to the fallback");
        }
    }
}

#[test]
fn upload_select_render_delete() {
    let server = Server::start(small_limits());
    let health = server.get("/healthz");
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["status"], "ok");

    let res = server.upload_multipart("bus.jpg", &bus_jpg());
    assert_eq!(res.status, 200, "{}", res.text());
    let upload: UploadResponse = serde_json::from_slice(&res.body).unwrap();
    assert_eq!((upload.width, upload.height), (810, 1080));
    assert!(!upload.annotations.is_empty(), "the test model finds masks on bus.jpg");
    // The same annotations as the library's (and so the CLI's) JSON for this image.
    let model = fastsam::FastSam::load(common::model_path()).unwrap();
    let image = fastsam::image::open(common::repo().join("examples/bus.jpg"), &Default::default()).unwrap();
    let expected = model.segment(&image).unwrap().annotations("bus.jpg").annotations;
    assert_same_annotations(&upload.annotations, &expected);

    // A raw-body upload is the same image.
    let raw = server.upload_raw(&bus_jpg());
    let raw: UploadResponse = serde_json::from_slice(&raw.body).unwrap();
    assert_ne!(raw.id, upload.id);
    assert_same_annotations(&raw.annotations, &upload.annotations);

    let masks = masks_of(&upload);
    let id = &upload.id;
    let select = |body: String| server.post_json(&format!("/v1/images/{id}/select"), &body);

    // Points: every mask containing the foreground point (the reference's rule), read from the RLEs.
    let (x, y) = inside(&masks[0]);
    let res = select(format!(r#"{{"points": [[{x}, {y}]], "labels": [1]}}"#));
    assert_eq!(res.status, 200, "{}", res.text());
    let sel: SelectResponse = serde_json::from_slice(&res.body).unwrap();
    let expected: Vec<usize> = (0..masks.len()).filter(|&i| masks[i].get(x, y)).collect();
    assert_eq!(sel.indices, expected);
    assert_eq!(sel.annotations.len(), expected.len());
    assert!(sel.latency_ms >= 0.0);
    for (a, &i) in sel.annotations.iter().zip(&sel.indices) {
        assert_eq!(a.segmentation, upload.annotations[i].segmentation);
    }

    // A background point on the same pixel removes those masks again.
    let res = select(format!(r#"{{"points": [[{x}, {y}], [{x}, {y}]], "labels": [1, 0]}}"#));
    assert_eq!(serde_json::from_slice::<SelectResponse>(&res.body).unwrap().indices, Vec::<usize>::new());

    // Box: one mask per box.
    let [bx, by, bw, bh] = upload.annotations[0].bbox;
    let res = select(format!(r#"{{"boxes": [[{bx}, {by}, {}, {}]]}}"#, bx + bw, by + bh));
    assert_eq!(serde_json::from_slice::<SelectResponse>(&res.body).unwrap().indices.len(), 1);

    // Merge mode: one merged mask.
    let res = select(format!(r#"{{"points": [[{x}, {y}]], "merge": true}}"#));
    assert_eq!(serde_json::from_slice::<SelectResponse>(&res.body).unwrap().annotations.len(), 1);

    // Renders.
    let res = server.get(&format!("/v1/images/{id}/overlay.png"));
    assert_eq!((res.status, res.header("content-type")), (200, Some("image/png")));
    assert_eq!(png_size(&res.body), (810, 1080));
    let res = server.get(&format!("/v1/images/{id}/overlay.png?ids=0,1"));
    assert_eq!(png_size(&res.body), (810, 1080));
    let res = server.get(&format!("/v1/images/{id}/cutout.png?ids=0"));
    assert_eq!(res.status, 200, "{}", res.text());
    let [x0, y0, x1, y1] = masks[0].bbox().unwrap();
    assert_eq!(png_size(&res.body), (x1 - x0, y1 - y0));

    // Errors about this image.
    assert!(select(r#"{"texts": ["a bus"]}"#.into()).error(400).contains("--clip"));
    assert!(select("{not json".into()).error(400).contains("invalid select body"));
    assert!(select(r#"{"pointz": []}"#.into()).error(400).contains("unknown field"));
    assert!(select(r#"{"points": [[1, 2]], "labels": [1, 1]}"#.into()).error(400).contains("labels"));
    assert!(select(r#"{"points": [[1, 2]], "labels": [3]}"#.into()).error(400).contains("label"));
    assert!(select("{}".into()).error(400).contains("empty prompt"));
    assert!(select(r#"{"boxes": [[1, 2, 3]]}"#.into()).error(400).contains("invalid select body"));
    assert!(server.get(&format!("/v1/images/{id}/cutout.png")).error(400).contains("ids"));
    assert!(server.get(&format!("/v1/images/{id}/cutout.png?ids=99999")).error(400).contains("out of range"));
    assert!(server.get(&format!("/v1/images/{id}/overlay.png?ids=x")).error(400).contains("not a mask index"));

    // Delete, then the id is gone everywhere.
    assert_eq!(server.delete(&format!("/v1/images/{id}")).status, 204);
    assert!(server.delete(&format!("/v1/images/{id}")).error(404).contains("no image with id"));
    server.post_json(&format!("/v1/images/{id}/select"), r#"{"points": [[1, 1]]}"#).error(404);
    server.get(&format!("/v1/images/{id}/overlay.png")).error(404);
    server.get(&format!("/v1/images/{id}/cutout.png?ids=0")).error(404);
    server.stop();
}

/// A BMP header declaring `w`x`h` pixels and no pixel data: refused from the header alone.
fn bmp_header(w: i32, h: i32) -> Vec<u8> {
    let mut b = b"BM".to_vec();
    b.extend_from_slice(&(54u32 + 16).to_le_bytes());
    b.extend_from_slice(&[0; 4]);
    b.extend_from_slice(&54u32.to_le_bytes());
    b.extend_from_slice(&40u32.to_le_bytes());
    b.extend_from_slice(&w.to_le_bytes());
    b.extend_from_slice(&h.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&24u16.to_le_bytes());
    b.extend_from_slice(&[0; 24]);
    b.extend_from_slice(&[0; 16]);
    b
}

#[test]
fn upload_and_routing_errors_are_json_with_the_right_status() {
    let server = Server::start(small_limits());
    assert!(server.upload_raw(b"").error(400).contains("empty"));
    assert!(server.upload_raw(b"hello, not an image").error(415).contains("unknown image format"));
    assert!(server.upload_raw(b"\xFF\xD8\xFF\xE0 truncated jpeg").error(422).contains("Jpeg"));
    assert!(server.upload_raw(&bmp_header(2000, 2000)).error(413).contains("more than the limit"));
    assert!(server.upload_raw(&vec![0xFF; (1 << 20) + 1]).error(413).contains("length limit"));
    let (content_type, body) = common::multipart("image", "bus.jpg", &bus_jpg());
    let res = common::request(server.addr, "POST", "/v1/images", &[("Content-Type", &content_type)], &body);
    assert!(res.error(400).contains("`file` field"));
    assert!(server.get("/nope").error(404).contains("no such route"));
    assert!(!server.get("/v1/images").error(405).is_empty());
    assert!(!server.post_json("/healthz", "{}").error(405).is_empty());
    // The editor is served too.
    let page = server.get("/");
    assert_eq!((page.status, page.header("content-type")), (200, Some("text/html; charset=utf-8")));
    assert!(page.text().contains("/editor.js"));
    assert_eq!(server.get("/editor.js").status, 200);
    assert_eq!(server.get("/editor.css").status, 200);
    server.stop();
}

#[test]
fn cache_is_bounded_by_bytes_and_evicts_the_least_recently_used() {
    // Measure one entry's weight, then allow two and a half of them.
    let probe = Server::start(ServerConfig::default());
    assert_eq!(probe.upload_raw(&bus_jpg()).status, 200);
    let one = probe.state.cache.stats().bytes;
    assert!(one > 810 * 1080 * 3, "the cache counts at least the pixels");
    probe.stop();

    let limit = one * 5 / 2;
    let server = Server::start(ServerConfig { cache_bytes: limit, ..ServerConfig::default() });
    let ids: Vec<String> = (0..4)
        .map(|_| serde_json::from_slice::<UploadResponse>(&server.upload_raw(&bus_jpg()).body).unwrap().id)
        .collect();
    let stats = server.get("/healthz").json()["cache"].clone();
    assert_eq!(stats["images"], 2);
    assert!(stats["bytes"].as_u64().unwrap() <= limit);
    assert_eq!(stats["limit_bytes"].as_u64().unwrap(), limit);
    for (i, id) in ids.iter().enumerate() {
        let status = server.get(&format!("/v1/images/{id}/overlay.png?ids=0")).status;
        assert_eq!(status, if i < 2 { 404 } else { 200 }, "image {i}");
    }
    server.stop();

    let tiny = Server::start(ServerConfig { cache_bytes: one / 2, ..ServerConfig::default() });
    assert!(tiny.upload_raw(&bus_jpg()).error(413).contains("more than the whole cache"));
}

#[test]
fn slow_clients_time_out_with_408() {
    let server = Server::start(ServerConfig { request_timeout: Duration::from_millis(500), ..small_limits() });
    let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
    // Promise a body and never send it.
    write!(stream, "POST /v1/images HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\npartial").unwrap();
    let res = read_response(&mut stream);
    assert!(res.error(408).contains("timeout") || res.status == 408);
}
