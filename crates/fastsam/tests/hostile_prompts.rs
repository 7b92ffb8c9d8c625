//! Odd prompts and options: each has the defined behaviour documented in docs/hostile-input.md. Expected
//! selections are worked out by hand from the reference's rule (Ultralytics 8.4.190
//! `FastSAMPredictor.prompt`), not taken from this crate's output.

use std::path::{Path, PathBuf};

use fastsam::image::RgbImage;
use fastsam::mask::Mask;
use fastsam::postprocess::{Detection, Detections};
use fastsam::{FastSam, PointLabel, Prompt, SegmentOptions, Segmentation};

/// 20x12 image, objects in score order:
/// 0: x 2..14, y 2..10 (area 96); 1: x 4..8, y 4..8 (area 16); 2: bottom row y 11 (area 20); 3: pixel (19, 0).
fn segmentation() -> Segmentation {
    let (w, h) = (20u32, 12u32);
    let rect = |x0: u32, y0: u32, x1: u32, y1: u32| {
        let pixels: Vec<u8> =
            (0..h).flat_map(|y| (0..w).map(move |x| u8::from(x >= x0 && x < x1 && y >= y0 && y < y1))).collect();
        Mask::from_full(w, h, &pixels).unwrap()
    };
    let masks = [rect(2, 2, 14, 10), rect(4, 4, 8, 8), rect(0, 11, 20, 12), rect(19, 0, 20, 1)];
    let items = masks
        .into_iter()
        .enumerate()
        .map(|(i, mask)| {
            let [x0, y0, x1, y1] = mask.bbox().unwrap();
            let bbox = [x0 as f32, y0 as f32, x1 as f32, y1 as f32];
            Detection { bbox, raw_bbox: bbox, score: 0.9 - i as f32 / 10.0, class: 0, anchor: i, mask }
        })
        .collect();
    Segmentation::new(Detections { width: w, height: h, items })
}

fn selected(prompt: Prompt) -> Vec<usize> {
    segmentation().select(&prompt).expect("valid prompt").indices
}

/// Reference: corners cast to int32 and clipped to the image; `masks[:, y1:y2, x1:x2]` is empty when a box is
/// inverted, so every intersection is 0; the box area `(y2 - y1) * (x2 - x1)` is negative when one side is
/// inverted; `argmax(inter / union)` takes the first maximum, a NaN (0 / 0) counting as the maximum.
#[test]
fn inverted_boxes_follow_the_reference_rule() {
    // Both sides inverted: area (1-9)*(1-15) = 112 > 0, every ratio 0/(112 + area) = 0 → first mask.
    assert_eq!(selected(Prompt::default().bbox(15.0, 9.0, 1.0, 1.0)), [0]);
    // x inverted: area (9-1)*(1-15) = -112; unions 96-112, 16-112, 20-112, 1-112 all negative, ratios all -0.0
    // (equal to 0.0) → first mask.
    assert_eq!(selected(Prompt::default().bbox(15.0, 1.0, 1.0, 9.0)), [0]);
    // x inverted with area (4-0)*(4-8) = -16: mask 1 (area 16) has union 0 → 0/0 = NaN → argmax picks mask 1
    // although the box does not touch it... and mask 0's ratio 0/80 = 0 comes first but NaN wins.
    assert_eq!(selected(Prompt::default().bbox(8.0, 0.0, 4.0, 4.0)), [1]);
    // y inverted, area (0-4)*(8-4) = -16: same rule, mask 1 again.
    assert_eq!(selected(Prompt::default().bbox(4.0, 4.0, 8.0, 0.0)), [1]);
    // A degenerate (zero-area) box: area 0, inter 0, unions = mask areas > 0 → all 0 → first mask.
    assert_eq!(selected(Prompt::default().bbox(5.0, 5.0, 5.0, 5.0)), [0]);
}

#[test]
fn out_of_image_prompts_are_clipped_like_the_reference() {
    // Points are truncated and clipped to the last column/row: (100, -5) → (19, 0), inside mask 3 only.
    assert_eq!(selected(Prompt::default().point(100.0, -5.0, PointLabel::Foreground)), [3]);
    // (-3.7, 1e9) → (0, 11): the bottom row, mask 2.
    assert_eq!(selected(Prompt::default().point(-3.7, 1e9, PointLabel::Foreground)), [2]);
    // A box entirely left of/above the image clips to (0,0,0,0): area 0, every ratio 0 → first mask.
    assert_eq!(selected(Prompt::default().bbox(-50.0, -50.0, -10.0, -10.0)), [0]);
    // A box covering far more than the image clips to the image: inter = area, union = 240 → ratio area/240,
    // largest for mask 0 (96/240).
    assert_eq!(selected(Prompt::default().bbox(-1e12, -1e12, 1e12, 1e12)), [0]);
    // Negative coordinates truncate toward zero: (-0.9, 4.5) → (0, 4), outside every mask.
    assert_eq!(selected(Prompt::default().point(-0.9, 4.5, PointLabel::Foreground)), Vec::<usize>::new());
    // Background points only: every mask not containing one of them (5, 5 is inside masks 0 and 1).
    assert_eq!(selected(Prompt::default().point(5.0, 5.0, PointLabel::Background)), [2, 3]);
}

