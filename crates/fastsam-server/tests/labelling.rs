//! The labelling-tool protocols over 127.0.0.1: X-AnyLabeling's requests as its client sends them, Label
//! Studio's `/predict` with image URLs served by a loopback image server (allowed and refused hosts,
//! oversize and slow images, personal-access-token exchange), malformed contexts, and the brush RLE against
//! the Label Studio SDK's own encoding.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use common::{bus_jpg, Server};
use fastsam::mask::Mask;
use fastsam_server::labelstudio::{rle, LabelStudioConfig, BATCH_MASK_CAP};
use fastsam_server::ServerConfig;
use serde_json::{json, Value};

const CONFIG: &str = r#"<View><Image name="image" value="$image"/>
  <BrushLabels name="brush" toName="image"><Label value="Bus"/><Label value="Person"/></BrushLabels>
  <KeyPointLabels name="kp" toName="image" smart="true"><Label value="Bus"/></KeyPointLabels>
  <RectangleLabels name="rect" toName="image" smart="true"><Label value="Bus"/></RectangleLabels></View>"#;

/// What the image server does with a request.
#[derive(Clone, Copy)]
enum Serve {
    Image,
    /// `bytes` of body, with or without a Content-Length.
    Big {
        bytes: usize,
        length: bool,
    },
    /// Headers, then nothing for this long.
    Stall(Duration),
    /// Label Studio with a personal access token: the image only for the exchanged Bearer token.
    TokenExchange,
}

/// A loopback HTTP server counting the requests it gets.
struct ImageServer {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
}

impl ImageServer {
    fn start(behaviour: Serve) -> ImageServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                counter.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || answer(stream, behaviour));
            }
        });
        ImageServer { addr, hits }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

fn answer(mut stream: TcpStream, behaviour: Serve) {
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_string();
    let ok = |body: &[u8], ctype: &str| {
        let mut s =
            format!("HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
        s.extend_from_slice(body);
        s
    };
    let out = match behaviour {
        Serve::Image => ok(&bus_jpg(), "image/jpeg"),
        Serve::Big { bytes, length } => {
            let mut s = b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nConnection: close\r\n".to_vec();
            if length {
                s.extend_from_slice(format!("Content-Length: {bytes}\r\n").as_bytes());
            }
            s.extend_from_slice(b"\r\n");
            let mut body = bus_jpg();
            body.resize(bytes, 0);
            s.extend_from_slice(&body);
            s
        }
        Serve::Stall(t) => {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n");
            std::thread::sleep(t);
            Vec::new()
        }
        Serve::TokenExchange => {
            if head.starts_with("POST /api/token/refresh/") {
                ok(json!({ "access": "access-token-1" }).to_string().as_bytes(), "application/json")
            } else if head.to_ascii_lowercase().contains("authorization: bearer access-token-1") {
                ok(&bus_jpg(), "image/jpeg")
            } else {
                b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n".to_vec()
            }
        }
    };
    let _ = stream.write_all(&out);
}

fn server(label_studio: LabelStudioConfig) -> Server {
    Server::start(ServerConfig { max_upload_bytes: 1 << 20, label_studio, ..ServerConfig::default() })
}

fn ls_config(image_server: &ImageServer) -> LabelStudioConfig {
    LabelStudioConfig {
        url: Some(format!("http://{}", image_server.addr)),
        fetch_timeout: Duration::from_secs(2),
        ..Default::default()
    }
}

fn predict_body(image: &str, context: Value) -> String {
    json!({
        "tasks": [{"id": 1, "data": {"image": image}}],
        "project": "1.1700000000",
        "label_config": CONFIG,
        "params": {"login": null, "password": null, "context": context},
    })
    .to_string()
}

fn keypoint(x: f64, y: f64) -> Value {
    json!({"result": [{"type": "keypointlabels", "from_name": "kp", "to_name": "image", "is_positive": true,
        "original_width": 810, "original_height": 1080,
        "value": {"x": x * 100.0 / 810.0, "y": y * 100.0 / 1080.0, "width": 0.5, "keypointlabels": ["Bus"]}}]})
}

/// The merged mask the plain API gives for a point (the reference for the protocols' answers).
fn api_merged_mask(s: &Server, x: f64, y: f64) -> Mask {
    let id = s.upload_raw(&bus_jpg()).json()["id"].as_str().unwrap().to_string();
    let body = json!({"points": [[x, y]], "merge": true}).to_string();
    let ann = s.post_json(&format!("/v1/images/{id}/select"), &body).json()["annotations"][0].clone();
    let seg = &ann["segmentation"];
    let size = [seg["size"][0].as_u64().unwrap() as u32, seg["size"][1].as_u64().unwrap() as u32];
    fastsam::output::rle::Rle::from_string(size[0], size[1], seg["counts"].as_str().unwrap()).unwrap().decode().unwrap()
}

#[test]
fn brush_rle_is_the_label_studio_sdks() {
    let golden: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(common::repo().join("tests/fixtures/labelstudio/brush-rle.json")).unwrap(),
    )
    .unwrap();
    for case in golden {
        let (w, h) = (case["width"].as_u64().unwrap() as u32, case["height"].as_u64().unwrap() as u32);
        let mut px = vec![0u8; (w * h) as usize];
        for (y, row) in case["rows"].as_array().into_iter().flatten().enumerate() {
            for (x, c) in row.as_str().unwrap().chars().enumerate() {
                px[y * w as usize + x] = u8::from(c == '1');
            }
        }
        for r in case["rects"].as_array().into_iter().flatten() {
            let r: Vec<usize> = r.as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
            for y in r[1]..r[3] {
                px[y * w as usize + r[0]..y * w as usize + r[2]].fill(1);
            }
        }
        let mask = Mask::from_full(w, h, &px).unwrap();
        let expected: Vec<u8> = case["rle"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u8).collect();
        assert_eq!(rle::encode(&mask), expected, "{w}x{h}");
        assert_eq!(rle::decode_mask(&expected, w, h).unwrap(), mask);
    }
}

