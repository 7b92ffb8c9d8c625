//! Class-agnostic COCO object-proposal evaluation, numerically identical to pycocotools' `COCOeval` with
//! `useCats = 0` (the protocol of the FastSAM paper's proposal table): every detection is scored against every
//! ground-truth object regardless of category, IoU 0.50:0.05:0.95, areas all/small/medium/large, at most
//! 10/100/1000 detections per image, for masks and for boxes; a crowd region matches by intersection over the
//! detection's area and is ignored.
//!
//! - [`dataset`]: the instances file and results (`COCO`, `COCO.loadRes`, `annToRLE`),
//! - [`polygon`]: polygons to RLE as `rleFrPoly` rasterises them,
//! - [`overlap`]: `bbIou` / `rleIou` / `rleMerge`,
//! - [`cocoeval`]: `evaluate`, `accumulate`, `summarize`.

pub mod cocoeval;
pub mod dataset;
pub mod fidelity;
pub mod overlap;
pub mod polygon;

pub use cocoeval::{evaluate, Accumulated, IouType, Params, Summary, STAT_NAMES};
pub use dataset::{EvalDetection, EvalImage, GroundTruth, GroundTruthObject};

/// Both summaries of one set of detections.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProposalSummary {
    pub segm: Summary,
    pub bbox: Summary,
}

/// Masks and boxes of `detections` against `gt`, with the proposal protocol's parameters.
pub fn evaluate_proposals(gt: &GroundTruth, detections: &[EvalDetection]) -> ProposalSummary {
    let params = Params::default();
    ProposalSummary {
        segm: evaluate(gt, detections, IouType::Segm, &params).summary(),
        bbox: evaluate(gt, detections, IouType::Bbox, &params).summary(),
    }
}

impl Summary {
    /// `{"AP": ..., "AR@10": ..., ...}` in [`STAT_NAMES`] order.
    pub fn to_json(&self) -> serde_json::Value {
        let map: serde_json::Map<String, serde_json::Value> =
            STAT_NAMES.iter().zip(self.stats).map(|(k, v)| (k.to_string(), serde_json::json!(v))).collect();
        serde_json::Value::Object(map)
    }
}
