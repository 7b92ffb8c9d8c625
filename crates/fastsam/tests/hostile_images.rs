//! Odd and broken images: each either segments end to end (valid JSON out) or is refused with one clear line.
//! Images: tests/fixtures/golden/image/synthetic (their decoded pixels are checked against cv2 by
//! image_golden.rs) and tests/fixtures/hostile (tools/golden/hostile.py); damaged variants are cut here.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use fastsam::image::{decode, open, DecodeLimits};
use fastsam::output::annotations::AnnotationFile;
use fastsam::{FastSam, SegmentOptions};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn synthetic(name: &str) -> PathBuf {
    repo().join("tests/fixtures/golden/image/synthetic").join(name)
}

fn hostile(name: &str) -> PathBuf {
    repo().join("tests/fixtures/hostile").join(name)
}

/// The tiny FastSAM-shaped checkpoint at a small inference size: enough to run the whole pipeline.
fn model() -> &'static FastSam {
    static MODEL: OnceLock<FastSam> = OnceLock::new();
    MODEL.get_or_init(|| {
        let options = SegmentOptions { imgsz: 128, conf: 0.0, ..SegmentOptions::default() };
        FastSam::load(repo().join("tests/fixtures/golden/graph/seg_s.pt"))
            .expect("seg_s.pt loads (ONNX Runtime: run tools/setup-ort.sh)")
            .with_options(options)
            .expect("valid options")
    })
}

/// Decodes and segments `path`; the JSON written must parse back and describe the decoded size.
fn segment_to_json(path: &Path) -> fastsam::Result<AnnotationFile> {
    let image = open(path, &DecodeLimits::default())?;
    let seg = model().segment(&image)?;
    let json = serde_json::to_string(&seg.annotations("x.jpg")).expect("serialises");
    let back: AnnotationFile = serde_json::from_str(&json).expect("our JSON parses");
    assert_eq!((back.image.width, back.image.height), (image.width, image.height));
    for a in &back.annotations {
        assert_eq!(a.segmentation.size, [image.height, image.width]);
    }
    Ok(back)
}

fn one_line_error<T: std::fmt::Debug>(r: fastsam::Result<T>, what: &str) -> String {
    let msg = r.expect_err(what).to_string();
    assert!(!msg.contains('\n') && !msg.is_empty(), "{what}: {msg:?}");
    msg
}

#[test]
fn odd_but_valid_images_segment_end_to_end() {
    for file in [
        "cmyk.jpg",
        "grey.jpg",
        "grey.png",
        "grey16.png",
        "rgb16.png",
        "rgba16.png",
        "rgba.png",
        "grey_alpha.png",
        "palette_trns.png",
        "rgba_lossy.webp",
        "lossless.webp",
        "transparent.gif",
        "progressive.jpg",
        "exif_6.jpg",
        "corrupt.jpg", // damaged entropy data: cv2 decodes it with a warning, so do we
    ] {
        segment_to_json(&synthetic(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    }
    let one = segment_to_json(&hostile("one_pixel.png")).expect("1x1 image");
    assert_eq!((one.image.width, one.image.height), (1, 1));
}

/// The reference (cv2.imdecode) reads an animation's first frame: 40x24, white block at (20, 12).
#[test]
fn animations_give_their_first_frame() {
    for file in ["animated.gif", "animated.webp"] {
        let img = open(hostile(file), &DecodeLimits::default()).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!((img.width, img.height), (40, 24), "{file}");
        assert_eq!(img.pixel(20, 12), [250, 250, 250], "{file}");
        assert_eq!(img.pixel(0, 0), [200, 30, 30], "{file}");
        segment_to_json(&hostile(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    }
}

#[test]
fn broken_images_are_refused_in_one_line() {
    for (file, reason) in [
        ("empty.jpg", "empty"),
        ("garbage.jpg", "unknown image format"),
        ("truncated.png", "Png"),
        ("no_iend.png", "Png"),
        ("no_eoi.jpg", "Jpeg"),
    ] {
        let msg = one_line_error(open(synthetic(file), &DecodeLimits::default()), file);
        assert!(msg.contains(file) && msg.contains(reason), "{file}: {msg}");
    }
    // Every cut of a WebP, and a PNG/JPEG cut in half: refused or decoded, never a panic; the halves refused.
    let webp = std::fs::read(synthetic("lossy_large.webp")).unwrap();
    for cut in (0..webp.len()).step_by(97) {
        let _ = decode(&webp[..cut], "cut.webp", &DecodeLimits::default());
    }
    let msg = one_line_error(decode(&webp[..webp.len() / 2], "half.webp", &DecodeLimits::default()), "half webp");
    assert!(msg.contains("half.webp") && msg.contains("WebP"), "{msg}");
    let png = std::fs::read(synthetic("rgba16.png")).unwrap();
    one_line_error(decode(&png[..png.len() / 2], "half.png", &DecodeLimits::default()), "half png");
    let msg = one_line_error(decode(b"", "zero.jpg", &DecodeLimits::default()), "0 bytes");
    assert!(msg.contains("zero.jpg") && msg.contains("empty"), "{msg}");
}

/// Content decides, not the name (as cv2.imdecode does): a PNG named .jpg decodes as the PNG it is.
#[test]
fn wrong_extensions_decode_by_content() {
    let png = std::fs::read(synthetic("rgba.png")).unwrap();
    let as_jpg = decode(&png, "really_a_png.jpg", &DecodeLimits::default()).expect("PNG named .jpg");
    assert_eq!(as_jpg, decode(&png, "rgba.png", &DecodeLimits::default()).unwrap());
    let jpeg = std::fs::read(synthetic("s420.jpg")).unwrap();
    assert!(decode(&jpeg, "photo.webp", &DecodeLimits::default()).is_ok());
}

/// bomb.png declares 100000x100000 (10^10 pixels) in 68 bytes: refused from the header, before any decoding,
/// so nothing near the 30 GB of pixels is ever allocated (an attempt would abort the test process).
#[test]
fn decompression_bombs_are_refused_before_decoding() {
    let msg = one_line_error(open(synthetic("bomb.png"), &DecodeLimits::default()), "bomb.png");
    assert!(msg.contains("100000x100000") && msg.contains("refused before decoding"), "{msg}");
    // A tight limit refuses a legitimate image the same way.
    let small = DecodeLimits { max_pixels: 100 };
    let msg = one_line_error(open(synthetic("s420.jpg"), &small), "s420.jpg over a 100-pixel limit");
    assert!(msg.contains("more than the limit of 100"), "{msg}");
}