#[test]
fn non_finite_numbers_are_refused() {
    for prompt in [
        Prompt::default().point(f64::NAN, 1.0, PointLabel::Foreground),
        Prompt::default().point(1.0, f64::INFINITY, PointLabel::Background),
        Prompt::default().bbox(0.0, 0.0, f64::NEG_INFINITY, 3.0),
        Prompt::default().bbox(f64::NAN, 0.0, 1.0, 3.0),
    ] {
        let msg = segmentation().select(&prompt).unwrap_err().to_string();
        assert!(msg.starts_with("invalid ") && msg.contains("finite"), "{msg}");
    }
}

/// Text without a CLIP model is a clear refusal. With one, any phrase (empty, 1,000 words) is defined; here every
/// mask has an area <= 100 px, which the reference never scores, so nothing is selected (its `if crop_ims:`).
#[test]
fn text_prompts_need_clip_and_skip_masks_of_100_px_or_less() {
    let long = vec!["word"; 1000].join(" ");
    let seg = segmentation();
    let clip = fastsam::clip::Clip::load(repo().join("tests/fixtures/clip/clip-tiny.pt")).unwrap();
    let image = RgbImage::new(20, 12, (0..20 * 12 * 3).map(|i| (i * 7 % 251) as u8).collect()).unwrap();
    for text in ["", "a dog", long.as_str()] {
        let msg = seg.select(&Prompt::default().text(text)).unwrap_err().to_string();
        assert!(msg.contains("text phrases need a CLIP model"), "{msg}");
        let selection = seg.select_with_clip(&Prompt::default().text(text), &image, &clip).unwrap();
        assert_eq!(selection.indices, Vec::<usize>::new(), "{text:.20}");
    }
}

#[test]
fn out_of_range_options_are_refused() {
    let base = SegmentOptions::default();
    for (options, what) in [
        (SegmentOptions { conf: -0.1, ..base.clone() }, "invalid conf: -0.1"),
        (SegmentOptions { conf: 1.5, ..base.clone() }, "invalid conf: 1.5"),
        (SegmentOptions { conf: f32::NAN, ..base.clone() }, "invalid conf: NaN"),
        (SegmentOptions { iou: 2.0, ..base.clone() }, "invalid iou: 2"),
        (SegmentOptions { iou: -1.0, ..base.clone() }, "invalid iou: -1"),
        (SegmentOptions { imgsz: 0, ..base.clone() }, "invalid imgsz: 0"),
        (SegmentOptions { imgsz: 100_000, ..base.clone() }, "invalid imgsz: 100000"),
    ] {
        let msg = options.validate().unwrap_err().to_string();
        assert!(msg.starts_with(what) && !msg.contains('\n'), "{msg}");
    }
    for edge in [
        SegmentOptions { conf: 0.0, iou: 1.0, ..base.clone() },
        SegmentOptions { conf: 1.0, iou: 0.0, ..base.clone() },
        SegmentOptions { imgsz: 8192, ..base.clone() },
        SegmentOptions { imgsz: 1, ..base.clone() },
    ] {
        edge.validate().unwrap_or_else(|e| panic!("{edge:?}: {e}"));
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The reference's `check_imgsz` rounds up to a multiple of the stride (32): 100 → 128, 1 → 32, 1000 → 1024.
#[test]
fn imgsz_is_rounded_up_to_the_stride() {
    let model = FastSam::load(repo().join("tests/fixtures/golden/graph/seg_s.pt")).expect("seg_s.pt loads");
    let square = RgbImage::new(64, 64, vec![128; 64 * 64 * 3]).unwrap();
    let model = model.with_options(SegmentOptions { imgsz: 100, ..SegmentOptions::default() }).unwrap();
    let lb = model.letterbox(&square).unwrap();
    assert_eq!((lb.input_w(), lb.input_h()), (128, 128));
    for (imgsz, side) in [(1, 32), (32, 32), (33, 64), (1000, 1024)] {
        let m = FastSam::load(repo().join("tests/fixtures/golden/graph/seg_s.pt"))
            .unwrap()
            .with_options(SegmentOptions { imgsz, ..SegmentOptions::default() })
            .unwrap();
        assert_eq!(m.letterbox(&square).unwrap().input_w(), side, "imgsz {imgsz}");
    }
    // The rounded size runs end to end.
    let seg = model.segment(&square).expect("segments at imgsz 100 → 128");
    assert_eq!((seg.width(), seg.height()), (64, 64));
}
