//! Text-prompt selections against the reference (`FastSAMPredictor.prompt(texts=...)` with Ultralytics' CLIP
//! wrapper over a local CLIP checkpoint): every `<model>/<image>.text.json` under tests/fixtures/reference-text
//! (tools/fixtures/clip/text_prompts.py) and tests/fixtures/golden/clip-encoders/select (same script, run by
//! tools/golden/clip_select.sh on the tiny FastSAM-s-shaped graph fixture). Each file names the FastSAM and CLIP
//! checkpoints it was made with.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use fastsam::clip::{preprocess, Clip};
use fastsam::{FastSam, Prompt, RgbImage};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn shared() -> PathBuf {
    std::env::var_os("FASTSAM_SHARED").map_or_else(|| repo().join("../shared"), PathBuf::from)
}

/// Largest accepted similarity error when our crop equals the reference's bit for bit (measured: 2.6e-5).
const SIMILARITY_TOLERANCE: f64 = 1e-4;

/// KNOWN GAP, outside CLIP: 296 of the 1,593 scored crops (291 distinct masks: three images are scored by two
/// files) differ from the reference's (tests/fixtures/golden/clip-text-crops/crops.json,
/// tools/golden/clip_text_crops.py): a few mask pixels (stage-1 mask parity, 3 to 47 bytes per crop) or, once, a
/// box truncated one pixel apart (fastsam-x-tiny, sa_8776.jpg, mask 16: x2 1157.024 here, under 1157 in the
/// reference; its similarities are off by up to 0.51). Only those crops may score differently (250 of their
/// 7,400 similarities are off by >= 2e-3); every crop equal to the reference's must score within
/// SIMILARITY_TOLERANCE. The bound keeps the gap from growing. The count is 296 with ONNX Runtime's convolution
/// everywhere (`--conv direct`) and 298 with the default Winograd layers (tiny fixtures' 32+-channel layers),
/// whose sums round differently.
const MAX_CROPS_DIFFERENT: usize = 298;

/// Selections whose top-two similarities are closer than this are not insisted on: a crop that differs from the
/// reference's moves its similarities by up to a few 1e-3 (worse only for the crop with the shifted box).
const MARGIN: f64 = 4e-3;

fn text_files(roots: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for root in roots {
        let Ok(models) = std::fs::read_dir(repo().join(root)) else { continue };
        for model in models.flatten().filter(|e| e.path().is_dir()) {
            for f in std::fs::read_dir(model.path()).unwrap().flatten() {
                if f.file_name().to_string_lossy().ends_with(".text.json") {
                    out.push(f.path());
                }
            }
        }
    }
    out.sort();
    out
}

struct Checked {
    similarities: usize,
    /// Off similarities of crops equal to the reference's (must stay 0) and of crops that differ.
    similarities_off: usize,
    similarities_off_crop_differs: usize,
    crops: usize,
    crops_different: usize,
    worst_error_equal_crop: f64,
    files: usize,
    selections: usize,
    skipped_close: usize,
    worst_similarity_error: f64,
}

