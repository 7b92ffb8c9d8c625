//! `fastsam segment`'s prompt options beyond the reference (--text-threshold, --text-top-k, --per-point,
//! --smooth), single image and --out batch, against the library's reference goldens
//! (tests/fixtures/golden/prompt-options, tools/golden/prompt_options.py): text selections and cosines from the
//! reference's own CLIP similarities, per-point selections from the reference's masks and scores, smoothed
//! masks as cv2.morphologyEx makes them from the reference's masks.
//!
//! The committed tiny FastSAM-s at the reference's settings (imgsz 1024, conf 0.4, iou 0.9) gives the
//! reference's masks (parity_reference.rs: IoU >= 0.98; most are identical), so an output annotation is
//! mapped to the reference mask it equals (identical RLE, else IoU >= 0.98) and compared by that index.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use common::{mask_of, read_json, read_json_maybe_gz, repo, stderr, temp_dir};
use fastsam::mask::Mask;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Similarities here are within 1e-4 of the reference's: cuts and orders decided by less than twice that are
/// ties no implementation can be held to.
const SIMILARITY_TOLERANCE: f64 = 1e-4;
/// Scores are within 2e-3 of the reference's (the parity contract): a per-point choice between masks whose
/// reference scores are closer than twice that is a tie.
const SCORE_TOLERANCE: f64 = 2e-3;

fn golden(name: &str) -> Value {
    read_json(&repo().join("tests/fixtures/golden/prompt-options").join(name))
}

fn model() -> String {
    repo().join("tests/fixtures/fastsam/fastsam-s-tiny.pt").display().to_string()
}

fn clip() -> String {
    repo().join("tests/fixtures/clip/clip-tiny.pt").display().to_string()
}

fn photo(file_name: &str) -> PathBuf {
    common::shared().join("data/images").join(file_name)
}

