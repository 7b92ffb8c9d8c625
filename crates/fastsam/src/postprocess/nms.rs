//! `ultralytics.utils.nms.non_max_suppression` as FastSAM calls it (multi_label=False, agnostic=False, no class
//! filter), with torchvision's CPU NMS kernel.

use crate::{Error, Result, Tensor};

/// Per-class coordinate offset that keeps classes apart in one NMS call (`max_wh`).
const MAX_WH: f32 = 7680.0;
/// At most this many candidates enter NMS (`max_nms`), the highest scores.
const MAX_NMS: usize = 30000;

/// An anchor whose best class score passed the confidence threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// Column of the anchor in the network output.
    pub anchor: usize,
    /// xyxy in letterboxed-input pixels.
    pub bbox: [f32; 4],
    pub score: f32,
    pub class: usize,
}

/// Anchors with best class score `> conf` (f32 compare, as torch casts the threshold to the tensor's dtype),
/// in anchor order, boxes converted xywh → xyxy in f32. `preds` is (1, 4 + nc + extra, A).
pub fn candidates(preds: &Tensor, nc: usize, conf: f32) -> Result<Vec<Candidate>> {
    let [1, rows, a] = preds.shape[..] else {
        return Err(Error::invalid("predictions", format!("shape {:?}, expected (1, 4+nc+nm, A)", preds.shape)));
    };
    if nc == 0 || rows < 4 + nc || preds.data.len() != rows * a {
        return Err(Error::invalid("predictions", format!("shape {:?} with {nc} classes", preds.shape)));
    }
    let at = |r: usize, i: usize| preds.data[r * a + i];
    let mut out = Vec::new();
    for i in 0..a {
        // Best class: the first maximum.
        let (mut class, mut score) = (0, at(4, i));
        for c in 1..nc {
            if at(4 + c, i) > score {
                (class, score) = (c, at(4 + c, i));
            }
        }
        // NaN scores fail like in torch.
        if score.partial_cmp(&conf) != Some(std::cmp::Ordering::Greater) {
            continue;
        }
        let (cx, cy) = (at(0, i), at(1, i));
        let (hw, hh) = (at(2, i) / 2.0, at(3, i) / 2.0);
        out.push(Candidate { anchor: i, bbox: [cx - hw, cy - hh, cx + hw, cy + hh], score, class });
    }
    Ok(out)
}

/// Indices into `cands` of the detections the reference keeps, in its order (score descending, ties in input
/// order: torchvision sorts with `stable=true`), at most `max_det`. IoU is computed in f32 and compared with
/// the f64 threshold, as torchvision's C++ kernel does.
pub fn nms(cands: &[Candidate], iou: f64, max_det: usize) -> Vec<usize> {
    let mut pool: Vec<usize> = (0..cands.len()).collect();
    if pool.len() > MAX_NMS {
        // The reference keeps the top `max_nms` by an unstable argsort; ties at the cut are taken in input order.
        pool.sort_by(|&a, &b| cands[b].score.total_cmp(&cands[a].score));
        pool.truncate(MAX_NMS);
    }
    let boxes: Vec<[f32; 4]> = pool
        .iter()
        .map(|&i| {
            let off = cands[i].class as f32 * MAX_WH;
            cands[i].bbox.map(|v| v + off)
        })
        .collect();
    let areas: Vec<f32> = boxes.iter().map(|b| (b[2] - b[0]) * (b[3] - b[1])).collect();
    let mut order: Vec<usize> = (0..pool.len()).collect();
    order.sort_by(|&a, &b| cands[pool[b]].score.total_cmp(&cands[pool[a]].score));

    let mut suppressed = vec![false; pool.len()];
    let mut keep = Vec::new();
    for (oi, &i) in order.iter().enumerate() {
        if keep.len() == max_det {
            break; // later keeps cannot change the first max_det
        }
        if suppressed[i] {
            continue;
        }
        keep.push(pool[i]);
        let bi = boxes[i];
        for &j in &order[oi + 1..] {
            if suppressed[j] {
                continue;
            }
            let bj = boxes[j];
            let w = cpp_max(0.0, cpp_min(bi[2], bj[2]) - cpp_max(bi[0], bj[0]));
            let h = cpp_max(0.0, cpp_min(bi[3], bj[3]) - cpp_max(bi[1], bj[1]));
            let inter = w * h;
            let ovr = inter / (areas[i] + areas[j] - inter);
            if f64::from(ovr) > iou {
                suppressed[j] = true;
            }
        }
    }
    keep
}

/// `std::max(a, b)`: `a < b ? b : a`.
fn cpp_max(a: f32, b: f32) -> f32 {
    if a < b {
        b
    } else {
        a
    }
}

/// `std::min(a, b)`: `b < a ? b : a`.
fn cpp_min(a: f32, b: f32) -> f32 {
    if b < a {
        b
    } else {
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(anchor: usize, bbox: [f32; 4], score: f32) -> Candidate {
        Candidate { anchor, bbox, score, class: 0 }
    }

    #[test]
    fn ties_keep_input_order_and_overlaps_are_suppressed() {
        let c = vec![
            cand(0, [0.0, 0.0, 10.0, 10.0], 0.5),
            cand(1, [20.0, 0.0, 30.0, 10.0], 0.5),
            cand(2, [0.0, 0.0, 10.0, 10.5], 0.9), // IoU with #0 = 100/105 > 0.9
            cand(3, [40.0, 0.0, 50.0, 10.0], 0.7),
        ];
        assert_eq!(nms(&c, 0.9, 300), vec![2, 3, 1]);
        assert_eq!(nms(&c, 0.9, 2), vec![2, 3]);
        assert_eq!(nms(&c, 0.99, 300), vec![2, 3, 0, 1]);
    }
}
