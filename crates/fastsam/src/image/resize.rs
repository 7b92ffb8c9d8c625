//! `cv2.resize(img, (w, h), interpolation=INTER_LINEAR)` on 8-bit RGB, bit for bit (OpenCV 5.0.0 as shipped
//! in opencv-python 5.0.0.93).
//!
//! OpenCV's 8-bit path is fixed point: per-axis weights `saturate_cast<short>(w * 2048)` from fp32 source
//! positions, a horizontal pass into `int` rows (exact), then a vertical pass that, in the SIMD kernel this
//! build runs on every element, computes `((h0 >> 4) * b0 >> 16) + ((h1 >> 4) * b1 >> 16)` and rounds
//! with `(x + 2) >> 2` — not the scalar `(h0*b0 + h1*b1 + 2^21) >> 22`, which differs by one on some pixels.
//! Measured against cv2 on random images of random sizes, including exact 2x up/down (where OpenCV takes
//! other code paths that give the same bytes). Vertical row indices are clamped at the borders but their
//! weights are not zeroed (they matter because of the per-term truncation); horizontal ones are.

use std::ops::Range;

use super::RgbImage;

const CHANNELS: usize = 3;
const WEIGHT_SCALE: f32 = 2048.0;

/// Two taps of the linear filter: source indices (already clamped) and their 11-bit weights.
#[derive(Clone, Copy, Debug)]
struct Taps {
    first: usize,
    second: usize,
    w0: i32,
    w1: i32,
}

/// Weights for one axis. `clamp_weights` is OpenCV's horizontal treatment (a tap that falls outside takes
/// the edge pixel with weight 1); vertically only the row indices are clamped.
fn axis_taps(src: usize, dst: usize, clamp_weights: bool) -> Vec<Taps> {
    let scale = 1.0 / (dst as f64 / src as f64);
    let last = src as i64 - 1;
    (0..dst)
        .map(|d| {
            let pos = ((d as f64 + 0.5) * scale - 0.5) as f32;
            let mut index = pos.floor() as i64;
            let mut frac = pos - index as f32;
            if clamp_weights && index < 0 {
                index = 0;
                frac = 0.0;
            }
            if clamp_weights && index >= last {
                index = last;
                frac = 0.0;
            }
            Taps {
                first: index.clamp(0, last) as usize,
                second: (index + 1).clamp(0, last) as usize,
                w0: weight(1.0 - frac),
                w1: weight(frac),
            }
        })
        .collect()
}

/// `saturate_cast<short>(w * INTER_RESIZE_COEF_SCALE)`: round half to even in fp32.
fn weight(w: f32) -> i32 {
    (w * WEIGHT_SCALE).round_ties_even() as i32
}

/// Resizes `src` to `dst_w` x `dst_h` like `cv2.resize(..., INTER_LINEAR)`; same size gives a copy.
pub fn resize_linear(src: &RgbImage, dst_w: u32, dst_h: u32) -> RgbImage {
    assert!(dst_w > 0 && dst_h > 0, "resize target must not be empty");
    if (src.width, src.height) == (dst_w, dst_h) {
        return src.clone();
    }
    let (dw, dh) = (dst_w as usize, dst_h as usize);
    let xs = axis_taps(src.width as usize, dw, true);
    let ys = axis_taps(src.height as usize, dh, false);
    let row_len = dw * CHANNELS;
    let mut out = vec![0u8; row_len * dh];
    let threads = worker_count(row_len * dh);
    let rows_per_chunk = dh.div_ceil(threads);
    std::thread::scope(|scope| {
        for (i, chunk) in out.chunks_mut(rows_per_chunk * row_len).enumerate() {
            let rows = i * rows_per_chunk..(i * rows_per_chunk + chunk.len() / row_len);
            let (xs, ys) = (&xs, &ys);
            if threads == 1 {
                resize_rows(src, xs, ys, rows, chunk);
            } else {
                scope.spawn(move || resize_rows(src, xs, ys, rows, chunk));
            }
        }
    });
    RgbImage { width: dst_w, height: dst_h, data: out }
}

/// Threads worth starting for `outputs` bytes of output: below ~0.5 MB the spawn costs more than it saves.
fn worker_count(outputs: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (outputs / (512 * 1024)).clamp(1, cores.min(8))
}