/// The reference's crop digests for every scored mask: model stem -> image stem -> (crop ids, digests).
fn reference_crops() -> Value {
    let path = repo().join("tests/fixtures/golden/clip-text-crops/crops.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// For each scored mask: whether our crop (as `Segmentation::text_scores` builds it) equals the reference's.
fn crops_equal(seg: &fastsam::Segmentation, image: &RgbImage, crop_ids: &[usize], golden: &Value) -> Vec<bool> {
    let ids: Vec<usize> = golden["crop_ids"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
    assert_eq!(ids, crop_ids, "crop digests are for other masks");
    crop_ids
        .iter()
        .zip(golden["crop_sha256"].as_array().unwrap())
        .map(|(&id, digest)| {
            let d = &seg.objects()[id];
            let crop = preprocess::masked_crop(image, &d.mask, d.bbox.map(|v| v.trunc().max(0.0) as u32)).unwrap();
            let sha: String = Sha256::digest(&crop.data).iter().map(|x| format!("{x:02x}")).collect();
            sha[..16] == *digest.as_str().unwrap()
        })
        .collect()
}

/// The reference's own masks and boxes (its everything file under `root`), as a segmentation: the text stage
/// then sees exactly the reference's crops.
fn reference_segmentation(root: &Path, j: &Value) -> fastsam::Segmentation {
    common::segmentation_from_everything(&root.join(j["everything"]["file"].as_str().unwrap()))
}

/// Where the masks whose crops are scored come from.
#[derive(Clone, Copy)]
enum Masks {
    /// `FastSam::segment` on the checkpoint the file names.
    Ours,
    /// The reference's everything file, under this root.
    Reference(&'static str),
}

fn check_file(
    path: &Path,
    models: &mut HashMap<String, FastSam>,
    clips: &mut HashMap<String, Clip>,
    golden: Option<&Value>,
    masks: Masks,
    c: &mut Checked,
) {
    let j: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let name = path.display().to_string();
    let fastsam_path = j["fastsam"]["path"].as_str().unwrap().to_string();
    let clip_path = j["clip"]["path"].as_str().unwrap().to_string();
    let clip = clips.entry(clip_path.clone()).or_insert_with(|| Clip::load(repo().join(&clip_path)).unwrap());
    let image =
        fastsam::image::open(shared().join("data/images").join(j["image"].as_str().unwrap()), &Default::default())
            .unwrap();
    let seg = match masks {
        Masks::Ours => models
            .entry(fastsam_path.clone())
            .or_insert_with(|| FastSam::load(repo().join(&fastsam_path)).unwrap())
            .segment(&image)
            .unwrap(),
        Masks::Reference(root) => reference_segmentation(&repo().join(root), &j),
    };
    assert_eq!(seg.len() as u64, j["everything"]["count"].as_u64().unwrap(), "{name}: mask count");
    let crop_ids: Vec<usize> = (0..seg.len()).filter(|&i| seg.objects()[i].mask.area() > 100).collect();
    let expected_ids: Vec<usize> =
        j["crop_ids"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
    assert_eq!(crop_ids, expected_ids, "{name}: scored masks");
    let model_stem = Path::new(&fastsam_path).file_stem().unwrap().to_string_lossy().to_string();
    let image_stem = Path::new(j["image"].as_str().unwrap()).file_stem().unwrap().to_string_lossy().to_string();
    let equal = match golden.map(|g| g["models"][&model_stem].get(&image_stem)) {
        Some(Some(g)) => crops_equal(&seg, &image, &crop_ids, g),
        // tests/fixtures/golden/clip-encoders/select: no scored masks, nothing to compare.
        Some(None) => {
            assert!(crop_ids.is_empty(), "{name}: no reference crop digests");
            Vec::new()
        }
        // Full-size fixtures: no crop digests, every crop counts as possibly different.
        None => vec![false; crop_ids.len()],
    };
    c.crops += equal.len();
    c.crops_different += equal.iter().filter(|e| !**e).count();
    // Full-size masks agree with the reference's to IoU ~0.9999, not bit for bit, so their crops are not compared.
    let records = j.get("crops").and_then(Value::as_array).filter(|_| golden.is_some());
    for rec in records.into_iter().flatten() {
        let id = rec["id"].as_u64().unwrap() as usize;
        let b: Vec<u32> = rec["box"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
        let crop: RgbImage =
            preprocess::masked_crop(&image, &seg.objects()[id].mask, [b[0], b[1], b[2], b[3]]).unwrap();
        let sha: String = Sha256::digest(&crop.data).iter().map(|x| format!("{x:02x}")).collect();
        assert_eq!(sha, rec["crop_rgb_sha256"].as_str().unwrap(), "{name}: crop of mask {id}");
    }
    let phrases: Vec<&str> = j["phrases"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    for (p, row) in phrases.iter().zip(j["similarity"].as_array().unwrap()) {
        let scores: HashMap<usize, f32> = seg.text_scores(p, &image, clip, usize::MAX).unwrap().into_iter().collect();
        for ((id, s), &same_crop) in crop_ids.iter().zip(row.as_array().unwrap()).zip(&equal) {
            let err = (f64::from(scores[id]) - s.as_f64().unwrap()).abs();
            c.worst_similarity_error = c.worst_similarity_error.max(err);
            c.similarities += 1;
            if same_crop {
                c.worst_error_equal_crop = c.worst_error_equal_crop.max(err);
            }
            if err >= SIMILARITY_TOLERANCE {
                if same_crop {
                    c.similarities_off += 1;
                    eprintln!("{name}: {p:?} vs mask {id}: similarity off by {err:.2e} (same crop)");
                } else {
                    c.similarities_off_crop_differs += 1;
                }
            }
        }
    }
    for case in j["cases"].as_array().unwrap() {
        let texts: Vec<String> =
            case["texts"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string()).collect();
        let close = case
            .get("margins")
            .and_then(Value::as_array)
            .is_some_and(|m| m.iter().any(|v| v.as_f64().unwrap() < MARGIN));
        if close {
            c.skipped_close += 1;
            continue;
        }
        let prompt = Prompt { texts: texts.clone(), ..Prompt::default() };
        let got = seg.select_with_clip(&prompt, &image, clip).unwrap().indices;
        let expected: Vec<usize> =
            case["selected"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
        assert_eq!(got, expected, "{name}: texts {texts:?}");
        c.selections += 1;
    }
    c.files += 1;
}

impl Checked {
    fn new() -> Checked {
        Checked {
            similarities: 0,
            similarities_off: 0,
            similarities_off_crop_differs: 0,
            crops: 0,
            crops_different: 0,
            worst_error_equal_crop: 0.0,
            files: 0,
            selections: 0,
            skipped_close: 0,
            worst_similarity_error: 0.0,
        }
    }
}

/// The full-size fixtures, generated on demand (tools/fixtures/clip/README.md: FastSAM-s-shaped random checkpoint,
/// ViT-B/32-shaped random CLIP, `text_prompts.py ... --out .cache/reference-text --prompt-cases 2`), scored on the
/// reference's own masks (its everything files in `.cache/reference-s-x/`): full-size masks match the reference's
/// to IoU ~0.9999, not bit for bit, and this random ViT-B/32 moves a similarity by up to ~0.02 for a crop a few
/// pixels different, which would hide what this checks — the text stage. Ignored by default (large files,
/// minutes of CPU):
///
///     cargo test --release -p fastsam --test clip_text_select -- --ignored --nocapture
#[test]
#[ignore]
fn full_size_text_selections_match_reference() {
    let files: Vec<PathBuf> =
        text_files(&[".cache/reference-text"]).into_iter().filter(|f| !f.to_string_lossy().contains("tiny")).collect();
    assert!(!files.is_empty(), "no full-size reference text selections under .cache/reference-text");
    let (mut models, mut clips) = (HashMap::new(), HashMap::new());
    let mut c = Checked::new();
    for f in &files {
        check_file(f, &mut models, &mut clips, None, Masks::Reference(".cache/reference-s-x"), &mut c);
    }
    let off = c.similarities_off_crop_differs;
    eprintln!(
        "{} files: {} selections equal, {} skipped (margin < {MARGIN}); {off} of {} similarities off by >= \
         {SIMILARITY_TOLERANCE}, worst {:.2e}",
        c.files, c.selections, c.skipped_close, c.similarities, c.worst_similarity_error
    );
    assert!(c.selections > 0);
    // Same crops, so only the encoders' float differences remain (measured worst 1.06e-4 over 22,150).
    assert!(c.worst_similarity_error < 5e-4, "worst similarity error {:.2e}", c.worst_similarity_error);
}

#[test]
fn text_selections_match_reference() {
    let files = text_files(&["tests/fixtures/reference-text", "tests/fixtures/golden/clip-encoders/select"]);
    let (mut models, mut clips) = (HashMap::new(), HashMap::new());
    let golden = reference_crops();
    let mut c = Checked::new();
    for f in &files {
        check_file(f, &mut models, &mut clips, Some(&golden), Masks::Ours, &mut c);
    }
    eprintln!(
        "{} files, {} selections equal, {} skipped (margin < {MARGIN}), worst similarity error {:.2e}",
        c.files, c.selections, c.skipped_close, c.worst_similarity_error
    );
    // tests/fixtures/golden/clip-encoders/select holds one file (a segmentation without masks); the real
    // selections come with the FastSAM fixtures (tests/fixtures/reference-text/<model>/).
    assert!(c.files > 0, "no reference text selections found");
    eprintln!(
        "{} of {} crops differ from the reference's; {} similarities off by >= {SIMILARITY_TOLERANCE} on equal crops \
         (worst {:.2e}), {} on differing crops; {} similarities in all",
        c.crops_different,
        c.crops,
        c.similarities_off,
        c.worst_error_equal_crop,
        c.similarities_off_crop_differs,
        c.similarities
    );
    assert_eq!(c.similarities_off, 0, "similarities off on crops equal to the reference's");
    assert!(c.crops_different <= MAX_CROPS_DIFFERENT, "{} crops differ from the reference's", c.crops_different);
}

#[test]
fn select_without_clip_rejects_texts() {
    let model = FastSam::load(repo().join("tests/fixtures/golden/graph/seg_s.pt")).unwrap();
    let image = fastsam::image::open(shared().join("data/images/bus.jpg"), &Default::default()).unwrap();
    let seg = model.segment(&image).unwrap();
    let err = seg.select(&Prompt::default().text("a bus")).unwrap_err().to_string();
    assert!(err.contains("select_with_clip"), "{err}");
}

/// Elliptic masks with fractional boxes over real photos (tests/fixtures/golden/clip-encoders/select_synth.json,
/// tools/golden/clip_select_synth.py): the reference's prompt on the same objects with the tiny CLIP.
#[test]
fn synthetic_selections_match_reference() {
    use fastsam::mask::Mask;
    use fastsam::postprocess::{Detection, Detections};
    use fastsam::Segmentation;

    let path = repo().join("tests/fixtures/golden/clip-encoders/select_synth.json");
    let golden: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let clip = Clip::load(repo().join("tests/fixtures/clip/clip-tiny.pt")).unwrap();
    let phrases: Vec<&str> = golden["phrases"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    let (mut equal, mut skipped) = (0, 0);
    for entry in golden["images"].as_array().unwrap() {
        let name = entry["image"].as_str().unwrap();
        let image = fastsam::image::open(shared().join("data/images").join(name), &Default::default()).unwrap();
        let (w, h) = (image.width, image.height);
        let items: Vec<Detection> = entry["objects"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(k, o)| {
                let f = |key: &str| o[key].as_f64().unwrap();
                let (cx, cy, rx, ry) = (f("cx"), f("cy"), f("rx"), f("ry"));
                let mut full = vec![0u8; (w * h) as usize];
                for y in 0..h {
                    for x in 0..w {
                        let (dx, dy) = ((f64::from(x) - cx) / rx, (f64::from(y) - cy) / ry);
                        full[(y * w + x) as usize] = u8::from(dx.powi(2) + dy.powi(2) <= 1.0);
                    }
                }
                let b: Vec<f32> = o["box"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
                let bbox = [b[0], b[1], b[2], b[3]];
                let mask = Mask::from_full(w, h, &full).unwrap();
                Detection { bbox, raw_bbox: bbox, score: 0.9 - k as f32 / 1000.0, class: 0, anchor: k, mask }
            })
            .collect();
        let areas: Vec<u64> = items.iter().map(|d| d.mask.area()).collect();
        let expected_areas: Vec<u64> = entry["areas"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
        assert_eq!(areas, expected_areas, "{name}: mask areas");
        let seg = Segmentation::new(Detections { width: w, height: h, items });
        let crop_ids: Vec<usize> =
            entry["crop_ids"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
        for (p, row) in phrases.iter().zip(entry["similarity"].as_array().unwrap()) {
            let scores: HashMap<usize, f32> =
                seg.text_scores(p, &image, &clip, usize::MAX).unwrap().into_iter().collect();
            assert_eq!(scores.len(), crop_ids.len(), "{name}: scored masks");
            for (id, s) in crop_ids.iter().zip(row.as_array().unwrap()) {
                let err = (f64::from(scores[id]) - s.as_f64().unwrap()).abs();
                assert!(err < 1e-4, "{name}: {p:?} vs mask {id}: similarity off by {err}");
            }
        }
        let margins: Vec<f64> = entry["margins"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        for case in entry["cases"].as_array().unwrap() {
            let texts: Vec<String> =
                case["texts"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string()).collect();
            if texts.iter().any(|t| margins[phrases.iter().position(|p| p == t).unwrap()] < MARGIN) {
                skipped += 1;
                continue;
            }
            let got =
                seg.select_with_clip(&Prompt { texts: texts.clone(), ..Prompt::default() }, &image, &clip).unwrap();
            let expected: Vec<usize> =
                case["selected"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
            assert_eq!(got.indices, expected, "{name}: texts {texts:?}");
            equal += 1;
        }
    }
    eprintln!("synthetic: {equal} selections equal, {skipped} skipped (margin < {MARGIN})");
    assert!(equal >= 20);
}
