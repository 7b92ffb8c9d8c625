//! Timing and full-size parity of the CLIP encoders with the ViT-B/32-shaped random CLIP, generated on demand
//! (tools/fixtures/clip/README.md): `.cache/fixtures/clip-vit-b-32/clip-vit-b-32.pt` and the reference's
//! embeddings `.cache/reference-text/embeddings-vit-b-32.json`. Ignored by default (large files, slow):
//!
//!     cargo test --release -p fastsam --test clip_timing -- --ignored --nocapture

use std::path::{Path, PathBuf};
use std::time::Instant;

use fastsam::clip::Clip;
use fastsam::mask::Mask;
use fastsam::postprocess::{Detection, Detections};
use fastsam::{RgbImage, Segmentation};
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn shared() -> PathBuf {
    std::env::var_os("FASTSAM_SHARED").map_or_else(|| repo().join("../shared"), PathBuf::from)
}

fn cpu_seconds() -> f64 {
    // utime + stime of this process, in clock ticks (100 Hz on Linux).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
    let n = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (n(a) * n(b))
}

fn crop(image: &RgbImage, b: &[u32]) -> RgbImage {
    let (w, h) = (b[2] - b[0], b[3] - b[1]);
    let mut data = Vec::new();
    for y in b[1]..b[3] {
        let s = ((y * image.width + b[0]) * 3) as usize;
        data.extend_from_slice(&image.data[s..s + (w * 3) as usize]);
    }
    RgbImage::new(w, h, data).unwrap()
}

#[test]
#[ignore]
fn vit_b_32_parity_with_reference() {
    for file in ["clip-vit-b-32.pt", "clip-vit-b-32.safetensors"] {
        let clip = Clip::load(repo().join(".cache/fixtures/clip-vit-b-32").join(file)).unwrap();
        let text = std::fs::read_to_string(repo().join(".cache/reference-text/embeddings-vit-b-32.json")).unwrap();
        let reference: Value = serde_json::from_str(&text).unwrap();
        let floats =
            |v: &Value| -> Vec<f32> { v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect() };
        let texts: Vec<&str> =
            reference["texts"].as_array().unwrap().iter().map(|t| t["text"].as_str().unwrap()).collect();
        let got = clip.encode_text(&texts).unwrap();
        let text_min = reference["texts"]
            .as_array()
            .unwrap()
            .iter()
            .zip(&got)
            .map(|(t, e)| cosine(e, &floats(&t["embedding"])))
            .fold(1.0, f64::min);
        let images: Vec<RgbImage> = reference["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let im = fastsam::image::open(
                    shared().join("data/images").join(e["image"].as_str().unwrap()),
                    &Default::default(),
                )
                .unwrap();
                let b: Vec<u32> = e["box"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
                crop(&im, &b)
            })
            .collect();
        let refs: Vec<&RgbImage> = images.iter().collect();
        let got = clip.encode_images(&refs).unwrap();
        let image_min = reference["images"]
            .as_array()
            .unwrap()
            .iter()
            .zip(&got)
            .map(|(e, g)| cosine(g, &floats(&e["embedding"])))
            .fold(1.0, f64::min);
        eprintln!(
            "{file}: min cosine texts {text_min:.9} ({} texts), images {image_min:.9} ({} crops)",
            texts.len(),
            images.len()
        );
        assert!(text_min >= 0.9999 && image_min >= 0.9999);
    }
}

/// A synthetic segmentation of ~100 rectangular objects over a real photo, to time text selection.
fn synthetic(image: &RgbImage, n: usize) -> Segmentation {
    let (w, h) = (image.width, image.height);
    let items = (0..n)
        .map(|i| {
            let (x1, y1) = ((i as u32 * 37) % (w / 2), (i as u32 * 53) % (h / 2));
            let (x2, y2) = (x1 + 40 + (i as u32 * 13) % (w / 2), y1 + 40 + (i as u32 * 29) % (h / 2));
            let mut full = vec![0u8; (w * h) as usize];
            for y in y1..y2 {
                full[(y * w + x1) as usize..(y * w + x2) as usize].fill(1);
            }
            let bbox = [x1 as f32, y1 as f32, x2 as f32, y2 as f32];
            Detection {
                bbox,
                raw_bbox: bbox,
                score: 0.9,
                class: 0,
                anchor: i,
                mask: Mask::from_full(w, h, &full).unwrap(),
            }
        })
        .collect();
    Segmentation::new(Detections { width: w, height: h, items })
}

#[test]
#[ignore]
fn vit_b_32_text_prompt_latency() {
    let t = Instant::now();
    let clip = Clip::load(repo().join(".cache/fixtures/clip-vit-b-32/clip-vit-b-32.pt")).unwrap();
    eprintln!("load: {:.2} s", t.elapsed().as_secs_f64());
    let image = fastsam::image::open(shared().join("data/images/bus.jpg"), &Default::default()).unwrap();
    let seg = synthetic(&image, 100);
    let (t, c) = (Instant::now(), cpu_seconds());
    let first = seg.text_scores("a bus", &image, &clip, 3).unwrap();
    eprintln!(
        "first phrase incl. 100 crop embeddings: {:.1} ms wall, {:.1} ms CPU",
        t.elapsed().as_secs_f64() * 1e3,
        (cpu_seconds() - c) * 1e3
    );
    assert_eq!(first.len(), 3);
    let phrases =
        ["a person", "the red car", "a dog on the grass", "sky", "a window", "wheels", "a street sign", "shoes"];
    let (t, c) = (Instant::now(), cpu_seconds());
    for p in phrases {
        seg.text_scores(p, &image, &clip, 3).unwrap();
    }
    let n = phrases.len() as f64;
    eprintln!(
        "new phrase on a cached image: {:.2} ms wall, {:.2} ms CPU (mean of {n})",
        t.elapsed().as_secs_f64() * 1e3 / n,
        (cpu_seconds() - c) * 1e3 / n
    );
    let t = Instant::now();
    seg.text_scores("a person", &image, &clip, 3).unwrap();
    eprintln!("repeated phrase: {:.3} ms", t.elapsed().as_secs_f64() * 1e3);
}
