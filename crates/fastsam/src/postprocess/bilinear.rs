//! PyTorch's CPU `F.interpolate(mode="bilinear", align_corners=False)` on fp32, reproduced to the last bit.
//!
//! What the reference runs (ATen `UpSampleKernel.cpp`, torch 2.15 AVX2 build, measured bit-exact here):
//! - Generic kernel (`upsample_generic_Nd_kernel_impl`, the usual path): per axis, `scale = 1/scale_factor` (as
//!   f32) or `in as f32 / out as f32`; source `s = scale * (i + 0.5) - 0.5` (rounded twice, no FMA), clamped at 0;
//!   `i0 = min(floor(s), in-1)`, `l1 = clamp(s - i0, 0, 1)`, `l0 = 1 - l1`, `i1 = i0 + (i0 < in-1)`; same size →
//!   copy weights (1, 0). Value: rows first interpolated along x, `t = fma(x[i0], l0, x[i1] * l1)`, then along y,
//!   `out = fma(t0, h0, t1 * h1)` (the compiler contracted `a*b + c*d` into one FMA).
//! - Channels-last kernel (`cpu_upsample_linear_channels_last`), taken when the call has exactly 3 channels and
//!   torch runs on 1 thread, or when the output's H + W <= 128: source index with FMA `s = fma(scale, i + 0.5,
//!   -0.5)`; weights `w00 = h0*w0, w01 = h0*w1, w10 = h1*w0, w11 = h1*w1`. Channels are processed 8 at a time
//!   (AVX2 `Vectorized<float>`), value `fma(x00, w00, fma(x01, w01, fma(x11, w11, x10 * w10)))`; the last
//!   `C mod 8` channels go through a scalar loop, value `fma(x11, w11, fma(x10, w10, fma(x00, w00, x01 * w01)))`.
//!
//! `f32::mul_add` is an exact fused multiply-add everywhere (hardware or libm); the mask code calls these kernels
//! from an AVX2+FMA-compiled copy when the CPU has it, which only makes them faster.

use std::ops::Range;

/// Which of PyTorch's float kernels, and which of its code paths, computes a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    Generic,
    /// Channels-last kernel, channel in the 8-wide vector loop.
    ChannelsLastVector,
    /// Channels-last kernel, channel in the scalar remainder loop.
    ChannelsLastScalar,
}

/// Floats per `Vectorized<float>` in the reference's AVX2 kernels.
const VEC_LANES: usize = 8;

impl Kernel {
    /// PyTorch's choice for channel `channel` of a `channels`-channel call producing `out_h`×`out_w`, with
    /// `threads` torch threads.
    pub fn select(channels: usize, channel: usize, out_h: usize, out_w: usize, threads: usize) -> Kernel {
        if (threads == 1 && channels == 3) || out_h + out_w <= 128 {
            if channel < channels / VEC_LANES * VEC_LANES {
                Kernel::ChannelsLastVector
            } else {
                Kernel::ChannelsLastScalar
            }
        } else {
            Kernel::Generic
        }
    }

    /// Whether the source coordinate is computed with a fused multiply-add.
    fn fused_index(self) -> bool {
        self != Kernel::Generic
    }
}

/// One axis of a resize: for each output index, two source indices and their weights.
#[derive(Debug, Clone, PartialEq)]
pub struct AxisWeights {
    pub input: usize,
    pub i0: Vec<usize>,
    pub i1: Vec<usize>,
    pub l0: Vec<f32>,
    pub l1: Vec<f32>,
}

impl AxisWeights {
    /// Weights for resizing `input` samples to `output` samples; `scale_factor` is the value passed to
    /// `F.interpolate(scale_factor=...)` (None when called with `size=`).
    pub fn new(input: usize, output: usize, scale_factor: Option<f64>, kernel: Kernel) -> AxisWeights {
        let scale = match scale_factor {
            Some(f) if f > 0.0 => (1.0 / f) as f32,
            _ => input as f32 / output as f32,
        };
        let mut w = AxisWeights {
            input,
            i0: Vec::with_capacity(output),
            i1: Vec::with_capacity(output),
            l0: Vec::with_capacity(output),
            l1: Vec::with_capacity(output),
        };
        for i in 0..output {
            if input == output {
                w.push(i, i, 1.0, 0.0);
                continue;
            }
            let x = i as f32 + 0.5;
            let s = if kernel.fused_index() { scale.mul_add(x, -0.5) } else { scale * x - 0.5 };
            let s = if s < 0.0 { 0.0 } else { s };
            let i0 = (s.floor() as usize).min(input - 1);
            let l1 = (s - i0 as f32).clamp(0.0, 1.0);
            let i1 = if i0 < input - 1 { i0 + 1 } else { i0 };
            w.push(i0, i1, 1.0 - l1, l1);
        }
        w
    }