/// `fastsam segment ARGS... -m <tiny FastSAM-s> --clip <tiny CLIP>`; must succeed.
fn segment(home: &Path, args: &[&str]) -> std::process::Output {
    let (model, clip) = (model(), clip());
    let mut all = vec!["segment"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-m", &model, "--clip", &clip]);
    let out = common::fastsam(home, &all);
    assert!(out.status.success(), "fastsam {all:?}: {}", stderr(&out));
    out
}

/// The JSON a single-image run writes to stdout.
fn segment_json(home: &Path, image: &Path, args: &[&str]) -> Value {
    let mut all = vec![image.to_str().unwrap()];
    all.extend_from_slice(args);
    serde_json::from_slice(&segment(home, &all).stdout).unwrap()
}

fn annotations(file: &Value) -> &Vec<Value> {
    file["annotations"].as_array().unwrap()
}

/// One reference "segment everything" output: its annotations, masks and image file name.
struct Reference {
    annotations: Vec<Value>,
    masks: Vec<Mask>,
    file_name: String,
}

impl Reference {
    /// `everything` is a path relative to the repository, as the goldens name it.
    fn load(everything: &str) -> Reference {
        let file = read_json_maybe_gz(&repo().join(everything));
        let annotations = annotations(&file).clone();
        let masks = annotations.iter().map(mask_of).collect();
        Reference { annotations, masks, file_name: file["image"]["file_name"].as_str().unwrap().to_string() }
    }

    /// The index of the reference mask an output annotation is (identical RLE, else IoU >= 0.98), and whether
    /// it is pixel-identical.
    fn index_of(&self, annotation: &Value) -> (usize, bool) {
        if let Some(i) = self.annotations.iter().position(|r| r["segmentation"] == annotation["segmentation"]) {
            return (i, true);
        }
        let mask = mask_of(annotation).to_full();
        let (best, iou) = self
            .masks
            .iter()
            .map(|m| common::iou(&m.to_full().iter().map(|&v| v != 0).collect::<Vec<_>>(), &mask))
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap();
        assert!(iou >= 0.98, "an output mask matches no reference mask (best IoU {iou:.4} with {best})");
        (best, false)
    }
}

/// The reference indices of a run's annotations, checking each one's "text"/"text_score" against the
/// reference's cosines (exactly comparable where the mask, hence the crop, is the reference's).
fn text_selection(file: &Value, reference: &Reference, phrase: &str, scores: &HashMap<usize, f64>) -> Vec<usize> {
    annotations(file)
        .iter()
        .map(|a| {
            let (i, identical) = reference.index_of(a);
            assert_eq!(a["text"], phrase, "{a}");
            if identical {
                let err = (a["text_score"].as_f64().unwrap() - scores[&i]).abs();
                assert!(err < SIMILARITY_TOLERANCE, "{phrase:?} mask {i}: text_score off by {err:.2e}");
            }
            i
        })
        .collect()
}

/// The golden's selection when it is decided by more than the tolerance: in order when the order is, else
/// as a set (both sides sorted).
fn assert_selection(mut got: Vec<usize>, case: &Value, what: &str) {
    let mut want: Vec<usize> =
        case["selected"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
    if case["inner_gap"].as_f64().unwrap() < 2.0 * SIMILARITY_TOLERANCE {
        got.sort_unstable();
        want.sort_unstable();
    }
    assert_eq!(got, want, "{what}: {case}");
}

fn phrase_scores(entry: &Value) -> HashMap<usize, f64> {
    entry["scores"].as_object().unwrap().iter().map(|(k, v)| (k.parse().unwrap(), v.as_f64().unwrap())).collect()
}

/// One image's entry of a golden file (text.json, smooth.json) of the tiny FastSAM-s.
fn golden_entry(golden_file: &str, image: &str) -> Value {
    let everything = format!("tests/fixtures/reference/fastsam-s-tiny/{image}.everything.json.gz");
    golden(golden_file)["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["everything"] == everything.as_str())
        .unwrap()
        .clone()
}

#[test]
fn text_threshold_and_top_k_select_as_the_reference_similarities_say() {
    let home = temp_dir("text-options");
    let file = golden_entry("text.json", "dogs");
    let reference = Reference::load(file["everything"].as_str().unwrap());
    let image = photo(&reference.file_name);
    let (mut checked, mut ties) = (0, 0);
    for entry in file["phrases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| ["a dog", "a person"].contains(&e["phrase"].as_str().unwrap()))
    {
        let phrase = entry["phrase"].as_str().unwrap();
        let scores = phrase_scores(entry);

        // No threshold: the reference's single best mask, now carrying its phrase and cosine.
        let best = text_selection(&segment_json(&home, &image, &["--text", phrase]), &reference, phrase, &scores);
        let argmax = scores.iter().max_by(|a, b| a.1.total_cmp(b.1)).unwrap();
        assert_eq!(best, vec![*argmax.0], "{phrase:?}: the best mask");

        for case in entry["cases"].as_array().unwrap() {
            if case["cut_gap"].as_f64().unwrap() < 2.0 * SIMILARITY_TOLERANCE {
                ties += 1;
                continue;
            }
            let (threshold, top_k) =
                (case.get("threshold").map(Value::to_string), case.get("top_k").map(Value::to_string));
            let mut args = vec!["--text", phrase];
            if let Some(t) = &threshold {
                args.extend(["--text-threshold", t]);
            }
            if let Some(k) = &top_k {
                args.extend(["--text-top-k", k]);
            }
            let got = text_selection(&segment_json(&home, &image, &args), &reference, phrase, &scores);
            assert_selection(got, case, phrase);
            checked += 1;
        }
    }
    eprintln!("{checked} threshold/top-k selections as the reference's similarities say, {ties} ties skipped");
    assert!(checked >= 12 && ties < checked);
}

#[test]
fn batch_text_top_k_gives_each_image_its_reference_top_k() {
    let home = temp_dir("text-batch");
    let out_dir = home.join("out");
    let images = ["bus", "dogs", "zidane"];
    let references: Vec<Reference> = images
        .iter()
        .map(|i| Reference::load(&format!("tests/fixtures/reference/fastsam-s-tiny/{i}.everything.json.gz")))
        .collect();
    let inputs: Vec<String> = references.iter().map(|r| photo(&r.file_name).display().to_string()).collect();
    let mut args: Vec<&str> = inputs.iter().map(String::as_str).collect();
    args.extend(["--out", out_dir.to_str().unwrap(), "--text", "a person", "--text-top-k", "3"]);
    segment(&home, &args);
    for (image, reference) in images.iter().zip(&references) {
        let file = golden_entry("text.json", image);
        let entry = file["phrases"].as_array().unwrap().iter().find(|e| e["phrase"] == "a person").unwrap();
        let case = entry["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["top_k"] == 3 && c.get("threshold").is_none())
            .unwrap();
        let written = read_json(&out_dir.join(format!("{image}.json")));
        let got = text_selection(&written, reference, "a person", &phrase_scores(entry));
        if case["cut_gap"].as_f64().unwrap() >= 2.0 * SIMILARITY_TOLERANCE {
            assert_selection(got, case, image);
        }
    }
}

/// `X,Y,LABEL` of a golden point.
fn point_arg(point: &Value, label: &Value) -> String {
    format!("{},{},{}", point[0].as_f64().unwrap(), point[1].as_f64().unwrap(), label.as_i64().unwrap())
}

/// Whether a per-point golden case is decided by more than the score tolerance: for each foreground point, the
/// best allowed mask's reference score leads the next allowed one containing the point by at least twice it.
fn per_point_decided(reference: &Reference, case: &Value) -> bool {
    let scores: Vec<f64> = reference.annotations.iter().map(|a| a["score"].as_f64().unwrap()).collect();
    let (w, h) = (reference.masks[0].width() as i64, reference.masks[0].height() as i64);
    let pixel = |p: &Value| {
        let c = |v: f64, n: i64| (v.trunc() as i64).clamp(0, n - 1) as u32;
        (c(p[0].as_f64().unwrap(), w), c(p[1].as_f64().unwrap(), h))
    };
    let points: Vec<((u32, u32), i64)> = case["points"]
        .as_array()
        .unwrap()
        .iter()
        .zip(case["labels"].as_array().unwrap())
        .map(|(p, l)| (pixel(p), l.as_i64().unwrap()))
        .collect();
    let allowed = |m: &Mask| points.iter().all(|&((x, y), l)| l == 1 || !m.get(x, y));
    points.iter().filter(|(_, l)| *l == 1).all(|&((x, y), _)| {
        let mut candidates: Vec<f64> =
            reference.masks.iter().zip(&scores).filter(|(m, _)| allowed(m) && m.get(x, y)).map(|(_, &s)| s).collect();
        candidates.sort_by(|a, b| b.total_cmp(a));
        candidates.len() < 2 || candidates[0] - candidates[1] >= 2.0 * SCORE_TOLERANCE
    })
}

#[test]
fn per_point_gives_one_object_per_click_as_the_reference_masks_say() {
    let home = temp_dir("per-point");
    let g = golden("per_point.json");
    let (mut checked, mut objects) = (0, 0);
    for image in ["dogs", "zidane"] {
        let everything = format!("tests/fixtures/reference/fastsam-s-tiny/{image}.everything.json.gz");
        let file = g["files"].as_array().unwrap().iter().find(|f| f["everything"] == everything.as_str()).unwrap();
        let reference = Reference::load(&everything);
        let photo = photo(&reference.file_name);
        for case in file["cases"].as_array().unwrap().iter().filter(|c| per_point_decided(&reference, c)) {
            let points: Vec<String> = case["points"]
                .as_array()
                .unwrap()
                .iter()
                .zip(case["labels"].as_array().unwrap())
                .map(|(p, l)| point_arg(p, l))
                .collect();
            let mut args = vec!["--per-point"];
            for p in &points {
                args.extend(["--point", p]);
            }
            let got: Vec<(u64, usize)> = annotations(&segment_json(&home, &photo, &args))
                .iter()
                .map(|a| {
                    (
                        a["point_index"].as_u64().expect("a per-point annotation has point_index"),
                        reference.index_of(a).0,
                    )
                })
                .collect();
            let want: Vec<(u64, usize)> = case["selected"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (p[0].as_u64().unwrap(), p[1].as_u64().unwrap() as usize))
                .collect();
            assert_eq!(got, want, "{image}: {case}");
            objects += want.len();
            checked += 1;
        }
    }
    eprintln!("{checked} per-point cases, {objects} objects");
    assert!(checked >= 16 && objects >= 16);
}

fn digest(mask: &Mask) -> String {
    Sha256::digest(mask.to_full()).iter().take(16).map(|x| format!("{x:02x}")).collect()
}

/// Every output mask is the reference mask's smoothing by cv2.morphologyEx (digest and area), except where our
/// unsmoothed mask is not pixel-identical to the reference's (at most `max_other` of them); areas are the
/// smoothed masks'. Returns the smoothed masks.
fn assert_smoothed(file: &Value, image: &str, max_other: usize) -> Vec<Mask> {
    let golden = golden_entry("smooth.json", image);
    let anns = annotations(file);
    assert_eq!(anns.len(), golden["smoothed_sha256"].as_array().unwrap().len(), "{image}: mask count");
    let mut other = 0;
    let masks: Vec<Mask> = anns.iter().map(mask_of).collect();
    for (i, (a, m)) in anns.iter().zip(&masks).enumerate() {
        assert_eq!(a["area"].as_u64().unwrap(), m.area(), "{image}: mask {i}'s area is its smoothed mask's");
        if digest(m) == golden["smoothed_sha256"][i].as_str().unwrap() {
            assert_eq!(m.area(), golden["smoothed_area"][i].as_u64().unwrap());
        } else {
            other += 1;
        }
    }
    assert!(other <= max_other, "{image}: {other} masks differ from OpenCV's smoothing of the reference's");
    masks
}

#[test]
fn smooth_applies_to_every_output_and_prompts_select_over_smoothed_masks() {
    let home = temp_dir("smooth");
    let reference = Reference::load("tests/fixtures/reference/fastsam-s-tiny/dogs.everything.json.gz");
    let image = photo(&reference.file_name);
    let (json, overlay, cutout) = (home.join("s.json"), home.join("s.png"), home.join("s.cut.png"));
    let args = [
        image.to_str().unwrap(),
        "--smooth",
        "--polygons",
        "--json",
        json.to_str().unwrap(),
        "--overlay",
        overlay.to_str().unwrap(),
        "--cutout",
        cutout.to_str().unwrap(),
    ];
    segment(&home, &args);
    let file = read_json(&json);
    let smoothed = assert_smoothed(&file, "dogs", 2);
    let plain = segment_json(&home, &image, &[]);
    let (w, h) = (smoothed[0].width(), smoothed[0].height());
    for (i, (a, p)) in annotations(&file).iter().zip(annotations(&plain)).enumerate() {
        assert_eq!((&a["bbox"], &a["score"]), (&p["bbox"], &p["score"]), "mask {i} keeps its box and score");
        let polygons: Vec<Vec<f64>> = serde_json::from_value(a["polygons"].clone()).unwrap();
        let iou = common::iou(&common::rasterise(&polygons, w, h), &smoothed[i].to_full());
        assert!(iou > 0.9, "mask {i}: polygons' IoU with the smoothed mask {iou}");
    }

    // Overlay and cut-out: of the smoothed masks' union (pixels smoothing removed stay the photo's).
    let union = Mask::union(w, h, &smoothed).unwrap();
    let unsmoothed_union = Mask::union(w, h, &reference.masks).unwrap();
    let original = image::open(&image).unwrap().to_rgb8();
    let drawn = image::open(&overlay).unwrap().to_rgb8();
    let mut removed = 0;
    for (x, y, px) in drawn.enumerate_pixels() {
        if !union.get(x, y) {
            let o = original.get_pixel(x, y).0;
            // Another JPEG decoder here: allow its rounding.
            assert!((0..3).all(|c| (i32::from(px.0[c]) - i32::from(o[c])).abs() <= 8), "overlay pixel {x},{y}");
            removed += usize::from(unsmoothed_union.get(x, y));
        }
    }
    assert!(removed > 100, "smoothing removed only {removed} pixels of the union");
    let cut = image::open(&cutout).unwrap().to_rgba8();
    let [x1, y1, x2, y2] = union.bbox().unwrap();
    assert_eq!((cut.width(), cut.height()), (x2 - x1, y2 - y1));
    let opaque = cut.pixels().filter(|p| p.0[3] == 255).count() as u64;
    assert_eq!(opaque, union.area());

    // A click on a pixel that smoothing took out of a mask: that mask is no longer selected.
    let (x, y, lost) = (0..h)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .find_map(|(x, y)| {
            let lost: Vec<usize> =
                (0..smoothed.len()).filter(|&i| reference.masks[i].get(x, y) && !smoothed[i].get(x, y)).collect();
            (!lost.is_empty() && smoothed.iter().any(|m| m.get(x, y))).then_some((x, y, lost))
        })
        .expect("a pixel smoothing removed from one mask and not from another");
    let point = format!("{x},{y}");
    let selected = segment_json(&home, &image, &["--smooth", "--point", &point]);
    let want: Vec<&Value> = annotations(&file).iter().filter(|a| mask_of(a).get(x, y)).collect();
    let got: Vec<&Value> = annotations(&selected).iter().map(|a| &a["segmentation"]).collect();
    assert_eq!(got, want.iter().map(|a| &a["segmentation"]).collect::<Vec<_>>(), "point {point}");
    assert!(lost.iter().all(|&i| !got.contains(&&annotations(&file)[i]["segmentation"])));
}

#[test]
fn batch_smooth_writes_smoothed_masks_for_every_image() {
    let home = temp_dir("smooth-batch");
    let out_dir = home.join("out");
    let images = ["bus", "dogs"];
    let inputs: Vec<String> = images.iter().map(|i| photo(&format!("{i}.jpg")).display().to_string()).collect();
    let mut args: Vec<&str> = inputs.iter().map(String::as_str).collect();
    args.extend(["--out", out_dir.to_str().unwrap(), "--smooth", "--overlay"]);
    segment(&home, &args);
    for image in images {
        assert_smoothed(&read_json(&out_dir.join(format!("{image}.json"))), image, 2);
        assert!(out_dir.join(format!("{image}.overlay.png")).is_file());
    }
}

#[test]
fn nonsensical_option_combinations_are_refused_clearly() {
    let home = temp_dir("option-errors");
    let image = photo("dogs.jpg");
    let (model, clip) = (model(), clip());
    for (args, message) in [
        (vec!["--text-threshold", "0.1"], "--text-threshold needs --text"),
        (vec!["--text-top-k", "2"], "--text-top-k needs --text"),
        (vec!["--per-point"], "--per-point needs --point"),
        (vec!["--per-point", "--merge", "--point", "1,1"], "'--per-point' cannot be used with '--merge'"),
        (vec!["--text", "a dog", "--text-threshold", "1.5"], "expected -1 to 1"),
        (vec!["--text", "a dog", "--text-threshold", "nan"], "expected -1 to 1"),
        (vec!["--text", "a dog", "--text-top-k", "0"], "at least 1"),
        (vec!["--text", "a dog", "--text-top-k", "-1"], "--text-top-k"),
        (vec!["--text", "a dog", "--text-threshold", "high"], "--text-threshold"),
    ] {
        let mut all = vec!["segment", image.to_str().unwrap(), "-m", &model, "--clip", &clip];
        all.extend_from_slice(&args);
        let out = common::fastsam(&home, &all);
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = stderr(&out);
        assert!(err.starts_with("error: ") && err.contains(message), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}
