//! `fastsam eval` end to end: the committed tiny FastSAM-s over the COCO subset of the shared data, its numbers
//! against pycocotools 2.0.11's COCOeval (`useCats = 0`) on the same detections
//! (tests/fixtures/golden/eval/coco_subset_tiny_s.json, made by tools/golden/coco_eval.py coco-dets from the
//! `--detections` file of this very command); and an image that is missing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn coco() -> PathBuf {
    let shared = std::env::var_os("FASTSAM_SHARED").map_or_else(|| repo().join("../shared"), PathBuf::from);
    shared.join("data/coco")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fastsam-eval-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn eval(home: &Path, annotations: &Path, extra: &[&str]) -> Output {
    let model = repo().join("tests/fixtures/fastsam/fastsam-s-tiny.pt");
    Command::new(env!("CARGO_BIN_EXE_fastsam"))
        .env("FASTSAM_HOME", home)
        .arg("eval")
        .arg(coco().join("val2017"))
        .arg("--annotations")
        .arg(annotations)
        .arg("--model")
        .arg(model)
        .args(extra)
        .output()
        .unwrap()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn numbers_equal_pycocotools_on_the_same_detections() {
    let dir = temp_dir("subset");
    let (report, dets) = (dir.join("eval.json"), dir.join("dets.json"));
    let annotations = coco().join("annotations/instances_val2017_subset.json");
    let out = eval(&dir, &annotations, &["--json", report.to_str().unwrap(), "--detections", dets.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("AR@1000") && table.contains("segm") && table.contains("bbox"), "{table}");

    let golden = read_json(&repo().join("tests/fixtures/golden/eval/coco_subset_tiny_s.json"));
    let written = read_json(&dets);
    assert_eq!(written.as_array().unwrap().len() as u64, golden["detections"]["count"].as_u64().unwrap());
    assert!(written.as_array().unwrap().iter().all(|d| d["category_id"] == 1));
    let report = read_json(&report);
    assert_eq!(report["images"], 40);
    // The defaults are the proposal protocol the README documents (conf 0.001, at most 1000 per image).
    assert_eq!(report["options"]["max_det"], 1000);
    assert_eq!(report["options"]["conf"], 0.001);
    let mut compared = 0;
    for kind in ["segm", "bbox"] {
        for (name, want) in golden[kind]["stats"].as_object().unwrap() {
            let got = report[kind][name].as_f64().unwrap_or_else(|| panic!("{kind} {name} missing"));
            let want = want.as_f64().unwrap();
            assert!((got - want).abs() <= 1e-6, "{kind} {name}: ours {got}, pycocotools {want}");
            compared += 1;
        }
    }
    assert_eq!(compared, 24);
    // Not a vacuous comparison: the detections do recall some ground truth.
    assert!(report["bbox"]["AR@1000"].as_f64().unwrap() > 0.0);
}

#[test]
fn a_missing_image_is_reported_counted_and_fails_the_run() {
    let dir = temp_dir("missing");
    let mut gt = read_json(&coco().join("annotations/instances_val2017_subset.json"));
    let first = gt["images"][0].clone();
    let mut missing = first.clone();
    missing["id"] = 999_999_999u64.into();
    missing["file_name"] = "not-there.jpg".into();
    gt["images"] = Value::Array(vec![first.clone(), missing]);
    let keep = first["id"].clone();
    let anns: Vec<Value> =
        gt["annotations"].as_array().unwrap().iter().filter(|a| a["image_id"] == keep).cloned().collect();
    gt["annotations"] = Value::Array(anns);
    let annotations = dir.join("gt.json");
    std::fs::write(&annotations, serde_json::to_vec(&gt).unwrap()).unwrap();
    let report = dir.join("eval.json");

    let out = eval(&dir, &annotations, &["--json", report.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("not-there.jpg") && err.contains("1 of 2 images could not be evaluated"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let report = read_json(&report);
    assert_eq!(report["images"], 1);
    assert_eq!(report["images_failed"].as_array().unwrap().len(), 1);
}
