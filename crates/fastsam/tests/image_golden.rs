//! Decoding, letterbox and network-input tensors against the reference (cv2 5.0.0 through Ultralytics'
//! `imread` and `LetterBox`, torch for the tensor), from tests/fixtures/golden/image (tools/golden/image.py).

use std::path::{Path, PathBuf};

use fastsam::image::{decode, DecodeLimits, Letterbox, RgbImage};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `<repo>/../shared`, or `$FASTSAM_SHARED` where the checkout is laid out differently.
fn shared() -> PathBuf {
    std::env::var_os("FASTSAM_SHARED").map_or_else(|| repo().join("../shared"), PathBuf::from)
}

fn golden_dir() -> PathBuf {
    repo().join("tests/fixtures/golden/image")
}

fn manifest() -> Vec<Value> {
    let text = std::fs::read_to_string(golden_dir().join("manifest.json")).expect("manifest.json");
    let json: Value = serde_json::from_str(&text).expect("manifest.json parses");
    json["images"].as_array().expect("images").clone()
}

fn path_of(entry: &Value) -> PathBuf {
    let file = entry["file"].as_str().unwrap();
    match entry["root"].as_str().unwrap() {
        "fixture" => golden_dir().join(file),
        _ => shared().join(file),
    }
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// `Some(mismatch description)` when `img` is not the golden `{shape, sha256}`.
fn differs(img: &RgbImage, golden: &Value) -> Option<String> {
    let shape = [img.height as u64, img.width as u64, 3];
    let want: Vec<u64> = golden["shape"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    if want != shape {
        return Some(format!("shape {shape:?}, reference {want:?}"));
    }
    (sha256(&img.data) != golden["sha256"].as_str().unwrap()).then(|| "same shape, different pixels".to_string())
}

fn decode_entry(entry: &Value) -> fastsam::Result<RgbImage> {
    let path = path_of(entry);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    decode(&bytes, entry["file"].as_str().unwrap(), &DecodeLimits::default())
}

/// Images cv2 decodes that we refuse with a clear error instead of decoding differently.
const KNOWN_GAPS: [&str; 2] = ["synthetic/jpeg.tif", "synthetic/palette.tif"];

#[test]
fn decode_matches_reference_imread() {
    let mut failures = Vec::new();
    let entries = manifest();
    for entry in &entries {
        let file = entry["file"].as_str().unwrap();
        match (decode_entry(entry), &entry["decode"]) {
            (Err(_), Value::String(s)) if s == "error" => {}
            (Err(e), _) if KNOWN_GAPS.contains(&file) && e.to_string().contains("not supported") => {}
            (Err(e), _) => failures.push(format!("{file}: we fail ({e}), the reference decodes it")),
            (Ok(img), Value::String(_)) => failures.push(format!("{file}: we decode {img:?}, the reference fails")),
            (Ok(img), golden) => {
                if let Some(why) = differs(&img, golden) {
                    failures.push(format!("{file}: {why}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} of {} images differ:\n{}", failures.len(), entries.len(), failures.join("\n"));
}

#[test]
fn letterbox_matches_reference() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for entry in manifest().iter().filter(|e| e.get("letterbox").is_some()) {
        let file = entry["file"].as_str().unwrap();
        let Ok(img) = decode_entry(entry) else {
            continue;
        };
        for (key, size, auto) in [("1024_auto", 1024, true), ("640_auto", 640, true), ("1024_fixed", 1024, false)] {
            let lb = Letterbox::new(img.width, img.height, (size, size), auto, 32).unwrap();
            if let Some(why) = differs(&lb.apply(&img).unwrap(), &entry["letterbox"][key]) {
                failures.push(format!("{file} {key}: {why}"));
            }
            checked += 1;
        }
    }
    assert!(checked > 250, "only {checked} letterboxes checked");
    assert!(failures.is_empty(), "{} of {checked} letterboxes differ:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn input_tensor_matches_reference() {
    let mut checked = 0;
    for entry in manifest().iter().filter(|e| e.get("tensor_1024_auto").is_some()) {
        let img = decode_entry(entry).unwrap();
        let lb = Letterbox::new(img.width, img.height, (1024, 1024), true, 32).unwrap();
        let t = lb.to_tensor(&img).unwrap();
        let golden = &entry["tensor_1024_auto"];
        let shape: Vec<usize> =
            golden["shape"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
        assert_eq!(t.shape, shape, "{}", entry["file"]);
        assert_eq!(t.shape, vec![1, 3, lb.input_h() as usize, lb.input_w() as usize]);
        let bytes: Vec<u8> = t.data.iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(sha256(&bytes), golden["sha256"].as_str().unwrap(), "{}", entry["file"]);
        checked += 1;
    }
    assert_eq!(checked, 9);
}

#[test]
fn oversized_header_is_refused_before_decoding() {
    let bytes = std::fs::read(golden_dir().join("synthetic/bomb.png")).unwrap();
    let err = decode(&bytes, "bomb.png", &DecodeLimits::default()).unwrap_err().to_string();
    assert!(err.contains("100000x100000") && err.contains("100000000"), "{err}");
    // A tighter limit refuses an ordinary photo the same way.
    let bus = std::fs::read(shared().join("data/images/bus.jpg")).unwrap();
    let err = decode(&bus, "bus.jpg", &DecodeLimits { max_pixels: 1000 }).unwrap_err().to_string();
    assert!(err.contains("810x1080"), "{err}");
}

#[test]
fn missing_file_is_an_io_error() {
    let err = fastsam::image::open("/nonexistent/photo.jpg", &DecodeLimits::default()).unwrap_err();
    assert!(matches!(err, fastsam::Error::Io { .. }) && err.to_string().contains("photo.jpg"), "{err}");
}

#[test]
fn broken_files_give_errors_not_panics() {
    let bus = std::fs::read(shared().join("data/images/bus.jpg")).unwrap();
    let cat = std::fs::read(shared().join("data/images/cat.jpg")).unwrap();
    for (name, bytes) in [("bus.jpg", &bus), ("cat.jpg", &cat)] {
        for cut in [0, 1, 2, 3, 10, 100, 1000, bytes.len() / 3, bytes.len() - 3] {
            let err = decode(&bytes[..cut], name, &DecodeLimits::default()).unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
        }
    }
}
