//! `ops.process_mask_native` (retina masks) computed only where it matters: inside each detection's box.
//!
//! The reference computes, per detection, `logits = coeffs @ proto` at prototype resolution (fp32), upsamples
//! by a factor f ∈ {1,2,4} (`F.interpolate(scale_factor=f)`), crops the letterbox padding and resizes to the
//! original image (`F.interpolate(size=(h, w))`), thresholds `> 0` and zeroes everything outside the box
//! (`x1 <= col < x2`, `y1 <= row < y2` on float boxes). Bilinear resizing is local, so the values inside the box
//! only depend on a window of logits: this module walks the window chain backwards (box → cropped map → f-map →
//! prototype window), computes just those logits and the f-map window, then thresholds the box: output pixels
//! whose four source samples share a clear sign get that sign without being computed (a convex blend cannot
//! change it), so only cells along the mask's edges are upsampled, pixel by pixel, with the exact formula.
//! `MaskDecoder::logits` gives the full fp32 values for tests.
//!
//! Bit-exactness needs the reference's kernels, which depend on torch's thread count (`torch_threads`):
//! - the matmul is MKL sgemm (K = 32, sequential over k). Rows computed by its main kernel use FMA
//!   (`acc = fma(c, p, acc)`), rows of a small remainder use `acc = acc + c * p`. Measured (MKL 2024.2, AVX2,
//!   2-core machine): with 1 thread, N < 4 rows → all plain, else all FMA; with 2 threads, N < 12 → rows past
//!   the last multiple of 4 are plain, the rest FMA (N >= 12: all FMA);
//! - the upsampling runs in chunks of `n = max(1, 16e6 // (h·w + f²·mh·mw))` masks; a chunk of exactly 3 masks
//!   with 1 torch thread (or any chunk, when the image's h + w <= 128) goes through the channels-last bilinear
//!   kernel, whose rounding also depends on the mask's channel within the chunk (see `bilinear`).

use super::bilinear::{AxisWeights, Kernel, Resize, Window};
use crate::mask::{words_for, Mask};
use crate::{Error, Result, Tensor};
use std::ops::Range;

/// Everything about an image's masks that does not depend on the detection: geometry, weights, kernels.
pub struct MaskDecoder<'a> {
    proto: &'a [f32],
    nm: usize,
    mh: usize,
    mw: usize,
    h: usize,
    w: usize,
    /// Pre-upsampling factor (1, 2 or 4) and the f-map's size.
    f: usize,
    /// `scale_masks` crop of the f-map: top row and left column.
    crop_top: usize,
    crop_left: usize,
    /// Detections in the reference's matmul (after NMS, before dropping empty masks) and its chunk size.
    n_masks: usize,
    chunk: usize,
    threads: usize,
    /// Stage 1 (proto → f-map) and stage 2 (crop → h×w) weights: [generic kernel, channels-last kernel].
    stage1: [(AxisWeights, AxisWeights); 2],
    stage2: [(AxisWeights, AxisWeights); 2],
}

fn python_round(x: f64) -> usize {
    x.round_ties_even().max(0.0) as usize
}

fn kernel_slot(k: Kernel) -> usize {
    match k {
        Kernel::Generic => 0,
        Kernel::ChannelsLastVector | Kernel::ChannelsLastScalar => 1,
    }
}

