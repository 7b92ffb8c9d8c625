//! One function per fuzz target. Each feeds arbitrary bytes to the library's public entry points and checks
//! the invariants that must hold whatever the input; any panic (including a failed check) is a finding.

use fastsam::image::{decode, DecodeLimits};
use fastsam::mask::Mask;
use fastsam::output::rle::Rle;
use fastsam::postprocess::{Detection, Detections};
use fastsam::weights::{safetensors_from_bytes, state_dict_from_bytes, Checkpoint};
use fastsam::{BoxPrompt, PointLabel, PointMode, PointPrompt, Prompt, Segmentation};

use fastsam::prompt::{parse_box, parse_point};

/// Pixel ceiling for fuzzed images: small, so a fuzzed header cannot make a legitimate but huge allocation.
pub const FUZZ_MAX_PIXELS: u64 = 1 << 20;

/// Every checkpoint reader on the same bytes: errors are fine, panics and runaway allocations are not.
pub fn pickle_checkpoint(data: &[u8]) {
    let _ = Checkpoint::from_bytes("fuzz.pt", data);
    let _ = state_dict_from_bytes("fuzz.pt", data);
    let _ = safetensors_from_bytes("fuzz.safetensors", data);
}

/// The first byte picks the file name (TIFFs read differently under a `.tif` name, as in the reference).
pub fn image_decode(data: &[u8]) {
    let Some((&selector, bytes)) = data.split_first() else { return };
    let name = if selector & 1 == 0 { "fuzz.jpg" } else { "fuzz.tif" };
    let limits = DecodeLimits { max_pixels: FUZZ_MAX_PIXELS };
    if let Ok(img) = decode(bytes, name, &limits) {
        assert!(img.width > 0 && img.height > 0, "decoded an empty image");
        let pixels = u64::from(img.width) * u64::from(img.height);
        assert!(pixels <= FUZZ_MAX_PIXELS, "decoded {}x{} past the pixel limit", img.width, img.height);
        assert_eq!(img.data.len() as u64, pixels * 3, "buffer size of {}x{}", img.width, img.height);
    }
}

/// Two bytes of image size (1..=64 each side), then a COCO counts string. Whatever parses must survive
/// string → counts → string → counts, and whatever decodes must re-encode to the same mask and area.
pub fn rle(data: &[u8]) {
    let [h, w, rest @ ..] = data else { return };
    let (h, w) = (u32::from(h % 64) + 1, u32::from(w % 64) + 1);
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let Ok(parsed) = Rle::from_string(h, w, text) else { return };
    let again = Rle::from_string(h, w, &parsed.to_coco_string()).expect("our own string parses");
    assert_eq!(again, parsed, "counts → string → counts changed the counts");
    let _ = parsed.to_bbox();
    if let Ok(mask) = parsed.decode() {
        assert_eq!(mask.area(), parsed.area(), "decoded area differs from the counts' area");
        let encoded = Rle::encode(&mask);
        assert_eq!(encoded.area(), mask.area());
        assert_eq!(encoded.decode().expect("our own encoding decodes"), mask, "encode → decode changed the mask");
        let [x, y, bw, bh] = encoded.to_bbox();
        if let Some([x0, y0, x1, y1]) = mask.bbox() {
            assert!(x <= f64::from(x0) && y <= f64::from(y0), "bbox misses the mask's first pixels");
            assert!(x + bw >= f64::from(x1) && y + bh >= f64::from(y1), "bbox misses the mask's last pixels");
        }
    }
}

/// A prompt request as text lines: `p X,Y[,LABEL]` (CLI `--point`), `b X1,Y1,X2,Y2` (CLI `--box`), `m`
/// (merge mode), `t PHRASE`; a line starting `P`/`B` is instead 16/32 raw bytes read as f64 (NaN, infinities,
/// anything the library API can be handed without the CLI's checks). The prompt is applied to a fixed
/// segmentation; the selection must be valid whatever the numbers.
pub fn server_request(data: &[u8]) {
    let seg = fixed_segmentation();
    let mut prompt = Prompt::default();
    for line in data.split(|&b| b == b'\n') {
        let Some((&kind, rest)) = line.split_first() else { continue };
        let text = std::str::from_utf8(rest).unwrap_or("").trim();
        match kind {
            b'p' => prompt.points.extend(parse_point(text).ok()),
            b'b' => prompt.boxes.extend(parse_box(text).ok()),
            b'm' => prompt.point_mode = PointMode::Merge,
            b't' => prompt.texts.push(text.to_string()),
            b'P' => prompt.points.extend(raw_f64s::<3>(rest).map(|[x, y, l]| PointPrompt {
                x,
                y,
                label: if l.is_sign_negative() { PointLabel::Background } else { PointLabel::Foreground },
            })),
            b'B' => prompt.boxes.extend(raw_f64s::<4>(rest).map(|[x1, y1, x2, y2]| BoxPrompt { x1, y1, x2, y2 })),
            _ => {}
        }
    }
    let Ok(selection) = seg.select(&prompt) else {
        assert!(prompt.validate().is_err() || !prompt.texts.is_empty(), "a valid prompt was refused");
        return;
    };
    assert!(prompt.texts.is_empty(), "text was accepted without CLIP");
    assert!(selection.indices.windows(2).all(|w| w[0] < w[1]), "indices not ascending");
    assert!(selection.indices.iter().all(|&i| i < seg.len()), "index out of range");
    if prompt.points.is_empty() || prompt.point_mode == PointMode::Merge {
        // Each box picks exactly one mask (several boxes may pick the same one).
        assert!(prompt.boxes.is_empty() || !selection.indices.is_empty(), "a box selected nothing");
        assert!(selection.indices.len() <= prompt.boxes.len(), "more masks than boxes");
    }
    if let Some((mask, _)) = &selection.merged {
        assert_eq!((mask.width(), mask.height()), (seg.width(), seg.height()));
    }
    let json = seg.selection_annotations(&selection, "fuzz.jpg");
    if selection.merged.is_none() {
        assert_eq!(json.annotations.len(), selection.indices.len(), "one annotation per selected mask");
    }
}

fn raw_f64s<const N: usize>(bytes: &[u8]) -> Option<[f64; N]> {
    let mut out = [0.0; N];
    for (i, v) in out.iter_mut().enumerate() {
        *v = f64::from_le_bytes(bytes.get(i * 8..i * 8 + 8)?.try_into().ok()?);
    }
    Some(out)
}

/// 20×12 image, four objects: a big block, one inside it, a thin bar, and an empty-ish corner pixel.
fn fixed_segmentation() -> Segmentation {
    let (w, h) = (20u32, 12u32);
    let rect = |x0: u32, y0: u32, x1: u32, y1: u32| {
        let pixels: Vec<u8> =
            (0..h).flat_map(|y| (0..w).map(move |x| u8::from(x >= x0 && x < x1 && y >= y0 && y < y1))).collect();
        Mask::from_full(w, h, &pixels).expect("sizes match")
    };
    let items =
        [(rect(2, 2, 14, 10), 0.9), (rect(4, 4, 8, 8), 0.8), (rect(0, 11, 20, 12), 0.7), (rect(19, 0, 20, 1), 0.5)]
            .into_iter()
            .enumerate()
            .map(|(anchor, (mask, score))| {
                let [x0, y0, x1, y1] = mask.bbox().expect("non-empty");
                let bbox = [x0 as f32, y0 as f32, x1 as f32, y1 as f32];
                Detection { bbox, raw_bbox: bbox, score, class: 0, anchor, mask }
            })
            .collect();
    Segmentation::new(Detections { width: w, height: h, items })
}
