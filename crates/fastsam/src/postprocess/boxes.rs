//! Box arithmetic of the reference: `ops.scale_boxes` (letterboxed input → original pixels) and FastSAM's
//! two edits, `adjust_bboxes_to_image_border` and the full-image rule of `FastSAMPredictor.postprocess`.

/// Python's `round` on a float (ties to even), as an integer.
fn python_round(x: f64) -> i64 {
    x.round_ties_even() as i64
}

/// `ops.scale_boxes(input_hw, box, orig_hw)` for one xyxy box: subtract the letterbox's integer padding, divide
/// by the per-axis gains (computed in f64, cast to f32, f32 division), clamp to the image.
pub fn scale_box(input_hw: (usize, usize), orig_hw: (usize, usize), b: [f32; 4]) -> [f32; 4] {
    let (hin, win) = (input_hw.0 as f64, input_hw.1 as f64);
    let (h, w) = (orig_hw.0 as f64, orig_hw.1 as f64);
    let gain = (hin / h).min(win / w);
    let new_h = python_round(h * gain).max(1) as f64;
    let new_w = python_round(w * gain).max(1) as f64;
    let (gain_y, gain_x) = ((new_h / h) as f32, (new_w / w) as f32);
    let pad_x = python_round((win - new_w) / 2.0 - 0.1) as f32;
    let pad_y = python_round((hin - new_h) / 2.0 - 0.1) as f32;
    let (wf, hf) = (orig_hw.1 as f32, orig_hw.0 as f32);
    [
        ((b[0] - pad_x) / gain_x).clamp(0.0, wf),
        ((b[1] - pad_y) / gain_y).clamp(0.0, hf),
        ((b[2] - pad_x) / gain_x).clamp(0.0, wf),
        ((b[3] - pad_y) / gain_y).clamp(0.0, hf),
    ]
}

/// FastSAM's `adjust_bboxes_to_image_border(threshold=20)` then the full-image rule: a box whose IoU with
/// `[0, 0, w, h]` exceeds 0.9 (f32, `box_iou` with eps 1e-7) becomes exactly `[0, 0, w, h]`.
pub fn fastsam_adjust(orig_hw: (usize, usize), b: [f32; 4]) -> [f32; 4] {
    const THRESHOLD: f32 = 20.0;
    let (w, h) = (orig_hw.1 as f32, orig_hw.0 as f32);
    let mut b = b;
    if b[0] < THRESHOLD {
        b[0] = 0.0;
    }
    if b[1] < THRESHOLD {
        b[1] = 0.0;
    }
    if b[2] > w - THRESHOLD {
        b[2] = w;
    }
    if b[3] > h - THRESHOLD {
        b[3] = h;
    }
    let full = [0.0, 0.0, w, h];
    if full_box_iou(full, b) > 0.9f32 {
        full
    } else {
        b
    }
}

/// `metrics.box_iou` for one pair, operation by operation in f32.
fn full_box_iou(a: [f32; 4], b: [f32; 4]) -> f32 {
    let iw = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = iw * ih;
    let area_a = (a[2] - a[0]) * (a[3] - a[1]);
    let area_b = (b[2] - b[0]) * (b[3] - b[1]);
    inter / (area_a + area_b - inter + 1e-7f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_uses_integer_pads_and_clamps() {
        // 512x640 → 832x1024: new 819x1024, pad top round(6.5-0.1)=6.
        let b = scale_box((832, 1024), (512, 640), [0.0, 6.0, 1024.0, 900.0]);
        assert_eq!(b[0], 0.0);
        assert_eq!(b[1], 0.0);
        assert_eq!(b[2], 640.0);
        assert_eq!(b[3], 512.0);
    }

    #[test]
    fn snaps_to_border_and_full_image() {
        assert_eq!(fastsam_adjust((100, 200), [19.9, 20.0, 180.0, 80.5]), [0.0, 20.0, 180.0, 100.0]);
        assert_eq!(fastsam_adjust((1000, 1000), [25.0, 25.0, 975.0, 975.0]), [0.0, 0.0, 1000.0, 1000.0]);
    }
}