impl<'a> MaskDecoder<'a> {
    /// `proto` is the network's (1, nm, mh, mw) prototypes, `orig_hw` the original image size, `n_masks` the
    /// number of detections NMS kept, `torch_threads` the reference's `torch.get_num_threads()`.
    pub fn new(proto: &'a Tensor, orig_hw: (usize, usize), n_masks: usize, torch_threads: usize) -> Result<Self> {
        let [1, nm, mh, mw] = proto.shape[..] else {
            return Err(Error::invalid("prototypes", format!("shape {:?}, expected (1, nm, mh, mw)", proto.shape)));
        };
        let (h, w) = orig_hw;
        if nm == 0 || mh == 0 || mw == 0 || h == 0 || w == 0 || proto.data.len() != nm * mh * mw {
            return Err(Error::invalid(
                "prototypes",
                format!("shape {:?} ({} values) for a {h}x{w} image", proto.shape, proto.data.len()),
            ));
        }
        if torch_threads == 0 {
            return Err(Error::invalid("torch_threads", "0 (the reference runs at least one thread)"));
        }
        // Pre-upsample factor: the smallest of 1, 2, 4 that puts the letterbox padding on whole pixels.
        let g = (4.0 * mh as f64 / h as f64).min(4.0 * mw as f64 / w as f64);
        let pad = (4 * mh).saturating_sub(python_round(h as f64 * g).max(1))
            | (4 * mw).saturating_sub(python_round(w as f64 * g).max(1));
        let f = 4 / gcd(4, pad | (pad / 2));
        let (fh, fw) = (f * mh, f * mw);
        // scale_masks: crop the padding of the f-map, then resize the content to h×w.
        let gain = (fh as f64 / h as f64).min(fw as f64 / w as f64);
        let (ch, cw) = (python_round(h as f64 * gain).max(1), python_round(w as f64 * gain).max(1));
        let pad_h = (fh as f64 - ch as f64) / 2.0;
        let pad_w = (fw as f64 - cw as f64) / 2.0;
        let (crop_top, crop_left) = (python_round(pad_h - 0.1), python_round(pad_w - 0.1));
        let chunk = (16_000_000 / (h * w + f * f * mh * mw)).max(1);
        let axes = |k: Kernel| {
            let s1 = (AxisWeights::new(mh, fh, Some(f as f64), k), AxisWeights::new(mw, fw, Some(f as f64), k));
            let s2 = (AxisWeights::new(ch, h, None, k), AxisWeights::new(cw, w, None, k));
            (s1, s2)
        };
        let (g1, g2) = axes(Kernel::Generic);
        let (c1, c2) = axes(Kernel::ChannelsLastScalar);
        Ok(MaskDecoder {
            proto: &proto.data,
            nm,
            mh,
            mw,
            h,
            w,
            f,
            crop_top,
            crop_left,
            n_masks,
            chunk,
            threads: torch_threads,
            stage1: [g1, c1],
            stage2: [g2, c2],
        })
    }

    /// The pre-upsampling factor f (1, 2 or 4).
    pub fn factor(&self) -> usize {
        self.f
    }

    /// Whether the reference's matmul computed row `index` with FMA (see the module docs).
    fn fused_matmul(&self, index: usize) -> bool {
        let n = self.n_masks;
        if self.threads == 1 {
            n >= 4
        } else {
            n >= 12 || index < 4 * (n / 4)
        }
    }

    /// Channels of the interpolate call that upsampled mask `index`, and its channel there.
    fn chunk_channel(&self, index: usize) -> (usize, usize) {
        let start = index / self.chunk * self.chunk;
        (self.chunk.min(self.n_masks.saturating_sub(start)), index - start)
    }

    /// The binary mask of detection `index` (its row in NMS order) with mask coefficients `coeffs` and box
    /// `bbox` (xyxy, original pixels, clamped: the box the reference crops with).
    pub fn decode(&self, index: usize, coeffs: &[f32], bbox: [f32; 4]) -> Mask {
        let (w, h) = (self.w as u32, self.h as u32);
        let Some((rows, cols)) = self.crop_region(bbox) else { return Mask::empty(w, h) };
        let stride = words_for(cols.len());
        let mut words = vec![0u64; stride * rows.len()];
        let region = [cols.start as u32, rows.start as u32, cols.end as u32, rows.end as u32];
        self.run(index, coeffs, rows, cols, Output::Bits { words: &mut words, stride });
        Mask::from_region(w, h, region, stride, &words)
    }

    /// The reference's fp32 logits (before `> 0`) of detection `index` at full resolution over `rows` × `cols`
    /// (inside the image), row-major. For tests and diagnostics.
    pub fn logits(&self, index: usize, coeffs: &[f32], rows: Range<usize>, cols: Range<usize>) -> Vec<f32> {
        let mut out = Vec::with_capacity(rows.len() * cols.len());
        self.run(index, coeffs, rows, cols, Output::Logits(&mut out));
        out
    }

    /// Pixels kept by crop_mask: columns c with `x1 <= c < x2` (c compared as f32), rows likewise.
    fn crop_region(&self, b: [f32; 4]) -> Option<(Range<usize>, Range<usize>)> {
        let span = |lo: f32, hi: f32, n: usize| {
            let start = if lo > 0.0 { (lo.ceil() as usize).min(n) } else { 0 };
            let end = if hi > 0.0 { (hi.ceil() as usize).min(n) } else { 0 };
            start..end.max(start)
        };
        let (cols, rows) = (span(b[0], b[2], self.w), span(b[1], b[3], self.h));
        (!cols.is_empty() && !rows.is_empty()).then_some((rows, cols))
    }

