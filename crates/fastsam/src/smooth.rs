//! Smooth masks: the FastSAM authors' `better_quality` post-processing, exactly as OpenCV computes it:
//!
//! ```python
//! mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
//! mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((8, 8), np.uint8))
//! ```
//!
//! OpenCV's semantics, which a smoothed mask here reproduces pixel for pixel: the anchor of a k×k kernel is
//! (k/2, k/2) (so the even 8×8 window covers offsets −4..=+3, the same for erosion and dilation — OPEN is not
//! symmetric), and the default border (`BORDER_CONSTANT` with `morphologyDefaultBorderValue`) never affects the
//! result: outside the image counts as set for an erosion and as unset for a dilation. A close dilates then
//! erodes, an open erodes then dilates.

use crate::mask::Mask;
use crate::Result;

/// The close kernel's side.
const CLOSE: usize = 3;
/// The open kernel's side.
const OPEN: usize = 8;
/// How far any intermediate result can reach beyond the mask's bounding box (dilations of 3 and 8 reach 1 and
/// 4 pixels) plus slack: outside this margin every intermediate is unset, so the work stays near the mask.
const MARGIN: u32 = 2 * OPEN as u32;

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Erode,
    Dilate,
}

/// `mask` closed with a 3×3 kernel, then opened with an 8×8 kernel (OpenCV's `morphologyEx`).
pub fn smooth(mask: &Mask) -> Result<Mask> {
    let (w, h) = (mask.width(), mask.height());
    let Some([x1, y1, x2, y2]) = mask.bbox() else { return Ok(mask.clone()) };
    // The work window: the mask's box grown by MARGIN, inside the image.
    let (wx0, wy0) = (x1.saturating_sub(MARGIN), y1.saturating_sub(MARGIN));
    let (wx1, wy1) = ((x2 + MARGIN).min(w), (y2 + MARGIN).min(h));
    let mut window = Window {
        width: (wx1 - wx0) as usize,
        height: (wy1 - wy0) as usize,
        // Whether each side of the window is the image's border (else: unset pixels lie beyond it).
        image_edge: [wx0 == 0, wx1 == w, wy0 == 0, wy1 == h],
        pixels: Vec::new(),
    };
    window.pixels = vec![0u8; window.width * window.height];
    mask.for_each_run(|row, a, b| {
        if row >= wy0 && row < wy1 {
            let base = (row - wy0) as usize * window.width;
            window.pixels[base + (a - wx0) as usize..base + (b - wx0) as usize].fill(1);
        }
    });
    for (op, k) in [(Op::Dilate, CLOSE), (Op::Erode, CLOSE), (Op::Erode, OPEN), (Op::Dilate, OPEN)] {
        window.apply(op, k);
    }
    let mut full = vec![0u8; w as usize * h as usize];
    for (r, row) in window.pixels.chunks_exact(window.width).enumerate() {
        let base = (wy0 as usize + r) * w as usize + wx0 as usize;
        full[base..base + window.width].copy_from_slice(row);
    }
    Mask::from_full(w, h, &full)
}

struct Window {
    width: usize,
    height: usize,
    /// left, right, top, bottom.
    image_edge: [bool; 4],
    pixels: Vec<u8>,
}

impl Window {
    /// A k×k rectangle erosion/dilation with OpenCV's anchor, as a row pass then a column pass (a rectangle is
    /// separable: min/max over the rectangle = min/max over its rows of min/max over its columns).
    fn apply(&mut self, op: Op, k: usize) {
        let (w, h) = (self.width, self.height);
        // What lies beyond a window side: for an erosion, set at the image's border, unset inside the image.
        let beyond = |edge: bool| u8::from(op == Op::Erode && edge);
        let [left, right, top, bottom] = self.image_edge.map(beyond);
        let mut line = Vec::new();
        let mut out = Vec::new();
        for r in 0..h {
            line.clear();
            line.extend_from_slice(&self.pixels[r * w..(r + 1) * w]);
            window_line(&line, &mut out, k, op, left, right);
            self.pixels[r * w..(r + 1) * w].copy_from_slice(&out);
        }
        for c in 0..w {
            line.clear();
            line.extend((0..h).map(|r| self.pixels[r * w + c]));
            window_line(&line, &mut out, k, op, top, bottom);
            for (r, &v) in out.iter().enumerate() {
                self.pixels[r * w + c] = v;
            }
        }
    }
}

/// One line of a k-wide erosion/dilation: output `i` looks at inputs `i - k/2 ..= i + (k - 1 - k/2)`; values
/// before the line are `before`, after it `after`.
fn window_line(src: &[u8], dst: &mut Vec<u8>, k: usize, op: Op, before: u8, after: u8) {
    let n = src.len();
    let (back, ahead) = (k / 2, k - 1 - k / 2);
    // Running count of set values in the window, over the line padded on both sides.
    let at = |j: isize| -> u8 {
        if j < 0 {
            before
        } else if j as usize >= n {
            after
        } else {
            src[j as usize]
        }
    };
    dst.clear();
    let mut count: usize = (-(back as isize)..=ahead as isize).map(|j| usize::from(at(j))).sum();
    for i in 0..n as isize {
        dst.push(match op {
            Op::Dilate => u8::from(count > 0),
            Op::Erode => u8::from(count == k),
        });
        count += usize::from(at(i + ahead as isize + 1));
        count -= usize::from(at(i - back as isize));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(w: u32, h: u32, set: impl Fn(u32, u32) -> bool) -> Mask {
        let full: Vec<u8> =
            (0..h).flat_map(|y| (0..w).map(move |x| (x, y))).map(|(x, y)| u8::from(set(x, y))).collect();
        Mask::from_full(w, h, &full).unwrap()
    }

    #[test]
    fn open_removes_what_an_8x8_square_cannot_cover_and_close_fills_pinholes() {
        // A 20×20 square with a pinhole, plus a 5×5 speck: the speck goes, the hole fills.
        let m = mask(64, 48, |x, y| {
            let square = (10..30).contains(&x) && (10..30).contains(&y) && (x, y) != (20, 20);
            square || ((40..45).contains(&x) && (5..10).contains(&y))
        });
        let s = smooth(&m).unwrap();
        assert!(s.get(20, 20) && !s.get(42, 7));
        // The 8×8 window's anchor (4, 4) shifts the opened square by one pixel right and down.
        assert!(s.get(30, 30) && !s.get(10, 10) && s.get(11, 11));
        assert_eq!(s.area(), 400);
    }

    #[test]
    fn empty_masks_stay_empty() {
        assert!(smooth(&Mask::empty(8, 8)).unwrap().is_empty());
    }
}
