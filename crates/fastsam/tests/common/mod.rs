//! Helpers shared by the tests that run prompts over the reference's own masks.

use std::path::Path;

use fastsam::output::annotations::AnnotationFile;
use fastsam::postprocess::{Detection, Detections};
use fastsam::Segmentation;

/// A reference everything file (`.json`, or `.json.gz`) as a segmentation: the reference's masks, boxes
/// (xywh back to xyxy in f32) and scores, in its order.
pub fn segmentation_from_everything(path: &Path) -> Segmentation {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = if path.extension().is_some_and(|e| e == "gz") {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut text).unwrap();
        text
    } else {
        String::from_utf8(bytes).unwrap()
    };
    let file: AnnotationFile = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let items = file
        .annotations
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let b = a.bbox.map(|v| v as f32);
            let bbox = [b[0], b[1], b[0] + b[2], b[1] + b[3]];
            let mask = a.rle().unwrap().decode().unwrap();
            Detection { bbox, raw_bbox: bbox, score: a.score as f32, class: 0, anchor: i, mask }
        })
        .collect();
    Segmentation::new(Detections { width: file.image.width, height: file.image.height, items })
}
