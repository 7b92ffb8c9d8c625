//! The prompt options beyond the reference, against goldens made by tools/golden/prompt_options.py from the
//! reference's own outputs (tests/fixtures/golden/prompt-options/): smoothed masks equal to OpenCV's
//! `morphologyEx` pixel for pixel, text thresholds / top-k from the reference's CLIP cosines, and one object per
//! click from the reference's masks and scores. Every case runs on the reference's masks, so the crops CLIP sees
//! are the reference's.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use fastsam::clip::Clip;
use fastsam::output::rle::Rle;
use fastsam::{PointLabel, PointMode, PointPrompt, Prompt};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn shared() -> PathBuf {
    std::env::var_os("FASTSAM_SHARED").map_or_else(|| repo().join("../shared"), PathBuf::from)
}

fn golden(name: &str) -> Value {
    let path = repo().join("tests/fixtures/golden/prompt-options").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

/// A similarity here is within 1e-4 of the reference's (crates/fastsam/tests/clip_text_select.rs): a cut or an
/// order decided by less than twice that is a tie this test cannot insist on.
const SIMILARITY_TOLERANCE: f64 = 1e-4;

fn digest(full: &[u8]) -> String {
    Sha256::digest(full).iter().take(16).map(|x| format!("{x:02x}")).collect()
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect()
}

fn indices(v: &Value) -> Vec<usize> {
    v.as_array().unwrap().iter().map(|s| s.as_u64().unwrap() as usize).collect()
}

#[test]
fn smoothed_reference_masks_equal_opencv_morphology() {
    let g = golden("smooth.json");
    let mut masks = 0;
    for file in g["files"].as_array().unwrap() {
        let name = file["everything"].as_str().unwrap();
        let seg = common::segmentation_from_everything(&repo().join(name));
        let smooth = seg.smoothed().unwrap();
        let inputs: Vec<String> = seg.objects().iter().map(|d| digest(&d.mask.to_full())).collect();
        assert_eq!(inputs, strings(&file["input_sha256"]), "{name}: the reference's masks decode differently");
        for (i, (d, s)) in seg.objects().iter().zip(smooth.objects()).enumerate() {
            assert_eq!(digest(&s.mask.to_full()), file["smoothed_sha256"][i].as_str().unwrap(), "{name}: mask {i}");
            assert_eq!(s.mask.area(), file["smoothed_area"][i].as_u64().unwrap(), "{name}: mask {i} area");
            assert_eq!((s.bbox, s.score), (d.bbox, d.score), "{name}: mask {i} keeps its box and score");
            masks += 1;
        }
    }
    eprintln!("{masks} smoothed reference masks equal OpenCV's");
    assert!(masks > 300);
}

#[test]
fn smoothed_border_and_noise_masks_equal_opencv_morphology() {
    let g = golden("smooth.json");
    let rle = |v: &Value| {
        let size = v["size"].as_array().unwrap();
        Rle::from_string(
            size[0].as_u64().unwrap() as u32,
            size[1].as_u64().unwrap() as u32,
            v["counts"].as_str().unwrap(),
        )
        .unwrap()
    };
    let cases = g["synthetic"].as_array().unwrap();
    for (k, case) in cases.iter().enumerate() {
        let smoothed = fastsam::smooth::smooth(&rle(&case["input"]).decode().unwrap()).unwrap();
        let expected = rle(&case["smoothed"]).decode().unwrap();
        let differ = smoothed.to_full().iter().zip(expected.to_full()).filter(|(a, b)| **a != *b).count();
        assert_eq!(differ, 0, "synthetic mask {k}: {differ} pixels differ from cv2.morphologyEx");
    }
    assert!(cases.len() >= 20);
}

#[test]
fn text_thresholds_and_top_k_follow_reference_similarities() {
    let g = golden("text.json");
    let clip = Clip::load(repo().join("tests/fixtures/clip/clip-tiny.pt")).unwrap();
    let (mut checked, mut ties, mut scores_checked) = (0, 0, 0);
    for file in g["files"].as_array().unwrap() {
        let text: Value =
            serde_json::from_str(&std::fs::read_to_string(repo().join(file["text"].as_str().unwrap())).unwrap())
                .unwrap();
        let image = fastsam::image::open(
            shared().join("data/images").join(text["image"].as_str().unwrap()),
            &Default::default(),
        )
        .unwrap();
        let seg = common::segmentation_from_everything(&repo().join(file["everything"].as_str().unwrap()));
        for entry in file["phrases"].as_array().unwrap() {
            let phrase = entry["phrase"].as_str().unwrap();
            let reference: HashMap<usize, f64> = entry["scores"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.parse().unwrap(), v.as_f64().unwrap()))
                .collect();
            // The reference's own rule (no threshold): one mask, carrying its phrase and cosine.
            let best = seg.select_with_clip(&Prompt::default().text(phrase), &image, &clip).unwrap();
            let mut cases: Vec<(Prompt, &Value)> = vec![(Prompt::default().text(phrase), &Value::Null)];
            for case in entry["cases"].as_array().unwrap() {
                let prompt = Prompt {
                    text_threshold: case.get("threshold").map(|t| t.as_f64().unwrap() as f32),
                    text_top_k: case.get("top_k").map(|k| k.as_u64().unwrap() as usize),
                    ..Prompt::default().text(phrase)
                };
                cases.push((prompt, case));
            }
            for (prompt, case) in cases {
                let selection = seg.select_with_clip(&prompt, &image, &clip).unwrap();
                let file_json = seg.selection_annotations(&selection, "x.jpg");
                for a in &file_json.annotations {
                    let id = selection.indices[a.id];
                    assert_eq!(a.text.as_deref(), Some(phrase));
                    let err = (a.text_score.unwrap() - reference[&id]).abs();
                    assert!(err < SIMILARITY_TOLERANCE, "{phrase:?} mask {id}: text_score off by {err:.2e}");
                    scores_checked += 1;
                }
                if case.is_null() {
                    assert_eq!(selection.indices, best.indices);
                    assert_eq!(selection.indices.len(), 1);
                    continue;
                }
                if case["cut_gap"].as_f64().unwrap() < 2.0 * SIMILARITY_TOLERANCE {
                    ties += 1;
                    continue;
                }
                let expected = indices(&case["selected"]);
                let what = format!("{}: {phrase:?} {case}", file["text"]);
                if case["inner_gap"].as_f64().unwrap() >= 2.0 * SIMILARITY_TOLERANCE {
                    assert_eq!(selection.indices, expected, "{what}");
                } else {
                    let (mut got, mut want) = (selection.indices.clone(), expected);
                    got.sort_unstable();
                    want.sort_unstable();
                    assert_eq!(got, want, "{what}");
                }
                checked += 1;
            }
        }
    }
    eprintln!(
        "{checked} threshold/top-k selections equal, {ties} ties skipped; {scores_checked} text_scores within 1e-4"
    );
    assert!(checked >= 300 && ties * 10 < checked);
}

