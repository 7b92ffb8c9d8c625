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

/// One resize call: its input window, the crop offset and weights, and the kernel computing the channel.
pub(crate) struct Resize<'a> {
    /// A window of the resize's input; must cover every source index read.
    pub src: &'a Window,
    /// (rows, cols) added to the weights' source indices to address `src` (the crop origin in `scale_masks`).
    pub offset: (usize, usize),
    pub wy: &'a AxisWeights,
    pub wx: &'a AxisWeights,
    pub kernel: Kernel,
}

/// Sign codes of samples and cells: a cell (the 2×2 samples an output pixel blends) is the AND of its samples'
/// codes, so it is `POSITIVE` or `NEGATIVE` only when all four samples are.
const POSITIVE: u8 = 1;
const NEGATIVE: u8 = 2;

/// Magnitude above which a sample's sign survives any convex blend: with weights >= 0 summing to ~1, the
/// largest weighted term is >= ~0.24 · 1e-30, far from underflow, and rounding never flips a sign.
const SURE: f32 = 1e-30;

/// `POSITIVE`/`NEGATIVE` for finite samples clearly away from 0, else 0.
#[inline(always)]
fn sign_code(v: f32) -> u8 {
    u8::from(v > SURE && v <= f32::MAX) | (u8::from((-f32::MAX..-SURE).contains(&v)) << 1)
}

