//! fastsam::postprocess against the reference's FastSAMPredictor.postprocess on synthetic network outputs
//! (tests/fixtures/golden/postprocess/cases.json.gz, made by tools/golden/postprocess.py).
//!
//! Everything must match bit for bit: which anchors are kept and in which order, boxes before and after
//! FastSAM's edits, scores, every mask pixel (COCO RLE strings), and the fp32 logits before thresholding at
//! sampled pixels (which catches last-bit differences that happen not to flip a pixel).

#[path = "postprocess_synth.rs"]
mod synth;

use fastsam::output::annotations::AnnotationFile;
use fastsam::output::rle::Rle;
use fastsam::postprocess::masks::MaskDecoder;
use fastsam::postprocess::{postprocess, PostprocessConfig};
use serde::Deserialize;
use std::io::Read;
use std::path::PathBuf;

#[derive(Deserialize)]
struct Golden {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    seed: u64,
    orig: [usize; 2],
    input: [usize; 2],
    n_objects: usize,
    threads: usize,
    n_nms: usize,
    detections: Vec<GoldenDet>,
}

#[derive(Deserialize)]
struct GoldenDet {
    anchor: usize,
    nms_index: usize,
    raw_box: [f64; 4],
    #[serde(rename = "box")]
    bbox: [f64; 4],
    score: f64,
    area: u64,
    counts: String,
    logits: Vec<[u64; 3]>,
}

fn golden() -> Golden {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/golden/postprocess/cases.json.gz");
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut text = String::new();
    flate2::read::GzDecoder::new(file).read_to_string(&mut text).expect("gunzip goldens");
    serde_json::from_str(&text).expect("parse goldens")
}

fn f32s(v: [f64; 4]) -> [f32; 4] {
    v.map(|x| x as f32)
}

fn coeffs(preds: &fastsam::Tensor, anchor: usize) -> Vec<f32> {
    let a = preds.shape[2];
    (0..synth::NM).map(|j| preds.data[(5 + j) * a + anchor]).collect()
}

/// Pixels where two RLEs of one image differ (for the failure message).
fn pixel_diff(h: u32, w: u32, ours: &str, theirs: &str) -> usize {
    let decode = |s: &str| Rle::from_string(h, w, s).and_then(|r| r.decode()).map(|m| m.to_full());
    match (decode(ours), decode(theirs)) {
        (Ok(a), Ok(b)) => a.iter().zip(&b).filter(|(x, y)| x != y).count(),
        _ => usize::MAX,
    }
}

#[test]
fn matches_reference_postprocess() {
    let golden = golden();
    let mut failures = Vec::new();
    let mut masks_checked = 0;
    for case in &golden.cases {
        let [h, w] = case.orig;
        let (preds, input_hw) = synth::synth_preds(case.seed, h, w, case.n_objects);
        assert_eq!(input_hw, (case.input[0], case.input[1]), "{}: letterbox size", case.name);
        let proto = synth::synth_proto(case.seed, input_hw.0 / 4, input_hw.1 / 4);
        let cfg = PostprocessConfig { torch_threads: case.threads, ..Default::default() };
        let dets = postprocess(&preds, &proto, input_hw, (h, w), &cfg).expect("postprocess");
        let tag = format!("{} (torch threads {})", case.name, case.threads);
        let anchors: Vec<usize> = dets.items.iter().map(|d| d.anchor).collect();
        let want: Vec<usize> = case.detections.iter().map(|d| d.anchor).collect();
        if anchors != want {
            failures.push(format!("{tag}: kept anchors {anchors:?}, reference {want:?}"));
            continue;
        }
        for (i, (d, g)) in dets.items.iter().zip(&case.detections).enumerate() {
            if d.raw_bbox != f32s(g.raw_box) || d.bbox != f32s(g.bbox) || d.score != g.score as f32 {
                failures.push(format!(
                    "{tag} #{i}: box {:?}/{:?} score {}, reference {:?}/{:?} {}",
                    d.raw_bbox, d.bbox, d.score, g.raw_box, g.bbox, g.score
                ));
            }
            let counts = Rle::encode(&d.mask).to_coco_string();
            masks_checked += 1;
            if counts != g.counts || d.mask.area() != g.area {
                let diff = pixel_diff(h as u32, w as u32, &counts, &g.counts);
                failures.push(format!("{tag} #{i}: mask differs from the reference in {diff} pixels"));
            }
        }
        // Logits before thresholding, to the bit, at the sampled pixels.
        let decoder = MaskDecoder::new(&proto, (h, w), case.n_nms, case.threads).unwrap();
        let mut bad = 0;
        for g in &case.detections {
            let c = coeffs(&preds, g.anchor);
            for &[x, y, bits] in &g.logits {
                let (x, y) = (x as usize, y as usize);
                let v = decoder.logits(g.nms_index, &c, y..y + 1, x..x + 1)[0];
                if u64::from(v.to_bits()) != bits {
                    bad += 1;
                }
            }
        }
        if bad > 0 {
            failures.push(format!("{tag}: {bad} sampled logits differ from the reference's"));
        }
    }
    assert!(masks_checked > 250, "only {masks_checked} masks in the goldens");
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn annotations_json_has_the_cli_shape() {
    let golden = golden();
    let case = golden.cases.iter().find(|c| c.name.starts_with("bus")).expect("bus case");
    let [h, w] = case.orig;
    let (preds, input_hw) = synth::synth_preds(case.seed, h, w, case.n_objects);
    let proto = synth::synth_proto(case.seed, input_hw.0 / 4, input_hw.1 / 4);
    let cfg = PostprocessConfig { torch_threads: case.threads, ..Default::default() };
    let dets = postprocess(&preds, &proto, input_hw, (h, w), &cfg).unwrap();
    let file = AnnotationFile::from_detections("bus.jpg", &dets);
    let json: serde_json::Value = serde_json::to_value(&file).unwrap();
    assert_eq!(json["image"], serde_json::json!({"file_name": "bus.jpg", "width": w, "height": h}));
    let anns = json["annotations"].as_array().unwrap();
    assert_eq!(anns.len(), case.detections.len());
    for (i, (a, g)) in anns.iter().zip(&case.detections).enumerate() {
        let keys: Vec<&str> = a.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        assert_eq!(keys, ["area", "bbox", "id", "score", "segmentation"]);
        assert_eq!(a["id"], i);
        assert_eq!(a["segmentation"]["size"], serde_json::json!([h, w]));
        assert_eq!(a["segmentation"]["counts"], g.counts.as_str());
        assert_eq!(a["area"], g.area);
        // COCO xywh from the f32 box, as Python floats of the f32 results.
        let b = f32s(g.bbox);
        let want = [b[0], b[1], b[2] - b[0], b[3] - b[1]].map(f64::from);
        assert_eq!(a["bbox"], serde_json::json!(want));
        assert_eq!(a["score"], serde_json::json!(g.score));
    }
    let back: AnnotationFile = serde_json::from_value(json).unwrap();
    assert_eq!(back, file);
}