/// Per-row scratch: the horizontal weights laid out per output sample as `[w0, w1]` pairs, the gathered
/// source samples in the same layout, and the two most recent horizontally filtered rows (stored already
/// shifted right by 4, the only form the vertical pass uses, so they fit in i16).
struct Rows<'a> {
    src: &'a RgbImage,
    xs: &'a [Taps],
    weights: Vec<[i16; 2]>,
    padded: Vec<u8>,
    gathered: Vec<[u8; 2]>,
    cache: [(usize, Vec<i16>); 2],
}

impl<'a> Rows<'a> {
    fn new(src: &'a RgbImage, xs: &'a [Taps]) -> Self {
        let weights = xs.iter().flat_map(|t| [[t.w0 as i16, t.w1 as i16]; CHANNELS]).collect();
        let len = xs.len() * CHANNELS;
        debug_assert!(xs.iter().all(|t| t.second == t.first + 1 || (t.second == t.first && t.w1 == 0)));
        Rows {
            src,
            xs,
            weights,
            padded: vec![0; (src.width as usize + 1) * CHANNELS],
            gathered: vec![[0; 2]; len],
            cache: [(usize::MAX, vec![0; len]), (usize::MAX, vec![0; len])],
        }
    }

    /// Makes cache slot 0 hold source row `first` and slot 1 row `second`.
    fn load(&mut self, first: usize, second: usize) {
        if self.cache[0].0 != first {
            if self.cache[1].0 == first {
                self.cache.swap(0, 1);
            } else {
                self.filter_into(0, first);
            }
        }
        if self.cache[1].0 != second {
            if second == first {
                let [(_, a), (row, b)] = &mut self.cache;
                b.copy_from_slice(a);
                *row = second;
            } else {
                self.filter_into(1, second);
            }
        }
    }

    /// The horizontal pass (exact integer `a * w0 + b * w1`) for source row `y`: a gather into `[a, b]`
    /// sample pairs, then a vectorised multiply-add. Horizontal taps are always neighbours, or the same
    /// pixel twice with `w1 = 0` at the right edge; reading the neighbour window from a row padded by one
    /// zero pixel covers both with one bounds check.
    fn filter_into(&mut self, slot: usize, y: usize) {
        let stride = self.src.width as usize * CHANNELS;
        self.padded[..stride].copy_from_slice(&self.src.data[y * stride..(y + 1) * stride]);
        for (t, pairs) in self.xs.iter().zip(self.gathered.chunks_exact_mut(CHANNELS)) {
            let window: &[u8; 2 * CHANNELS] = self.padded[t.first * CHANNELS..][..2 * CHANNELS].try_into().unwrap();
            for c in 0..CHANNELS {
                pairs[c] = [window[c], window[c + CHANNELS]];
            }
        }
        let (row_index, out) = &mut self.cache[slot];
        kernels::horizontal(&self.gathered, &self.weights, out);
        *row_index = y;
    }
}

/// Output rows `rows` into `out`.
fn resize_rows(src: &RgbImage, xs: &[Taps], ys: &[Taps], rows: Range<usize>, out: &mut [u8]) {
    let row_len = xs.len() * CHANNELS;
    let mut scratch = Rows::new(src, xs);
    for (dy, dst) in rows.zip(out.chunks_exact_mut(row_len)) {
        let t = ys[dy];
        scratch.load(t.first, t.second);
        kernels::vertical(&scratch.cache[0].1, &scratch.cache[1].1, t.w0 as i16, t.w1 as i16, dst);
    }
}

/// The two inner loops. Each has a scalar definition (the reference arithmetic, also used for tails) and an
/// SSE2 version on x86_64, where SSE2 is always present, computing the same integers 8 samples at a time.
mod kernels {
    /// `out[i] = (a * w0 + b * w1) >> 4` for `pairs[i] = [a, b]`, `weights[i] = [w0, w1]`.
    pub(super) fn horizontal(pairs: &[[u8; 2]], weights: &[[i16; 2]], out: &mut [i16]) {
        let n = out.len().min(pairs.len()).min(weights.len());
        let done = simd::horizontal(&pairs[..n], &weights[..n], &mut out[..n]);
        for ((o, &[a, b]), &[w0, w1]) in out[done..n].iter_mut().zip(&pairs[done..n]).zip(&weights[done..n]) {
            *o = ((i32::from(a) * i32::from(w0) + i32::from(b) * i32::from(w1)) >> 4) as i16;
        }
    }