#[test]
fn interactive_keypoint_gives_one_brush_region_segmented_once() {
    let images = ImageServer::start(Serve::Image);
    let s = server(ls_config(&images));
    assert_eq!(s.get("/health").json()["status"], "UP");
    let setup = s.post_json("/setup", &json!({"project": "1.1", "schema": CONFIG}).to_string());
    assert!(setup.json()["model_version"].as_str().unwrap().starts_with("fastsam-rs"));
    let body = predict_body("/data/upload/1/bus.jpg", keypoint(740.0, 470.0));
    let answer = s.post_json("/predict", &body).json();
    let results = answer["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    let region = &results[0]["result"][0];
    assert_eq!(results[0]["result"].as_array().unwrap().len(), 1);
    assert_eq!((region["type"].as_str(), region["from_name"].as_str()), (Some("brushlabels"), Some("brush")));
    assert_eq!(region["value"]["brushlabels"], json!(["Bus"]));
    assert_eq!((region["original_width"].as_u64(), region["original_height"].as_u64()), (Some(810), Some(1080)));
    let bytes: Vec<u8> = region["value"]["rle"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u8).collect();
    let mask = rle::decode_mask(&bytes, 810, 1080).unwrap();
    assert_eq!(mask, api_merged_mask(&s, 740.0, 470.0));
    // A second click on the same task is answered from the cache: the image is not fetched again.
    s.post_json("/predict", &predict_body("/data/upload/1/bus.jpg", keypoint(700.0, 300.0))).json();
    assert_eq!(images.hits(), 1);
    let hook = s.post_json("/webhook", &json!({"action": "ANNOTATION_CREATED", "project": {"id": 1}}).to_string());
    assert_eq!(hook.status, 200);
}

#[test]
fn refused_hosts_are_never_fetched() {
    let images = ImageServer::start(Serve::Image);
    let s = server(ls_config(&images));
    let elsewhere = ImageServer::start(Serve::Image);
    for url in [
        format!("http://localhost:{}/bus.jpg", elsewhere.addr.port()),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        format!("http://user@{}/bus.jpg", elsewhere.addr),
    ] {
        let r = s.post_json("/predict", &predict_body(&url, keypoint(10.0, 10.0)));
        let message = r.json()["error"].as_str().unwrap().to_string();
        assert!(r.status == 403 || r.status == 400, "{url}: {}", r.text());
        assert!(message.contains("refused") || message.contains("user names"), "{message}");
    }
    assert_eq!(elsewhere.hits() + images.hits(), 0);
    // --fetch-allow admits a further host.
    let s = server(LabelStudioConfig { fetch_allow: vec!["localhost".into()], ..ls_config(&images) });
    let url = format!("http://localhost:{}/bus.jpg", elsewhere.addr.port());
    assert_eq!(s.post_json("/predict", &predict_body(&url, keypoint(740.0, 470.0))).status, 200);
    assert_eq!(elsewhere.hits(), 1);
}

#[test]
fn oversize_and_slow_images_are_refused() {
    for length in [true, false] {
        let big = ImageServer::start(Serve::Big { bytes: (1 << 20) + 10, length });
        let s = server(ls_config(&big));
        let message = s.post_json("/predict", &predict_body("/data/upload/big.jpg", keypoint(1.0, 1.0))).error(413);
        assert!(message.contains("larger than the limit of 1048576 bytes"), "{message}");
    }
    let slow = ImageServer::start(Serve::Stall(Duration::from_secs(10)));
    let s = server(LabelStudioConfig { fetch_timeout: Duration::from_secs(1), ..ls_config(&slow) });
    let message = s.post_json("/predict", &predict_body("/data/upload/slow.jpg", keypoint(1.0, 1.0))).error(504);
    assert!(message.contains("took more than 1 s"), "{message}");
    // /health does not wait for fetches or segmentations.
    assert_eq!(s.get("/health").status, 200);
}

#[test]
fn malformed_requests_are_clear_json_errors_and_fetch_nothing() {
    let images = ImageServer::start(Serve::Image);
    let s = server(ls_config(&images));
    let image = "/data/upload/1/bus.jpg";
    let cases = [
        (predict_body(image, json!({"result": [{"type": "keypointlabels", "value": {"x": "a", "y": 1}}]})), "value.x"),
        (predict_body(image, json!({"result": [{"type": "choices", "value": {}}]})), "smart prompts are"),
        (predict_body(image, json!({"result": [{"value": {}}]})), "no \"type\""),
        (
            json!({"tasks": [], "label_config": CONFIG, "params": {"context": keypoint(1.0, 1.0)}}).to_string(),
            "no task",
        ),
        (json!({"tasks": [{"data": {}}], "label_config": CONFIG}).to_string(), "no image URL in data.image"),
        (json!({"tasks": [{"data": {"image": image}}], "label_config": "<View><Image"}).to_string(), "not well-formed"),
        ("{not json".to_string(), "invalid /predict body"),
    ];
    for (body, expected) in cases {
        let message = s.post_json("/predict", &body).error(400);
        assert!(message.contains(expected), "{message:?} should mention {expected:?}");
    }
    let no_brush = r#"<View><Image name="image" value="$image"/><Choices name="c" toName="image"/></View>"#;
    let message = s.post_json("/setup", &json!({"project": "1.1", "schema": no_brush}).to_string()).error(400);
    assert!(message.contains("no BrushLabels or PolygonLabels"), "{message}");
    assert_eq!(images.hits(), 0);
}

#[test]
fn batch_preannotation_uses_personal_access_tokens_and_polygons() {
    let ls = ImageServer::start(Serve::TokenExchange);
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let pat = format!("{}.{}.sig", b64(r#"{"alg":"HS256"}"#), b64(r#"{"token_type":"refresh","exp":9999999999}"#));
    let s = server(LabelStudioConfig { api_key: Some(pat), ..ls_config(&ls) });
    let polygon_config = r#"<View><Image name="image" value="$image"/>
        <PolygonLabels name="poly" toName="image"><Label value="Bus"/></PolygonLabels></View>"#;
    let body =
        json!({"tasks": [{"id": 7, "data": {"image": "/data/upload/1/bus.jpg"}}], "label_config": polygon_config});
    let answer = s.post_json("/predict", &body.to_string()).json();
    let result = answer["results"][0]["result"].as_array().unwrap_or_else(|| panic!("{answer}")).clone();
    assert!(!result.is_empty());
    let masks: std::collections::BTreeSet<&str> =
        result.iter().map(|r| r["id"].as_str().unwrap().split('-').next().unwrap()).collect();
    assert!(masks.len() <= BATCH_MASK_CAP);
    for region in &result {
        assert_eq!(region["type"], "polygonlabels");
        assert_eq!(region["value"]["polygonlabels"], json!(["Bus"]));
        let points = region["value"]["points"].as_array().unwrap();
        assert!(points.len() >= 3);
        for p in points {
            let (x, y) = (p[0].as_f64().unwrap(), p[1].as_f64().unwrap());
            assert!((0.0..=100.0).contains(&x) && (0.0..=100.0).contains(&y), "{p}");
        }
    }
    // One exchange, one image fetch.
    assert_eq!(ls.hits(), 2);
}

fn xal_predict(s: &Server, token: Option<&str>, marks: Value, text: Option<&str>) -> common::Response {
    // As X-AnyLabeling's RemoteServer.predict_shapes sends it.
    let image = format!("data:image/jpeg;base64,{}", base64::engine::general_purpose::STANDARD.encode(bus_jpg()));
    let mut params = json!({"conf_threshold": 0.0, "iou_threshold": 0.0, "epsilon_factor": 0.001, "marks": marks});
    if let Some(t) = text {
        params["text_prompt"] = json!(t);
    }
    let body = json!({"model": "fastsam", "image": image, "params": params}).to_string();
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(t) = token {
        headers.push(("Token", t));
    }
    common::request(s.addr, "POST", "/v1/predict", &headers, body.as_bytes())
}

#[test]
fn x_anylabeling_models_and_marks() {
    let s = server(LabelStudioConfig::default());
    let models = s.get("/v1/models").json();
    assert_eq!(models["success"], true);
    let widgets: Vec<&str> =
        models["data"]["fastsam"]["widgets"].as_array().unwrap().iter().map(|w| w["name"].as_str().unwrap()).collect();
    assert!(widgets.contains(&"button_add_point") && widgets.contains(&"button_add_rect"));
    assert!(!widgets.contains(&"edit_text"), "no text field without --clip");
    let marks = json!([{"type": "point", "data": [740, 470], "label": 1}]);
    let answer = xal_predict(&s, None, marks, None).json();
    assert_eq!(answer["success"], true);
    let shapes = answer["data"]["shapes"].as_array().unwrap();
    assert!(!shapes.is_empty());
    let expected = api_merged_mask(&s, 740.0, 470.0);
    let [x0, y0, x1, y1] = expected.bbox().unwrap();
    let (mut lo, mut hi) = ([f64::MAX; 2], [f64::MIN; 2]);
    for shape in shapes {
        assert_eq!(
            (shape["shape_type"].as_str(), shape["label"].as_str()),
            (Some("polygon"), Some("AUTOLABEL_OBJECT"))
        );
        let points = shape["points"].as_array().unwrap();
        assert_eq!(points.first(), points.last(), "closed polygon");
        for p in points {
            for k in 0..2 {
                lo[k] = lo[k].min(p[k].as_f64().unwrap());
                hi[k] = hi[k].max(p[k].as_f64().unwrap());
            }
        }
    }
    // Polygon vertices sit on pixel corners: the outline spans exactly the mask's box.
    assert_eq!((lo, hi), ([f64::from(x0), f64::from(y0)], [f64::from(x1), f64::from(y1)]));
    let bad = xal_predict(&s, None, json!([{"type": "point", "data": [1]}]), None);
    assert_eq!((bad.status, bad.json()["success"].clone()), (400, json!(false)));
    let text = xal_predict(&s, None, json!([]), Some("a bus"));
    assert!(text.json()["error"]["message"].as_str().unwrap().contains("--clip"));
}

#[test]
fn x_anylabeling_token_is_checked_when_an_api_key_is_set() {
    let s = Server::start(ServerConfig { xanylabeling_api_key: Some("s3cret".into()), ..ServerConfig::default() });
    let marks = json!([{"type": "rectangle", "data": [670, 420, 810, 600]}]);
    for token in [None, Some("wrong")] {
        let r = xal_predict(&s, token, marks.clone(), None);
        assert_eq!(r.status, 401);
        assert_eq!(r.json()["error"]["code"], "UNAUTHORIZED");
    }
    assert_eq!(common::request(s.addr, "GET", "/v1/models", &[], b"").status, 401);
    let r = xal_predict(&s, Some("s3cret"), marks, None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["data"]["shapes"][0]["shape_type"], "polygon");
}

/// The brush regions of one batch pre-annotation, decoded: (label, mask) in answer order.
fn batch_brush_regions(s: &Server) -> Vec<(String, Mask)> {
    let answer = s.post_json("/predict", &predict_body("/data/upload/1/bus.jpg", json!(null))).json();
    let result = answer["results"][0]["result"].as_array().unwrap_or_else(|| panic!("{answer}")).clone();
    result
        .iter()
        .map(|r| {
            assert_eq!(r["type"], "brushlabels");
            let bytes: Vec<u8> =
                r["value"]["rle"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u8).collect();
            (r["value"]["brushlabels"][0].as_str().unwrap().to_string(), rle::decode_mask(&bytes, 810, 1080).unwrap())
        })
        .collect()
}

#[test]
fn batch_preannotation_with_clip_keeps_every_mask_above_the_threshold() {
    use fastsam::{clip::Clip, FastSam, Prompt};
    let model = FastSam::load(common::model_path()).unwrap();
    let image = fastsam::image::open(common::repo().join("examples/bus.jpg"), &Default::default()).unwrap();
    let seg = model.segment(&image).unwrap();
    let clip = Clip::load(common::clip_path()).unwrap();
    // Library side: each label's masks for a prompt, in the library's order.
    let masks_for = |label: &str, threshold: Option<f32>| -> Vec<Mask> {
        let prompt = Prompt {
            text_threshold: threshold,
            text_top_k: threshold.map(|_| BATCH_MASK_CAP),
            ..Prompt::default().text(label)
        };
        let selection = seg.select_with_clip(&prompt, &image, &clip).unwrap();
        selection.indices.iter().map(|&i| seg.objects()[i].mask.clone()).collect()
    };
    // A threshold that keeps Bus's three best masks (more on a tie) and drops the rest.
    let bus_scores = seg.text_scores("Bus", &image, &clip, seg.len()).unwrap();
    let threshold = bus_scores[2].1;
    let labels = ["Bus", "Person"];

    let images = ImageServer::start(Serve::Image);
    let start = |text_threshold: Option<f32>| {
        let label_studio = LabelStudioConfig { text_threshold, ..ls_config(&images) };
        let config = ServerConfig { max_upload_bytes: 1 << 20, label_studio, ..ServerConfig::default() };
        Server::start_with_text(config, fastsam_server::TextModel::load(Some(common::clip_path())).unwrap())
    };

    // No threshold: the best mask per label.
    let best = batch_brush_regions(&start(None));
    let want: Vec<(String, Mask)> =
        labels.iter().flat_map(|l| masks_for(l, None).into_iter().map(|m| (l.to_string(), m))).collect();
    assert_eq!(best.len(), 2);
    assert!(best == want, "the best mask per label");

    // With a threshold: every mask at or above it, best first, per label.
    let all = batch_brush_regions(&start(Some(threshold)));
    let want: Vec<(String, Mask)> =
        labels.iter().flat_map(|l| masks_for(l, Some(threshold)).into_iter().map(|m| (l.to_string(), m))).collect();
    let bus = all.iter().filter(|(l, _)| l == "Bus").count();
    assert!(bus >= 3 && bus < bus_scores.len(), "{bus} Bus regions of {} candidates", bus_scores.len());
    assert_eq!(bus, bus_scores.iter().filter(|&&(_, s)| s >= threshold).count());
    assert!(all == want, "every mask above {threshold} per label, as the library selects them");
}
