//! CLIP encoders and preprocessing against the reference (Ultralytics' `CLIP` wrapper over OpenAI `clip`,
//! PIL 13.0.0, torchvision 0.29.2): tests/fixtures/reference-text/embeddings.json, made by
//! tools/fixtures/clip/reference.py from the tiny random CLIP in tests/fixtures/clip.

use std::path::{Path, PathBuf};

use fastsam::clip::{preprocess, Clip};
use fastsam::RgbImage;
use serde_json::Value;
use sha2::{Digest, Sha256};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn shared() -> PathBuf {
    std::env::var_os("FASTSAM_SHARED").map_or_else(|| repo().join("../shared"), PathBuf::from)
}

fn reference() -> Value {
    let text = std::fs::read_to_string(repo().join("tests/fixtures/reference-text/embeddings.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
    let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

/// The reference's crop: a box slice of the decoded image (no mask).
fn crop(entry: &Value) -> RgbImage {
    let image =
        fastsam::image::open(shared().join("data/images").join(entry["image"].as_str().unwrap()), &Default::default())
            .unwrap();
    let b: Vec<u32> = entry["box"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
    let (w, h) = (b[2] - b[0], b[3] - b[1]);
    let mut data = Vec::with_capacity((w * h * 3) as usize);
    for y in b[1]..b[3] {
        let start = ((y * image.width + b[0]) * 3) as usize;
        data.extend_from_slice(&image.data[start..start + (w * 3) as usize]);
    }
    RgbImage::new(w, h, data).unwrap()
}

#[test]
fn preprocessing_is_bit_exact() {
    let reference = reference();
    for entry in reference["images"].as_array().unwrap() {
        let note = entry["note"].as_str().unwrap();
        let image = crop(entry);
        let (rgb, resized, offset) = preprocess::resize_center_crop(&image, 224).unwrap();
        let expected_size: Vec<u64> =
            entry["resized_size"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
        assert_eq!([u64::from(resized.0), u64::from(resized.1)], expected_size[..], "{note}: resized size");
        let expected_offset: Vec<u64> =
            entry["crop_offset"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
        assert_eq!([u64::from(offset[0]), u64::from(offset[1])], expected_offset[..], "{note}: crop offset");
        let sha: String = Sha256::digest(&rgb.data).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(sha, entry["rgb224_sha256"].as_str().unwrap(), "{note}: 224x224 RGB bytes");
        let mut pixels = Vec::new();
        preprocess::normalize_into(&rgb, &mut pixels);
        let sum: f64 = pixels.iter().map(|&v| f64::from(v)).sum();
        let abs: f64 = pixels.iter().map(|&v| f64::from(v).abs()).sum();
        // Bit-equal f32 pixels summed in f64 in the same order give the same sum up to summation order.
        assert!((sum - entry["pixels_sum"].as_f64().unwrap()).abs() < 1e-6 * abs, "{note}: pixel sum {sum}");
        assert!((abs - entry["pixels_abs_sum"].as_f64().unwrap()).abs() < 1e-9 * abs, "{note}: abs sum {abs}");
    }
}

fn check_embeddings(file: &str) {
    let reference = reference();
    let clip = Clip::load(repo().join("tests/fixtures/clip").join(file)).unwrap();
    assert_eq!(clip.config().embed_dim, reference["embed_dim"].as_u64().unwrap() as usize);
    let texts: Vec<&Value> = reference["texts"].as_array().unwrap().iter().collect();
    let phrases: Vec<&str> = texts.iter().map(|t| t["text"].as_str().unwrap()).collect();
    let got = clip.encode_text(&phrases).unwrap();
    let mut worst = 1.0f64;
    for (t, e) in texts.iter().zip(&got) {
        let c = cosine(e, &floats(&t["embedding"]));
        worst = worst.min(c);
        assert!(c >= 0.9999, "{file}: text {:?}: cosine {c}", t["text"]);
    }
    // Second call: from the cache, same values.
    assert_eq!(clip.encode_text(&phrases[..3]).unwrap(), got[..3].to_vec());
    let images: Vec<RgbImage> = reference["images"].as_array().unwrap().iter().map(crop).collect();
    let refs: Vec<&RgbImage> = images.iter().collect();
    let got = clip.encode_images(&refs).unwrap();
    for (entry, e) in reference["images"].as_array().unwrap().iter().zip(&got) {
        let c = cosine(e, &floats(&entry["embedding"]));
        worst = worst.min(c);
        assert!(c >= 0.9999, "{file}: image {:?}: cosine {c}", entry["note"]);
    }
    eprintln!("{file}: worst cosine {worst:.9}");
}

#[test]
fn embeddings_match_reference_torchscript() {
    check_embeddings("clip-tiny.pt");
}

#[test]
fn embeddings_match_reference_safetensors() {
    check_embeddings("clip-tiny.safetensors");
}

#[test]
fn config_is_inferred_from_shapes() {
    let clip = Clip::load(repo().join("tests/fixtures/clip/clip-tiny.safetensors")).unwrap();
    let c = clip.config();
    assert_eq!(
        (c.vision.width, c.vision.layers, c.vision.heads, c.vision.patch_size, c.vision.grid),
        (64, 2, 1, 32, 7)
    );
    assert_eq!(
        (c.text.width, c.text.layers, c.text.heads, c.text.context_length, c.text.vocab_size),
        (64, 2, 1, 77, 49408)
    );
    assert_eq!(c.embed_dim, 32);
}

#[test]
fn fastsam_checkpoint_is_refused_in_one_line() {
    let path = repo().join("tests/fixtures/golden/graph/seg_s.pt");
    let err = Clip::load(&path).unwrap_err().to_string();
    assert!(err.contains("FastSAM/YOLO checkpoint, not a CLIP model"), "{err}");
    assert!(!err.contains('\n'), "{err}");
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn pair(v: &Value) -> [u32; 2] {
    [v[0].as_u64().unwrap() as u32, v[1].as_u64().unwrap() as u32]
}

/// One golden resize case: what the case compares (the sha256 of the whole `resize` output, or of the 224x224
/// center crop of the CLIP transform), checked against `preprocess::resize_bicubic`. Returns whether the case
/// ran the vertical pass first by Pillow 13's rule and whether the other pass order would have failed it.
fn check_resize_case(case: &Value) -> (bool, bool) {
    let image = crop(case);
    let what = format!("{} {:?} {}x{}", case["image"], case["box"], image.width, image.height);
    let (w, h, expected) = match case.get("resize") {
        Some(size) => {
            let [w, h] = pair(size);
            (w, h, case["rgb_sha256"].as_str().unwrap())
        }
        None => {
            let (_, resized, offset) = preprocess::resize_center_crop(&image, 224).unwrap();
            assert_eq!([resized.0, resized.1], pair(&case["resized_size"]), "{what}: resized size");
            assert_eq!(offset, pair(&case["crop_offset"]), "{what}: crop offset");
            (resized.0, resized.1, case["rgb224_sha256"].as_str().unwrap())
        }
    };
    let hash = |out: RgbImage| -> String {
        if case.get("resize").is_some() {
            return sha256(&out.data);
        }
        let [left, top] = pair(&case["crop_offset"]);
        let rows: Vec<u8> = (top..top + 224)
            .flat_map(|y| {
                let s = ((y * out.width + left) * 3) as usize;
                out.data[s..s + 224 * 3].to_vec()
            })
            .collect();
        sha256(&rows)
    };
    let vertical = preprocess::vertical_first(image.width, image.height, w, h);
    assert_eq!(
        hash(preprocess::resize_bicubic(&image, w, h)),
        expected,
        "{what} -> {w}x{h} (vertical first: {vertical})"
    );
    let other = hash(preprocess::resize_bicubic_in_order(&image, w, h, !vertical)) != expected;
    (vertical, other)
}

/// PIL resizes to arbitrary sizes and the full CLIP transform on random crops
/// (tests/fixtures/golden/clip-encoders/preprocess.json, tools/golden/clip_preprocess.py), bit for bit,
/// Pillow 13's pass order included.
#[test]
fn pil_bicubic_matches_on_random_crops() {
    let text = std::fs::read_to_string(repo().join("tests/fixtures/golden/clip-encoders/preprocess.json")).unwrap();
    let golden: Value = serde_json::from_str(&text).unwrap();
    let cases = golden["cases"].as_array().unwrap();
    let results: Vec<(bool, bool)> = cases.iter().map(check_resize_case).collect();
    assert_eq!(cases.len(), 144);
    // 16 of them need the vertical pass first (the horizontal-first order, Pillow <= 12's, fails them).
    assert_eq!(results.iter().filter(|&&(vertical, other)| vertical && other).count(), 16);
}

/// Pillow 13's pass order on both sides of its boundary (tests/fixtures/golden/clip-preprocess/pass_order.json,
/// tools/golden/clip_pass_order.py): arbitrary resizes, and the CLIP transform on the crop sizes whose text-prompt
/// similarities were off while the order was wrong. Every case must match, and every one must fail with the other
/// order (a case both orders pass would prove nothing about the rule).
#[test]
fn pil_pass_order_matches_pillow_13() {
    let text = std::fs::read_to_string(repo().join("tests/fixtures/golden/clip-preprocess/pass_order.json")).unwrap();
    let golden: Value = serde_json::from_str(&text).unwrap();
    let cases = golden["cases"].as_array().unwrap();
    let results: Vec<(bool, bool)> = cases.iter().map(check_resize_case).collect();
    let vertical = results.iter().filter(|r| r.0).count();
    let decisive = results.iter().filter(|r| r.1).count();
    eprintln!("{} cases, {vertical} vertical first, {decisive} fail with the other order", cases.len());
    assert_eq!((cases.len(), vertical, decisive), (48, 30, 48));
}
