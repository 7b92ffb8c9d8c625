//! `fastsam::eval` against pycocotools 2.0.11 (goldens from tools/golden/coco_eval.py, checked without Python):
//! the RLE of every ground truth (polygons rasterised as `rleFrPoly` + `merge`, crowd RLEs) and COCOeval's
//! summary and recall arrays (useCats=0, maxDets 10/100/1000, segm and bbox) on a synthetic case with crowd
//! regions, an image without ground truth and an image without detections.

use std::path::PathBuf;

use fastsam::eval::{evaluate, evaluate_proposals, GroundTruth, IouType, Params, STAT_NAMES};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn golden(name: &str) -> PathBuf {
    repo().join("tests/fixtures/golden/eval").join(name)
}

fn read(path: &PathBuf) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6
}

#[test]
fn synthetic_ground_truth_rles_equal_pycocotools() {
    let gt = GroundTruth::load(golden("synthetic_gt.json")).unwrap();
    let expected = read(&golden("synthetic_expected.json"));
    assert_eq!(gt.objects.len(), 13);
    for o in &gt.objects {
        let want = expected["gt_rle"][format!("{}", o.id as i64)].as_str().unwrap();
        assert_eq!(o.rle.to_coco_string(), want, "annotation {}", o.id);
    }
}

#[test]
fn synthetic_summary_and_recall_equal_cocoeval() {
    let gt = GroundTruth::load(golden("synthetic_gt.json")).unwrap();
    let dets = gt.load_detections(golden("synthetic_dets.json")).unwrap();
    let expected = read(&golden("synthetic_expected.json"));
    for (iou_type, key) in [(IouType::Segm, "segm"), (IouType::Bbox, "bbox")] {
        let acc = evaluate(&gt, &dets, iou_type, &Params::default());
        let summary = acc.summary();
        for (name, ours) in STAT_NAMES.iter().zip(summary.stats) {
            let want = expected[key]["stats"][name].as_f64().unwrap();
            assert!(close(ours, want), "{key} {name}: ours {ours}, pycocotools {want}");
        }
        // recall[t][a][m], every threshold, area range and max-dets.
        let recall = expected[key]["recall"].as_array().unwrap();
        for (t, by_area) in recall.iter().enumerate() {
            for (a, by_m) in by_area.as_array().unwrap().iter().enumerate() {
                for (m, want) in by_m.as_array().unwrap().iter().enumerate() {
                    let (ours, want) = (acc.recall[t][a][m], want.as_f64().unwrap());
                    assert!(close(ours, want), "{key} recall[{t}][{a}][{m}]: ours {ours}, pycocotools {want}");
                }
            }
        }
    }
    // The convenience entry point gives the same numbers.
    let both = evaluate_proposals(&gt, &dets);
    assert_eq!(both.segm, evaluate(&gt, &dets, IouType::Segm, &Params::default()).summary());
    // Not a degenerate case: some recall, some misses, every area range populated.
    let s = both.segm.stats;
    assert!(s[8] > 0.1 && s[8] < 0.9 && s[9] > -1.0 && s[10] > -1.0 && s[11] > -1.0, "{s:?}");
}

/// `../shared/data/coco`, or `$FASTSAM_SHARED/data/coco`.
fn coco() -> PathBuf {
    std::env::var_os("FASTSAM_SHARED").map_or_else(|| repo().join("../shared"), PathBuf::from).join("data/coco")
}

#[test]
fn coco_subset_ground_truth_rles_equal_pycocotools() {
    let gt = GroundTruth::load(coco().join("annotations/instances_val2017_subset.json")).unwrap();
    let expected = read(&golden("coco_subset_gt_rle_sha256.json"));
    let expected = expected.as_object().unwrap();
    assert_eq!(gt.objects.len(), expected.len());
    assert_eq!(gt.images.len(), 40);
    let mut wrong = Vec::new();
    for o in &gt.objects {
        let digest = Sha256::digest(o.rle.to_coco_string().as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        if expected[&format!("{}", o.id as i64)].as_str() != Some(hex.as_str()) {
            wrong.push(o.id as i64);
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} ground-truth RLEs differ from pycocotools': {wrong:?}",
        wrong.len(),
        gt.objects.len()
    );
}

#[test]
fn bad_files_are_clear_errors() {
    let err = GroundTruth::from_json(&serde_json::json!({"images": []})).unwrap_err().to_string();
    assert!(err.contains("categories"), "{err}");
    let gt = serde_json::json!({
        "images": [{"id": 1, "width": 4, "height": 4, "file_name": "x.jpg"}],
        "categories": [{"id": 1}],
        "annotations": [{"id": 1, "image_id": 2, "category_id": 1, "area": 1, "bbox": [0, 0, 1, 1],
                         "segmentation": [[0, 0, 1, 0, 1, 1]]}]});
    let err = GroundTruth::from_json(&gt).unwrap_err().to_string();
    assert!(err.contains("image_id 2"), "{err}");
    let mut ok = gt.clone();
    ok["annotations"][0]["image_id"] = 1.into();
    let gt = GroundTruth::from_json(&ok).unwrap();
    let err = gt
        .detections_from_json(&serde_json::json!([{"image_id": 5, "category_id": 1, "score": 1,
                                                           "bbox": [0, 0, 1, 1]}]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("image_id 5"), "{err}");
}