    fn push(&mut self, i0: usize, i1: usize, l0: f32, l1: f32) {
        self.i0.push(i0);
        self.i1.push(i1);
        self.l0.push(l0);
        self.l1.push(l1);
    }

    /// Source indices (inclusive range) read by the outputs `out`.
    pub fn source_span(&self, out: &Range<usize>) -> Range<usize> {
        self.i0[out.start]..self.i1[out.end - 1] + 1
    }
}

/// A rectangle of a 2-D float map: rows `r0..r0+rows`, columns `c0..c0+cols`, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub r0: usize,
    pub c0: usize,
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<f32>,
}

impl Window {
    pub fn row(&self, r: usize) -> &[f32] {
        let i = r - self.r0;
        &self.data[i * self.cols..(i + 1) * self.cols]
    }
}

/// Resizes `src` (a window of the resize's input) for output rows `rows` and columns `cols`, calling
/// `emit(row, values)` once per output row, in order. `offset` (rows, cols) is added to the weights' source
/// indices to address `src` (the crop origin in `scale_masks`). `src` must cover every source index read.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn resize(
    src: &Window,
    offset: (usize, usize),
    wy: &AxisWeights,
    wx: &AxisWeights,
    kernel: Kernel,
    rows: Range<usize>,
    cols: Range<usize>,
    mut emit: impl FnMut(usize, &[f32]),
) {
    // Column taps relative to the window.
    let taps: Vec<(usize, usize, f32, f32)> = cols
        .clone()
        .map(|x| (wx.i0[x] + offset.1 - src.c0, wx.i1[x] + offset.1 - src.c0, wx.l0[x], wx.l1[x]))
        .collect();
    let n = taps.len();
    let mut out = vec![0f32; n];
    match kernel {
        Kernel::Generic => {
            // Each output row blends two x-interpolated source rows; rows only move forward, so two cached
            // rows compute every source row once.
            let mut cache = [(usize::MAX, vec![0f32; n]), (usize::MAX, vec![0f32; n])];
            for y in rows {
                let (a, b) = (wy.i0[y] + offset.0, wy.i1[y] + offset.0);
                let sa = fill_cached(&mut cache, a, b, src, &taps);
                let sb = fill_cached(&mut cache, b, a, src, &taps);
                let (h0, h1) = (wy.l0[y], wy.l1[y]);
                let (t0, t1) = (&cache[sa].1, &cache[sb].1);
                for ((o, &p), &q) in out.iter_mut().zip(t0).zip(t1) {
                    *o = p.mul_add(h0, q * h1);
                }
                emit(y, &out);
            }
        }
        Kernel::ChannelsLastVector | Kernel::ChannelsLastScalar => {
            let vector = kernel == Kernel::ChannelsLastVector;
            for y in rows {
                let (ra, rb) = (src.row(wy.i0[y] + offset.0), src.row(wy.i1[y] + offset.0));
                let (h0, h1) = (wy.l0[y], wy.l1[y]);
                for (o, &(i0, i1, w0, w1)) in out.iter_mut().zip(&taps) {
                    let (w00, w01, w10, w11) = (h0 * w0, h0 * w1, h1 * w0, h1 * w1);
                    let (x00, x01, x10, x11) = (ra[i0], ra[i1], rb[i0], rb[i1]);
                    *o = if vector {
                        x00.mul_add(w00, x01.mul_add(w01, x11.mul_add(w11, x10 * w10)))
                    } else {
                        x11.mul_add(w11, x10.mul_add(w10, x00.mul_add(w00, x01 * w01)))
                    };
                }
                emit(y, &out);
            }
        }
    }
}

/// Slot of `cache` holding source row `r` x-interpolated, computing it into the slot not holding `keep`.
#[inline(always)]
fn fill_cached(
    cache: &mut [(usize, Vec<f32>); 2],
    r: usize,
    keep: usize,
    src: &Window,
    taps: &[(usize, usize, f32, f32)],
) -> usize {
    if let Some(slot) = cache.iter().position(|(row, _)| *row == r) {
        return slot;
    }
    let slot = if cache[0].0 == keep { 1 } else { 0 };
    let row = src.row(r);
    let (tag, buf) = &mut cache[slot];
    *tag = r;
    for (o, &(i0, i1, w0, w1)) in buf.iter_mut().zip(taps) {
        *o = row[i0].mul_add(w0, row[i1] * w1);
    }
    slot
}