    /// OpenCV's `VResizeLinearVec_32s8u`: `v_mul_hi` (high half of the i16 product) of the pre-shifted rows
    /// and the weights, summed, then a rounding shift by 2 with unsigned saturation.
    pub(super) fn vertical(h0: &[i16], h1: &[i16], b0: i16, b1: i16, out: &mut [u8]) {
        let n = out.len().min(h0.len()).min(h1.len());
        let done = simd::vertical(&h0[..n], &h1[..n], b0, b1, &mut out[..n]);
        let mul_hi = |a: i16, b: i16| ((i32::from(a) * i32::from(b)) >> 16) as i16;
        for ((o, &s0), &s1) in out[done..n].iter_mut().zip(&h0[done..n]).zip(&h1[done..n]) {
            let v = mul_hi(s0, b0) + mul_hi(s1, b1);
            *o = ((v + 2) >> 2).clamp(0, 255) as u8;
        }
    }

    #[cfg(target_arch = "x86_64")]
    mod simd {
        use std::arch::x86_64::*;

        /// Returns how many leading samples it filled (a multiple of 8).
        pub(super) fn horizontal(pairs: &[[u8; 2]], weights: &[[i16; 2]], out: &mut [i16]) -> usize {
            let n = out.len() / 8 * 8;
            for ((o, p), w) in out[..n].chunks_exact_mut(8).zip(pairs.chunks_exact(8)).zip(weights.chunks_exact(8)) {
                // SAFETY: SSE2 is part of x86_64; each chunk is exactly 16 bytes of pairs, 32 bytes of
                // weights and 16 bytes of output, and the loads/stores are unaligned.
                unsafe {
                    let bytes = _mm_loadu_si128(p.as_ptr().cast());
                    let zero = _mm_setzero_si128();
                    let lo = _mm_unpacklo_epi8(bytes, zero);
                    let hi = _mm_unpackhi_epi8(bytes, zero);
                    let w_lo = _mm_loadu_si128(w.as_ptr().cast());
                    let w_hi = _mm_loadu_si128(w.as_ptr().add(4).cast());
                    let s_lo = _mm_srai_epi32::<4>(_mm_madd_epi16(lo, w_lo));
                    let s_hi = _mm_srai_epi32::<4>(_mm_madd_epi16(hi, w_hi));
                    _mm_storeu_si128(o.as_mut_ptr().cast(), _mm_packs_epi32(s_lo, s_hi));
                }
            }
            n
        }

        /// Returns how many leading samples it filled (a multiple of 8).
        pub(super) fn vertical(h0: &[i16], h1: &[i16], b0: i16, b1: i16, out: &mut [u8]) -> usize {
            let n = out.len() / 8 * 8;
            for ((o, s0), s1) in out[..n].chunks_exact_mut(8).zip(h0.chunks_exact(8)).zip(h1.chunks_exact(8)) {
                // SAFETY: SSE2 is part of x86_64; each chunk is exactly 8 i16 in and 8 bytes out, unaligned.
                unsafe {
                    let v = _mm_adds_epi16(
                        _mm_mulhi_epi16(_mm_loadu_si128(s0.as_ptr().cast()), _mm_set1_epi16(b0)),
                        _mm_mulhi_epi16(_mm_loadu_si128(s1.as_ptr().cast()), _mm_set1_epi16(b1)),
                    );
                    let rounded = _mm_srai_epi16::<2>(_mm_adds_epi16(v, _mm_set1_epi16(2)));
                    _mm_storel_epi64(o.as_mut_ptr().cast(), _mm_packus_epi16(rounded, rounded));
                }
            }
            n
        }
    }

    #[cfg(not(target_arch = "x86_64"))]
    mod simd {
        pub(super) fn horizontal(_: &[[u8; 2]], _: &[[i16; 2]], _: &mut [i16]) -> usize {
            0
        }

        pub(super) fn vertical(_: &[i16], _: &[i16], _: i16, _: i16, _: &mut [u8]) -> usize {
            0
        }
    }
}
