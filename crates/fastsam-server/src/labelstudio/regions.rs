//! Masks as Label Studio result regions: `brushlabels` in its RLE, or `polygonlabels` in percent.

use fastsam::mask::Mask;
use fastsam::output::polygons::polygons;
use serde_json::{json, Value};

use super::label_config::{Control, ControlKind};
use super::rle;

/// The regions of one mask for `control` (one brush region, or one polygon per outer contour).
pub fn regions(control: &Control, mask: &Mask, label: &str, score: f32, id: &str) -> Vec<Value> {
    let (w, h) = (mask.width(), mask.height());
    let region = |n: usize, value: Value| {
        json!({
            "id": if n == 0 { id.to_string() } else { format!("{id}-{n}") },
            "from_name": control.name,
            "to_name": control.to_name,
            "type": control.kind.result_type(),
            "original_width": w,
            "original_height": h,
            "image_rotation": 0,
            "value": value,
            "score": score,
            "readonly": false,
        })
    };
    match control.kind {
        ControlKind::Polygon => polygons(mask)
            .iter()
            .enumerate()
            .map(|(n, ring)| {
                let points: Vec<[f64; 2]> =
                    ring.chunks_exact(2).map(|p| [p[0] * 100.0 / f64::from(w), p[1] * 100.0 / f64::from(h)]).collect();
                region(n, json!({ "points": points, "closed": true, "polygonlabels": [label] }))
            })
            .collect(),
        _ => vec![region(0, json!({ "format": "rle", "rle": rle::encode(mask), "brushlabels": [label] }))],
    }
}