    /// Computes detection `index`'s output `rows` × `cols` into `out`, in a copy of the code compiled for
    /// AVX2+FMA when the CPU has them.
    fn run(&self, index: usize, coeffs: &[f32], rows: Range<usize>, cols: Range<usize>, out: Output) {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports the features the copy is compiled for (checked just above).
            unsafe { self.run_avx2(index, coeffs, rows, cols, out) };
            return;
        }
        self.run_impl(index, coeffs, rows, cols, out)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn run_avx2(&self, index: usize, coeffs: &[f32], rows: Range<usize>, cols: Range<usize>, out: Output) {
        self.run_impl(index, coeffs, rows, cols, out)
    }

    /// Walks the window chain backwards from output `rows` × `cols`, computes the f-map window forwards.
    #[inline(always)]
    fn run_impl(&self, index: usize, coeffs: &[f32], rows: Range<usize>, cols: Range<usize>, out: Output) {
        let (channels, channel) = self.chunk_channel(index);
        let k2 = Kernel::select(channels, channel, self.h, self.w, self.threads);
        let (wy2, wx2) = &self.stage2[kernel_slot(k2)];
        // f-map window read by stage 2.
        let shift = |r: Range<usize>, by: usize| r.start + by..r.end + by;
        let frows = shift(wy2.source_span(&rows), self.crop_top);
        let fcols = shift(wx2.source_span(&cols), self.crop_left);
        let fmap = if self.f == 1 {
            self.logits_window(index, coeffs, frows, fcols)
        } else {
            let k1 = Kernel::select(channels, channel, self.f * self.mh, self.f * self.mw, self.threads);
            let (wy1, wx1) = &self.stage1[kernel_slot(k1)];
            let proto = self.logits_window(index, coeffs, wy1.source_span(&frows), wx1.source_span(&fcols));
            let mut data = Vec::with_capacity(frows.len() * fcols.len());
            let stage1 = Resize { src: &proto, offset: (0, 0), wy: wy1, wx: wx1, kernel: k1 };
            stage1.rows(frows.clone(), fcols.clone(), |_, v| data.extend_from_slice(v));
            Window { r0: frows.start, c0: fcols.start, rows: frows.len(), cols: fcols.len(), data }
        };
        let stage2 = Resize { src: &fmap, offset: (self.crop_top, self.crop_left), wy: wy2, wx: wx2, kernel: k2 };
        match out {
            Output::Bits { words, stride } => stage2.threshold(rows, cols, words, stride),
            Output::Logits(values) => stage2.rows(rows, cols, |_, v| values.extend_from_slice(v)),
        }
    }

    /// `coeffs @ proto` over a window of the prototype grid, accumulated as the reference's sgemm does.
    #[inline(always)]
    fn logits_window(&self, index: usize, coeffs: &[f32], rows: Range<usize>, cols: Range<usize>) -> Window {
        let (nr, nc) = (rows.len(), cols.len());
        let mut data = vec![0f32; nr * nc];
        let fused = self.fused_matmul(index);
        let plane = self.mh * self.mw;
        // Row by row, so the accumulators stay in L1 while the 32 prototype rows stream past.
        for (r, acc) in rows.clone().zip(data.chunks_exact_mut(nc)) {
            let start = r * self.mw + cols.start;
            for (j, &c) in coeffs.iter().enumerate().take(self.nm) {
                let src = &self.proto[j * plane + start..j * plane + start + nc];
                if fused {
                    acc.iter_mut().zip(src).for_each(|(a, &v)| *a = c.mul_add(v, *a));
                } else {
                    acc.iter_mut().zip(src).for_each(|(a, &v)| *a += c * v);
                }
            }
        }
        Window { r0: rows.start, c0: cols.start, rows: nr, cols: nc, data }
    }
}

/// What to make of the last resize.
enum Output<'a> {
    /// Bits `> 0`, row-major, `stride` words per row (zeroed).
    Bits { words: &'a mut [u64], stride: usize },
    /// The fp32 values, row-major, appended.
    Logits(&'a mut Vec<f32>),
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}
