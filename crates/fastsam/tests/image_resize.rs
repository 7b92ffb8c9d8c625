//! `resize_linear` against `cv2.resize(INTER_LINEAR)` (tests/fixtures/golden/image/resize.json, made by
//! tools/golden/image.py on images both sides generate from the same integer hash).

use std::path::Path;

use fastsam::image::{resize_linear, RgbImage};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// tools/golden/image.py `hash_image`: splitmix64 of (seed, sample index), top byte; every third seed bright.
fn hash_image(seed: u64, w: u32, h: u32) -> RgbImage {
    let n = w as u64 * h as u64 * 3;
    let base = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let data = (0..n)
        .map(|i| {
            let mut z = base.wrapping_add(i.wrapping_mul(0xBF58_476D_1CE4_E5B9));
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            let v = (z >> 56) as u8;
            if seed % 3 == 0 {
                v | 0xE0
            } else {
                v
            }
        })
        .collect();
    RgbImage::new(w, h, data).unwrap()
}

#[test]
fn resize_matches_cv2_inter_linear() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/golden/image/resize.json");
    let json: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases = json["cases"].as_array().unwrap();
    let pair = |v: &Value| (v[0].as_u64().unwrap() as u32, v[1].as_u64().unwrap() as u32);
    let mut failures = Vec::new();
    for case in cases {
        let ((sw, sh), (dw, dh)) = (pair(&case["src"]), pair(&case["dst"]));
        let seed = case["seed"].as_u64().unwrap();
        let out = resize_linear(&hash_image(seed, sw, sh), dw, dh);
        let digest: String = Sha256::digest(&out.data).iter().map(|b| format!("{b:02x}")).collect();
        if digest != case["sha256"].as_str().unwrap() {
            failures.push(format!("seed {seed}: {sw}x{sh} -> {dw}x{dh}"));
        }
    }
    assert!(cases.len() > 200);
    assert!(failures.is_empty(), "{} of {} differ:\n{}", failures.len(), cases.len(), failures.join("\n"));
}