impl Resize<'_> {
    /// Window-relative column taps of output columns `cols`.
    #[inline(always)]
    fn taps(&self, cols: &Range<usize>) -> Vec<(usize, usize, f32, f32)> {
        let (wx, off, c0) = (self.wx, self.offset.1, self.src.c0);
        cols.clone().map(|x| (wx.i0[x] + off - c0, wx.i1[x] + off - c0, wx.l0[x], wx.l1[x])).collect()
    }

    /// Output rows `rows` × columns `cols`, one row at a time, in order: `emit(row, values)`.
    #[inline(always)]
    pub fn rows(&self, rows: Range<usize>, cols: Range<usize>, mut emit: impl FnMut(usize, &[f32])) {
        let (src, wy) = (self.src, self.wy);
        let taps = self.taps(&cols);
        let n = taps.len();
        let mut out = vec![0f32; n];
        if self.kernel == Kernel::Generic {
            // Each output row blends two x-interpolated source rows; rows only move forward, so two cached
            // rows compute every source row once.
            let mut cache = [(usize::MAX, vec![0f32; n]), (usize::MAX, vec![0f32; n])];
            for y in rows {
                let (a, b) = (wy.i0[y] + self.offset.0, wy.i1[y] + self.offset.0);
                let sa = fill_cached(&mut cache, a, b, src, &taps);
                let sb = fill_cached(&mut cache, b, a, src, &taps);
                let (h0, h1) = (wy.l0[y], wy.l1[y]);
                let (t0, t1) = (&cache[sa].1, &cache[sb].1);
                for ((o, &p), &q) in out.iter_mut().zip(t0).zip(t1) {
                    *o = p.mul_add(h0, q * h1);
                }
                emit(y, &out);
            }
        } else {
            let vector = self.kernel == Kernel::ChannelsLastVector;
            for y in rows {
                let (ra, rb) = (src.row(wy.i0[y] + self.offset.0), src.row(wy.i1[y] + self.offset.0));
                let (h0, h1) = (wy.l0[y], wy.l1[y]);
                if vector {
                    out.iter_mut().zip(&taps).for_each(|(o, &t)| *o = channels_last::<true>(ra, rb, h0, h1, t));
                } else {
                    out.iter_mut().zip(&taps).for_each(|(o, &t)| *o = channels_last::<false>(ra, rb, h0, h1, t));
                }
                emit(y, &out);
            }
        }
    }

    /// The value `rows` computes at one output pixel, computed alone.
    #[inline(always)]
    fn pixel(&self, ra: &[f32], rb: &[f32], h0: f32, h1: f32, tap: (usize, usize, f32, f32)) -> f32 {
        if self.kernel == Kernel::Generic {
            let (i0, i1, w0, w1) = tap;
            let t0 = ra[i0].mul_add(w0, ra[i1] * w1);
            let t1 = rb[i0].mul_add(w0, rb[i1] * w1);
            t0.mul_add(h0, t1 * h1)
        } else if self.kernel == Kernel::ChannelsLastVector {
            channels_last::<true>(ra, rb, h0, h1, tap)
        } else {
            channels_last::<false>(ra, rb, h0, h1, tap)
        }
    }

    /// Sets bit `x - cols.start` of row `y - rows.start` (`stride` words per row in `words`) where the output is
    /// `> 0`. Blends of four samples of one clear sign have that sign, so only cells with mixed or tiny samples
    /// are computed, pixel by pixel; the rest is filled by runs. `words` must be zeroed.
    #[inline(always)]
    pub fn threshold(&self, rows: Range<usize>, cols: Range<usize>, words: &mut [u64], stride: usize) {
        let (src, wy, wx) = (self.src, self.wy, self.wx);
        let codes: Vec<u8> = src.data.iter().map(|&v| sign_code(v)).collect();
        let code_row = |r: usize| &codes[(r - src.r0) * src.cols..(r - src.r0 + 1) * src.cols];
        let taps = self.taps(&cols);
        // Cell columns (window-relative left sample of each pair) spanned by the output columns, and the first
        // output column (relative to cols.start) of each.
        let (cmin, cmax) = (taps[0].0, taps[taps.len() - 1].0);
        let mut first_x = vec![taps.len(); cmax - cmin + 2];
        for (x, t) in taps.iter().enumerate().rev() {
            first_x[t.0 - cmin] = x;
        }
        for c in (0..cmax - cmin + 1).rev() {
            first_x[c] = first_x[c].min(first_x[c + 1]);
        }
        // The right sample of the last input column is itself.
        let last_col = wx.input - 1 + self.offset.1 - src.c0;
        let mut cells = vec![0u8; cmax - cmin + 1];
        let mut runs: Vec<(usize, usize, u8)> = Vec::new();
        let mut runs_row = usize::MAX;
        for y in rows.clone() {
            let (a, b) = (wy.i0[y] + self.offset.0, wy.i1[y] + self.offset.0);
            if runs_row != a {
                let (ca, cb) = (code_row(a), code_row(b));
                let pairs = (cmax + 1).min(last_col) - cmin;
                // Slices rather than indices, so the loop compiles to vector ANDs.
                let (a0, a1) = (&ca[cmin..cmin + pairs], &ca[cmin + 1..cmin + pairs + 1]);
                let (b0, b1) = (&cb[cmin..cmin + pairs], &cb[cmin + 1..cmin + pairs + 1]);
                for (cell, (((&p, &q), &r), &t)) in cells.iter_mut().zip(a0.iter().zip(a1).zip(b0).zip(b1)) {
                    *cell = p & q & r & t;
                }
                if cmax == last_col {
                    cells[cmax - cmin] = ca[cmax] & cb[cmax];
                }
                runs_of(&cells, &mut runs);
                runs_row = a;
            }
            let (ra, rb) = (src.row(a), src.row(b));
            let (h0, h1) = (wy.l0[y], wy.l1[y]);
            let r = y - rows.start;
            let dst = &mut words[r * stride..(r + 1) * stride];
            for &(cs, ce, cell) in &runs {
                let (xa, xb) = (first_x[cs], first_x[ce]);
                match cell {
                    NEGATIVE => {}
                    POSITIVE => set_bits(dst, xa, xb),
                    _ => {
                        for (x, &tap) in (xa..xb).zip(&taps[xa..xb]) {
                            if self.pixel(ra, rb, h0, h1, tap) > 0.0 {
                                dst[x / 64] |= 1 << (x % 64);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The channels-last kernel's value from rows `ra`, `rb` with row weights `h0`, `h1` and a column tap, in its
/// vector loop (`VECTOR`) or its scalar remainder loop.
#[inline(always)]
fn channels_last<const VECTOR: bool>(ra: &[f32], rb: &[f32], h0: f32, h1: f32, tap: (usize, usize, f32, f32)) -> f32 {
    let (i0, i1, w0, w1) = tap;
    let (w00, w01, w10, w11) = (h0 * w0, h0 * w1, h1 * w0, h1 * w1);
    let (x00, x01, x10, x11) = (ra[i0], ra[i1], rb[i0], rb[i1]);
    if VECTOR {
        x00.mul_add(w00, x01.mul_add(w01, x11.mul_add(w11, x10 * w10)))
    } else {
        x11.mul_add(w11, x10.mul_add(w10, x00.mul_add(w00, x01 * w01)))
    }
}

/// `runs` := the maximal runs `(start, end, value)` of equal bytes of `cells`. Mask interiors and exteriors are
/// long runs, so they are skipped 8 bytes at a time.
#[inline(always)]
fn runs_of(cells: &[u8], runs: &mut Vec<(usize, usize, u8)>) {
    runs.clear();
    let mut start = 0;
    while start < cells.len() {
        let value = cells[start];
        let same8 = u64::from_ne_bytes([value; 8]);
        let mut end = start + 1;
        while let Some(chunk) = cells.get(end..end + 8) {
            if u64::from_ne_bytes(chunk.try_into().expect("8 bytes")) != same8 {
                break;
            }
            end += 8;
        }
        while end < cells.len() && cells[end] == value {
            end += 1;
        }
        runs.push((start, end, value));
        start = end;
    }
}

/// Sets bits `[a, b)`.
#[inline(always)]
fn set_bits(words: &mut [u64], a: usize, b: usize) {
    if a >= b {
        return;
    }
    let (wa, wb) = (a / 64, (b - 1) / 64);
    let lo = !0u64 << (a % 64);
    let hi = !0u64 >> (63 - (b - 1) % 64);
    if wa == wb {
        words[wa] |= lo & hi;
        return;
    }
    words[wa] |= lo;
    words[wa + 1..wb].fill(!0);
    words[wb] |= hi;
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
