//! How closely one segmentation of an image follows another (int8 against fp32): masks matched one to one by
//! IoU, then the share of well-matched masks and the box and score differences of the matched pairs.

use serde::Serialize;

use crate::postprocess::Detection;
use crate::{RgbImage, Segmentation};

/// Pairs below this IoU count as unmatched (and are left out of the box and score differences).
pub const MATCH_IOU: f64 = 0.5;

/// The comparison of a segmentation with a reference segmentation of the same image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fidelity {
    pub reference_masks: usize,
    pub masks: usize,
    /// Reference masks whose match has IoU ≥ 0.9 / ≥ 0.95.
    pub matched_iou_090: usize,
    pub matched_iou_095: usize,
    /// Mean IoU of every reference mask with its match (0 for a reference mask without one).
    pub mean_iou: f64,
    /// Over pairs with IoU ≥ [`MATCH_IOU`]: mean absolute box-coordinate difference in pixels, and mean and
    /// largest absolute score difference.
    pub matched_pairs: usize,
    pub mean_box_diff_px: f64,
    pub mean_score_diff: f64,
    pub max_score_diff: f64,
}

impl Fidelity {
    /// Share of reference masks matched at IoU ≥ 0.9 (1 when the reference has none and neither has `self`).
    pub fn share_090(&self) -> f64 {
        share(self.matched_iou_090, self.reference_masks, self.masks)
    }

    pub fn share_095(&self) -> f64 {
        share(self.matched_iou_095, self.reference_masks, self.masks)
    }
}

fn share(matched: usize, reference: usize, other: usize) -> f64 {
    match reference {
        0 => f64::from(u8::from(other == 0)),
        n => matched as f64 / n as f64,
    }
}

/// Compares `other` with `reference` (two segmentations of one image): greedy one-to-one matching, highest
/// IoU first, as COCO's evaluation matches detections.
pub fn compare(reference: &Segmentation, other: &Segmentation) -> Fidelity {
    let (a, b) = (reference.objects(), other.objects());
    let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
    for (i, da) in a.iter().enumerate() {
        for (j, db) in b.iter().enumerate() {
            let iou = mask_iou(da, db);
            if iou > 0.0 {
                pairs.push((iou, i, j));
            }
        }
    }
    pairs.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
    let (mut used_a, mut used_b) = (vec![false; a.len()], vec![false; b.len()]);
    let mut out = Fidelity {
        reference_masks: a.len(),
        masks: b.len(),
        matched_iou_090: 0,
        matched_iou_095: 0,
        mean_iou: 0.0,
        matched_pairs: 0,
        mean_box_diff_px: 0.0,
        mean_score_diff: 0.0,
        max_score_diff: 0.0,
    };
    let (mut iou_sum, mut box_sum, mut score_sum) = (0.0, 0.0, 0.0);
    for (iou, i, j) in pairs {
        if used_a[i] || used_b[j] {
            continue;
        }
        used_a[i] = true;
        used_b[j] = true;
        iou_sum += iou;
        out.matched_iou_090 += usize::from(iou >= 0.9);
        out.matched_iou_095 += usize::from(iou >= 0.95);
        if iou >= MATCH_IOU {
            out.matched_pairs += 1;
            box_sum += a[i].bbox.iter().zip(&b[j].bbox).map(|(p, q)| f64::from((p - q).abs())).sum::<f64>() / 4.0;
            let ds = f64::from((a[i].score - b[j].score).abs());
            score_sum += ds;
            out.max_score_diff = out.max_score_diff.max(ds);
        }
    }
    if !a.is_empty() {
        out.mean_iou = iou_sum / a.len() as f64;
    }
    if out.matched_pairs > 0 {
        out.mean_box_diff_px = box_sum / out.matched_pairs as f64;
        out.mean_score_diff = score_sum / out.matched_pairs as f64;
    }
    out
}

fn mask_iou(a: &Detection, b: &Detection) -> f64 {
    let inter = a.mask.intersection(&b.mask);
    let union = a.mask.area() + b.mask.area() - inter;
    if union == 0 {
        0.0
    } else {
        inter as f64 / union as f64
    }
}

/// `image` with every channel value moved one level up or down at random (a fixed xorshift sequence from
/// `seed`; 0 and 255 move inwards). fp32 on this image against fp32 on the original is the control that
/// separates quantisation error from a network's own sensitivity: random-weight networks are chaotic, and
/// an input change far below what anyone can see already moves their masks.
pub fn jittered(image: &RgbImage, seed: u64) -> RgbImage {
    let mut state = seed | 1;
    let data = image
        .data
        .iter()
        .map(|&v| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            match (v, state & 1 == 1) {
                (255, _) => 254,
                (0, _) => 1,
                (v, true) => v + 1,
                (v, false) => v - 1,
            }
        })
        .collect();
    RgbImage { width: image.width, height: image.height, data }
}
