//! Decoding the raw YOLOv8 head into the reference's inference output: DFL box distances (softmax
//! expectation), anchor points at cell centres per level, xywh boxes in input pixels, sigmoid class scores and
//! raw mask coefficients. Mirrors `Detect._inference` / `dist2bbox` / `make_anchors` (Ultralytics 8.4) in fp32.
//!
//! Doing this outside the ONNX graph keeps the graph free of shape arithmetic (anchors depend on the input
//! size) and costs a few milliseconds at 1024×1024.

use crate::{Error, Result, Tensor};

/// What the raw head tensor holds, read from the checkpoint's `Segment` module.
#[derive(Debug, Clone, PartialEq)]
pub struct HeadLayout {
    /// Number of classes (`Segment.nc`).
    pub nc: usize,
    /// Number of mask coefficients (`Segment.nm`).
    pub nm: usize,
    /// DFL bins per box side (`Segment.reg_max`); 1 means the head predicts distances directly.
    pub reg_max: usize,
    /// Stride of each level, in input pixels (`Segment.stride`).
    pub strides: Vec<f32>,
    /// Weights of the DFL 1×1 convolution (`0, 1, …, reg_max-1` in every Ultralytics model).
    pub dfl: Vec<f32>,
}

impl HeadLayout {
    /// Channels of the raw head: `4·reg_max` box bins, `nc` class logits, `nm` mask coefficients.
    pub fn raw_channels(&self) -> usize {
        4 * self.reg_max + self.nc + self.nm
    }

    /// Channels of the decoded output: xywh, `nc` scores, `nm` coefficients.
    pub fn decoded_channels(&self) -> usize {
        4 + self.nc + self.nm
    }

    /// Feature-map size of each level for an input of `height × width` (multiples of the largest stride).
    pub fn level_sizes(&self, height: usize, width: usize) -> Vec<(usize, usize)> {
        self.strides.iter().map(|&s| (height / s as usize, width / s as usize)).collect()
    }
}

/// Decodes a raw head `(1, 4·reg_max + nc + nm, A)` for an input of `height × width` into
/// `(1, 4 + nc + nm, A)`.
pub fn decode(raw: &Tensor, layout: &HeadLayout, height: usize, width: usize) -> Result<Tensor> {
    let levels = layout.level_sizes(height, width);
    let anchors: usize = levels.iter().map(|(h, w)| h * w).sum();
    let expected = [1, layout.raw_channels(), anchors];
    if raw.shape != expected {
        return Err(Error::Runtime(format!(
            "the network's head output has shape {:?}, expected {expected:?} for a {height}×{width} input",
            raw.shape
        )));
    }
    let row = |c: usize| &raw.data[c * anchors..(c + 1) * anchors];
    let mut out = vec![0.0f32; layout.decoded_channels() * anchors];

    let dist: Vec<Vec<f32>> =
        (0..4).map(|side| side_distances(layout, anchors, |i| row(side * layout.reg_max + i))).collect();
    let (boxes, rest) = out.split_at_mut(4 * anchors);
    write_boxes(boxes, &dist, &levels, &layout.strides);

    let first_class = 4 * layout.reg_max;
    let (scores, coefs) = rest.split_at_mut(layout.nc * anchors);
    for (c, dst) in scores.chunks_exact_mut(anchors).enumerate() {
        for (d, &x) in dst.iter_mut().zip(row(first_class + c)) {
            *d = 1.0 / (1.0 + (-x).exp());
        }
    }
    coefs.copy_from_slice(&raw.data[(first_class + layout.nc) * anchors..]);
    Ok(Tensor::new(vec![1, layout.decoded_channels(), anchors], out))
}

/// One box side's distance per anchor: the expectation of the softmax over its `reg_max` bins under the DFL
/// weights (`DFL.forward`: softmax over the bins, then the fixed 1×1 convolution).
fn side_distances<'a>(layout: &HeadLayout, anchors: usize, bin: impl Fn(usize) -> &'a [f32]) -> Vec<f32> {
    if layout.reg_max == 1 {
        return bin(0).to_vec();
    }
    let mut max = bin(0).to_vec();
    for i in 1..layout.reg_max {
        for (m, &x) in max.iter_mut().zip(bin(i)) {
            *m = m.max(x);
        }
    }
    let mut sum = vec![0.0f32; anchors];
    let exps: Vec<Vec<f32>> = (0..layout.reg_max)
        .map(|i| {
            let e: Vec<f32> = bin(i).iter().zip(&max).map(|(&x, &m)| (x - m).exp()).collect();
            for (s, &v) in sum.iter_mut().zip(&e) {
                *s += v;
            }
            e
        })
        .collect();
    let mut dist = vec![0.0f32; anchors];
    for (e, &w) in exps.iter().zip(&layout.dfl) {
        for ((d, &v), &s) in dist.iter_mut().zip(e).zip(&sum) {
            *d += v / s * w;
        }
    }
    dist
}

/// `dist2bbox(xywh=True)` then `× stride`, anchors at `(x + 0.5, y + 0.5)` cells, levels in order, row-major.
fn write_boxes(boxes: &mut [f32], dist: &[Vec<f32>], levels: &[(usize, usize)], strides: &[f32]) {
    let anchors = dist[0].len();
    let (cx, rest) = boxes.split_at_mut(anchors);
    let (cy, rest) = rest.split_at_mut(anchors);
    let (bw, bh) = rest.split_at_mut(anchors);
    let mut a = 0;
    for (&(h, w), &stride) in levels.iter().zip(strides) {
        for y in 0..h {
            let ay = y as f32 + 0.5;
            for x in 0..w {
                let ax = x as f32 + 0.5;
                let (x1, y1) = (ax - dist[0][a], ay - dist[1][a]);
                let (x2, y2) = (ax + dist[2][a], ay + dist[3][a]);
                cx[a] = (x1 + x2) / 2.0 * stride;
                cy[a] = (y1 + y2) / 2.0 * stride;
                bw[a] = (x2 - x1) * stride;
                bh[a] = (y2 - y1) * stride;
                a += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_bins_give_the_mean_distance_around_each_cell_centre() {
        let layout = HeadLayout { nc: 1, nm: 1, reg_max: 4, strides: vec![8.0, 16.0], dfl: vec![0.0, 1.0, 2.0, 3.0] };
        // 16×16 input: level 0 is 2×2, level 1 is 1×1.
        let anchors = 5;
        let mut data = vec![0.0f32; layout.raw_channels() * anchors];
        // box bins and the class logit stay 0: uniform softmax, score 0.5
        data[17 * anchors..].copy_from_slice(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        let out = decode(&Tensor::new(vec![1, 18, anchors], data), &layout, 16, 16).unwrap();
        assert_eq!(out.shape, vec![1, 6, anchors]);
        let ch = |c: usize| &out.data[c * anchors..(c + 1) * anchors];
        // uniform softmax -> expectation 1.5 on every side: w = h = 3 cells, centred on the anchor
        assert_eq!(ch(0), &[4.0, 12.0, 4.0, 12.0, 8.0]);
        assert_eq!(ch(1), &[4.0, 4.0, 12.0, 12.0, 8.0]);
        assert_eq!(ch(2), &[24.0, 24.0, 24.0, 24.0, 48.0]);
        assert_eq!(ch(4), &[0.5; 5]);
        assert_eq!(ch(5), &[1.0, 2.0, 3.0, 4.0, 5.0]);
    }
}
