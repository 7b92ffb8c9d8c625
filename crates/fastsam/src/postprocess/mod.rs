//! From raw network outputs to boxes, scores and masks, exactly as the reference post-processes.
//!
//! `FastSAMPredictor.postprocess` with `retina_masks=True` (Ultralytics 8.4.190), step by step:
//! 1. [`nms::candidates`]: anchors whose best class score is `> conf` (f32), boxes xywh → xyxy;
//! 2. [`nms::nms`]: torchvision NMS (stable score order, f32 IoU vs f64 threshold), first `max_det` kept;
//! 3. [`boxes::scale_box`]: letterbox → original pixels, clamped;
//! 4. [`masks::MaskDecoder`]: `process_mask_native` masks from those boxes, empty masks dropped;
//! 5. [`boxes::fastsam_adjust`]: border snap (20 px) and the full-image rule, on the boxes only.

pub mod bilinear;
pub mod boxes;
pub mod masks;
pub mod nms;

use crate::mask::Mask;
use crate::{Error, Result, Tensor};
use rayon::prelude::*;

/// Thresholds of the reference call, plus the one machine fact that decides its last-bit rounding.
#[derive(Debug, Clone, PartialEq)]
pub struct PostprocessConfig {
    /// Confidence threshold, compared as `score > conf` in f32 (default 0.4).
    pub conf: f32,
    /// NMS IoU threshold; torchvision compares the f32 IoU with it as a double (default 0.9).
    pub iou: f64,
    /// Detections kept after NMS (default 300).
    pub max_det: usize,
    /// The reference's `torch.get_num_threads()`: it selects among PyTorch's and MKL's kernels, which round the
    /// mask logits differently in the last bit (see [`masks`]); that flips a pixel only where a logit is within
    /// ~1e-6 of 0. Default 1, the reproducible single-threaded reference.
    pub torch_threads: usize,
}

impl Default for PostprocessConfig {
    fn default() -> Self {
        PostprocessConfig { conf: 0.4, iou: 0.9, max_det: 300, torch_threads: 1 }
    }
}

/// One kept object.
#[derive(Debug, Clone)]
pub struct Detection {
    /// xyxy in original pixels after FastSAM's border snap and full-image rule (the reference's
    /// `result.boxes.xyxy`).
    pub bbox: [f32; 4],
    /// xyxy in original pixels before those edits: the box the mask was cropped with.
    pub raw_bbox: [f32; 4],
    pub score: f32,
    pub class: usize,
    /// Column of the anchor in the network output.
    pub anchor: usize,
    pub mask: Mask,
}

/// All kept objects of an image, in the reference's order (score descending).
#[derive(Debug, Clone)]
pub struct Detections {
    pub width: u32,
    pub height: u32,
    pub items: Vec<Detection>,
}

/// Post-processes one image. `preds` is the network's (1, 4 + nc + nm, A) output (xywh in letterboxed-input
/// pixels, sigmoid class scores, raw mask coefficients), `proto` its (1, nm, mh, mw) prototypes, `input_hw` the
/// letterboxed input size and `orig_hw` the original image size (height, width).
pub fn postprocess(
    preds: &Tensor,
    proto: &Tensor,
    input_hw: (usize, usize),
    orig_hw: (usize, usize),
    cfg: &PostprocessConfig,
) -> Result<Detections> {
    validate(cfg, input_hw, orig_hw)?;
    let nm = match proto.shape[..] {
        [1, nm, _, _] => nm,
        _ => return Err(Error::invalid("prototypes", format!("shape {:?}, expected (1, nm, mh, mw)", proto.shape))),
    };
    let rows = preds.shape.get(1).copied().unwrap_or(0);
    let nc = rows.checked_sub(4 + nm).filter(|&nc| nc > 0).ok_or_else(|| {
        Error::invalid("predictions", format!("shape {:?} has no class rows for {nm} mask coefficients", preds.shape))
    })?;
    let cands = nms::candidates(preds, nc, cfg.conf)?;
    let kept = nms::nms(&cands, cfg.iou, cfg.max_det);

    let anchors = preds.shape[2];
    let coeff = |anchor: usize| -> Vec<f32> { (0..nm).map(|j| preds.data[(4 + nc + j) * anchors + anchor]).collect() };
    let decoder = masks::MaskDecoder::new(proto, orig_hw, kept.len(), cfg.torch_threads)?;
    let items = kept
        .par_iter()
        .enumerate()
        .map(|(index, &ci)| {
            let c = &cands[ci];
            let raw_bbox = boxes::scale_box(input_hw, orig_hw, c.bbox);
            let mask = decoder.decode(index, &coeff(c.anchor), raw_bbox);
            Detection {
                bbox: boxes::fastsam_adjust(orig_hw, raw_bbox),
                raw_bbox,
                score: c.score,
                class: c.class,
                anchor: c.anchor,
                mask,
            }
        })
        .filter(|d| !d.mask.is_empty())
        .collect();
    Ok(Detections { width: orig_hw.1 as u32, height: orig_hw.0 as u32, items })
}

fn validate(cfg: &PostprocessConfig, input_hw: (usize, usize), orig_hw: (usize, usize)) -> Result<()> {
    if !(0.0..=1.0).contains(&cfg.conf) {
        return Err(Error::invalid("conf", format!("{} (expected 0..1)", cfg.conf)));
    }
    if !(0.0..=1.0).contains(&cfg.iou) {
        return Err(Error::invalid("iou", format!("{} (expected 0..1)", cfg.iou)));
    }
    if input_hw.0 == 0 || input_hw.1 == 0 || orig_hw.0 == 0 || orig_hw.1 == 0 {
        return Err(Error::invalid("image size", format!("input {input_hw:?}, original {orig_hw:?}")));
    }
    if orig_hw.0 > u32::MAX as usize || orig_hw.1 > u32::MAX as usize {
        return Err(Error::invalid("image size", format!("original {orig_hw:?} is too large")));
    }
    Ok(())
}
