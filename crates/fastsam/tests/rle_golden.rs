//! fastsam::output::rle against pycocotools 2.0.11 (tests/fixtures/golden/postprocess/rle.json, made by
//! tools/golden/postprocess.py): encode, compressed strings, decode, area and toBbox.

use fastsam::mask::Mask;
use fastsam::output::rle::Rle;
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Deserialize)]
struct Golden {
    masks: Vec<GoldenMask>,
    from_runs: Vec<GoldenRuns>,
}

#[derive(Deserialize)]
struct GoldenMask {
    h: u32,
    w: u32,
    kind: u32,
    counts: String,
    area: u64,
    bbox: [f64; 4],
    bits: String,
}

#[derive(Deserialize)]
struct GoldenRuns {
    h: u32,
    w: u32,
    runs: Vec<u32>,
    counts: String,
    area: u64,
    bbox: [f64; 4],
}

fn golden() -> Golden {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/golden/postprocess/rle.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("parse rle.json")
}

#[test]
fn encodes_like_pycocotools() {
    let g = golden();
    assert!(g.masks.len() >= 40);
    for m in &g.masks {
        let tag = format!("{}x{} kind {}", m.h, m.w, m.kind);
        let pixels: Vec<u8> = m.bits.bytes().map(|b| b - b'0').collect();
        let mask = Mask::from_full(m.w, m.h, &pixels).unwrap();
        let rle = Rle::encode(&mask);
        assert_eq!(rle.to_coco_string(), m.counts, "{tag}: counts string");
        assert_eq!(rle.area(), m.area, "{tag}: area");
        assert_eq!(rle.to_bbox(), m.bbox, "{tag}: toBbox");
        let parsed = Rle::from_string(m.h, m.w, &m.counts).unwrap();
        assert_eq!(parsed, rle, "{tag}: parsed counts");
        assert_eq!(parsed.decode().unwrap().to_full(), pixels, "{tag}: decode");
    }
}

#[test]
fn decodes_pycocotools_strings_of_any_runs() {
    for r in golden().from_runs {
        let rle = Rle::from_string(r.h, r.w, &r.counts).unwrap();
        assert_eq!(rle.counts, r.runs, "{:?}", r.runs);
        assert_eq!(rle.to_coco_string(), r.counts);
        assert_eq!(rle.area(), r.area);
        assert_eq!(rle.to_bbox(), r.bbox, "{:?}", r.runs);
        let mask = rle.decode().unwrap();
        assert_eq!(mask.area(), r.area);
        // Re-encoding merges nothing here (runs are non-empty), except a leading empty 0-run kept as 0.
        assert_eq!(Rle::encode(&mask).area(), r.area);
    }
}