#[test]
fn per_point_selections_follow_reference_masks_and_scores() {
    let g = golden("per_point.json");
    let mut checked = 0;
    for file in g["files"].as_array().unwrap() {
        let name = file["everything"].as_str().unwrap();
        let seg = common::segmentation_from_everything(&repo().join(name));
        for case in file["cases"].as_array().unwrap() {
            let points: Vec<PointPrompt> = case["points"]
                .as_array()
                .unwrap()
                .iter()
                .zip(case["labels"].as_array().unwrap())
                .map(|(p, l)| PointPrompt {
                    x: p[0].as_f64().unwrap(),
                    y: p[1].as_f64().unwrap(),
                    label: PointLabel::from_i64(l.as_i64().unwrap()).unwrap(),
                })
                .collect();
            let prompt = Prompt { points, point_mode: PointMode::PerPoint, ..Prompt::default() };
            let selection = seg.select(&prompt).unwrap();
            let got: Vec<(usize, usize)> =
                selection.indices.iter().zip(&selection.reasons).map(|(&i, r)| (r.point_index.unwrap(), i)).collect();
            let expected: Vec<(usize, usize)> = case["selected"]
                .as_array()
                .unwrap()
                .iter()
                .map(|pair| (pair[0].as_u64().unwrap() as usize, pair[1].as_u64().unwrap() as usize))
                .collect();
            assert_eq!(got, expected, "{name}: {case}");
            let annotations = seg.selection_annotations(&selection, "x.jpg").annotations;
            let point_indices: Vec<Option<usize>> = annotations.iter().map(|a| a.point_index).collect();
            assert_eq!(point_indices, expected.iter().map(|&(k, _)| Some(k)).collect::<Vec<_>>());
            checked += 1;
        }
    }
    assert!(checked >= 200, "{checked} cases");
}

#[test]
fn bad_option_values_are_refused() {
    let seg = common::segmentation_from_everything(
        &repo().join("tests/fixtures/reference/fastsam-s-tiny/bus.everything.json.gz"),
    );
    for (prompt, message) in [
        (
            Prompt { text_threshold: Some(f32::NAN), ..Prompt::default().point(1.0, 1.0, PointLabel::Foreground) },
            "-1 to 1",
        ),
        (Prompt { text_threshold: Some(1.5), ..Prompt::default().point(1.0, 1.0, PointLabel::Foreground) }, "-1 to 1"),
        (Prompt { text_top_k: Some(0), ..Prompt::default().point(1.0, 1.0, PointLabel::Foreground) }, "at least 1"),
    ] {
        let err = seg.select(&prompt).unwrap_err().to_string();
        assert!(err.contains(message), "{err}");
    }
}
