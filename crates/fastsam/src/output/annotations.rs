//! The CLI's JSON: SA-1B/COCO style annotations, masks as COCO compressed RLE at the original resolution.
//!
//! ```json
//! {"image": {"file_name": "bus.jpg", "width": 810, "height": 1080},
//!  "annotations": [{"id": 0, "segmentation": {"size": [1080, 810], "counts": "..."},
//!                   "area": 12345, "bbox": [x, y, w, h], "score": 0.93}]}
//! ```
//! `bbox` is the detection's adjusted xyxy box as COCO `[x1, y1, x2 - x1, y2 - y1]`, computed in f32 and
//! written as the f64 of that f32 (what the reference's tensors give as Python floats); `score` likewise.

use super::rle::Rle;
use crate::postprocess::{Detection, Detections};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageInfo {
    pub file_name: String,
    pub width: u32,
    pub height: u32,
}

/// COCO compressed RLE: `size` is `[height, width]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segmentation {
    pub size: [u32; 2],
    pub counts: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Annotation {
    pub id: usize,
    pub segmentation: Segmentation,
    pub area: u64,
    pub bbox: [f64; 4],
    pub score: f64,
    /// The text prompt that selected this object, and the CLIP cosine between the phrase and the object's crop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_score: Option<f64>,
    /// One object per click: the position of the click that selected it among all points given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub point_index: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnnotationFile {
    pub image: ImageInfo,
    pub annotations: Vec<Annotation>,
}

impl Annotation {
    pub fn from_detection(id: usize, d: &Detection) -> Annotation {
        let rle = Rle::encode(&d.mask);
        let [x1, y1, x2, y2] = d.bbox;
        Annotation {
            id,
            segmentation: Segmentation { size: [rle.height, rle.width], counts: rle.to_coco_string() },
            area: d.mask.area(),
            bbox: [x1, y1, x2 - x1, y2 - y1].map(f64::from),
            score: f64::from(d.score),
            text: None,
            text_score: None,
            point_index: None,
        }
    }

    /// Records why a prompt selected this object.
    pub fn set_reason(&mut self, reason: &crate::segmentation::Reason) {
        self.text = reason.text.as_ref().map(|(phrase, _)| phrase.clone());
        self.text_score = reason.text.as_ref().map(|&(_, score)| f64::from(score));
        self.point_index = reason.point_index;
    }

    /// The RLE this annotation carries.
    pub fn rle(&self) -> crate::Result<Rle> {
        Rle::from_string(self.segmentation.size[0], self.segmentation.size[1], &self.segmentation.counts)
    }
}

impl AnnotationFile {
    /// Annotations of `detections` in their order, ids from 0. RLE encoding runs on all cores.
    pub fn from_detections(file_name: impl Into<String>, detections: &Detections) -> AnnotationFile {
        use rayon::prelude::*;
        let annotations =
            detections.items.par_iter().enumerate().map(|(i, d)| Annotation::from_detection(i, d)).collect();
        AnnotationFile {
            image: ImageInfo { file_name: file_name.into(), width: detections.width, height: detections.height },
            annotations,
        }
    }
}
