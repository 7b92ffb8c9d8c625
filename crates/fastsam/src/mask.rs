//! A binary mask at the original image's resolution, stored only over its tight bounding box as bit-packed rows.
//!
//! Why this shape: a FastSAM image has up to 300 masks at full resolution (3 MP and more); full-frame bytes would
//! cost ~1 GB, while an object's box is usually a small part of the frame and 1 bit per pixel is 8× smaller than
//! bytes. Bit rows also make the prompt queries cheap: point lookup is one shift, box-intersection counts are
//! popcounts over word ranges, unions are shifted ORs, and scanning a row's runs skips whole zero words.
//! The bounding box is kept tight (first/last set row and column), so `bbox()` costs nothing and empty masks
//! hold no words at all.

use crate::{Error, Result};

/// A binary mask over a `width`×`height` image. Pixels outside the stored box are 0.
#[derive(Clone, PartialEq, Eq)]
pub struct Mask {
    width: u32,
    height: u32,
    /// Tight bounding box of the set pixels, half-open; `x0 == x1` (and no words) when the mask is empty.
    x0: u32,
    y0: u32,
    x1: u32,
    y1: u32,
    /// Words per stored row: bit `i` of word `k` is column `x0 + 64k + i`.
    stride: usize,
    bits: Vec<u64>,
    area: u64,
}

impl std::fmt::Debug for Mask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mask({}x{}, area {}, bbox {:?})", self.width, self.height, self.area, self.bbox())
    }
}

/// Number of u64 words that hold `bits` bits.
pub(crate) fn words_for(bits: usize) -> usize {
    bits.div_ceil(64)
}

impl Mask {
    /// An all-zero mask.
    pub fn empty(width: u32, height: u32) -> Mask {
        Mask { width, height, x0: 0, y0: 0, x1: 0, y1: 0, stride: 0, bits: Vec::new(), area: 0 }
    }

    /// From a row-major full-frame image (any non-zero byte is a set pixel).
    pub fn from_full(width: u32, height: u32, pixels: &[u8]) -> Result<Mask> {
        let (w, h) = (width as usize, height as usize);
        if pixels.len() != w * h {
            return Err(Error::invalid("mask", format!("{} pixels for a {width}x{height} image", pixels.len())));
        }
        let stride = words_for(w);
        let mut bits = vec![0u64; stride * h];
        for (y, row) in pixels.chunks_exact(w.max(1)).enumerate().take(h) {
            pack_row(row.iter().map(|&v| v != 0), &mut bits[y * stride..(y + 1) * stride]);
        }
        Ok(Mask::from_region(width, height, [0, 0, width, height], stride, &bits))
    }

    /// From bit-packed rows covering `region` = `[x0, y0, x1, y1]` (half-open, inside the image), `stride`
    /// words per row, bit `i` of word `k` being column `x0 + 64k + i`. Bits past the region's width must be 0.
    /// The result is shrunk to the tight bounding box of its set pixels.
    pub(crate) fn from_region(width: u32, height: u32, region: [u32; 4], stride: usize, words: &[u64]) -> Mask {
        let [rx0, ry0, rx1, ry1] = region;
        let rows = (ry1.saturating_sub(ry0)) as usize;
        let row = |y: usize| &words[y * stride..(y + 1) * stride];
        // Tight box: first/last non-empty rows, and the extreme set columns over them.
        let (mut cx0, mut cx1, mut cy0, mut cy1) = (usize::MAX, 0usize, usize::MAX, 0usize);
        for y in 0..rows {
            let r = row(y);
            let (Some(first), Some(last)) = (first_set(r), last_set(r)) else { continue };
            cy0 = cy0.min(y);
            cy1 = y + 1;
            cx0 = cx0.min(first);
            cx1 = cx1.max(last + 1);
        }
        if cy0 == usize::MAX || rx1 <= rx0 {
            return Mask::empty(width, height);
        }
        let tw = cx1 - cx0;
        let tstride = words_for(tw);
        let mut bits = vec![0u64; tstride * (cy1 - cy0)];
        let mut area = 0u64;
        for (y, dst) in (cy0..cy1).zip(bits.chunks_exact_mut(tstride)) {
            extract_bits(row(y), cx0, tw, dst);
            area += dst.iter().map(|w| u64::from(w.count_ones())).sum::<u64>();
        }
        Mask {
            width,
            height,
            x0: rx0 + cx0 as u32,
            y0: ry0 + cy0 as u32,
            x1: rx0 + cx1 as u32,
            y1: ry0 + cy1 as u32,
            stride: tstride,
            bits,
            area,
        }
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    /// Number of set pixels.
    pub fn area(&self) -> u64 {
        self.area
    }

    pub fn is_empty(&self) -> bool {
        self.area == 0
    }

    /// Tight bounding box `[x0, y0, x1, y1]` of the set pixels, half-open; `None` when empty.
    pub fn bbox(&self) -> Option<[u32; 4]> {
        (!self.is_empty()).then_some([self.x0, self.y0, self.x1, self.y1])
    }

    /// Number of pixels set in both masks (counted inside the overlap of their boxes only).
    pub fn intersection(&self, other: &Mask) -> u64 {
        let (x0, y0) = (self.x0.max(other.x0), self.y0.max(other.y0));
        let (x1, y1) = (self.x1.min(other.x1), self.y1.min(other.y1));
        if self.is_empty() || other.is_empty() || x0 >= x1 || y0 >= y1 {
            return 0;
        }
        (y0..y1).map(|y| (x0..x1).filter(|&x| self.get(x, y) && other.get(x, y)).count() as u64).sum()
    }

    /// The pixel at column `x`, row `y` (false outside the image).
    pub fn get(&self, x: u32, y: u32) -> bool {
        if x < self.x0 || x >= self.x1 || y < self.y0 || y >= self.y1 {
            return false;
        }
        let c = (x - self.x0) as usize;
        self.bits[(y - self.y0) as usize * self.stride + c / 64] >> (c % 64) & 1 == 1
    }

    /// Set pixels inside the half-open rectangle `[x1, x2) × [y1, y2)` (clipped to the image).
    pub fn count_in_rect(&self, x1: u32, y1: u32, x2: u32, y2: u32) -> u64 {
        let (xa, xb) = (x1.max(self.x0), x2.min(self.x1));
        let (ya, yb) = (y1.max(self.y0), y2.min(self.y1));
        if xa >= xb || ya >= yb {
            return 0;
        }
        let (a, b) = ((xa - self.x0) as usize, (xb - self.x0) as usize);
        (ya..yb).map(|y| count_range(self.row_words(y), a, b)).sum()
    }

    /// The stored words of row `y` (`y0 <= y < y1`).
    fn row_words(&self, y: u32) -> &[u64] {
        let r = (y - self.y0) as usize;
        &self.bits[r * self.stride..(r + 1) * self.stride]
    }

    /// Runs of set pixels in row `y` as half-open column ranges `(start, end)`, left to right.
    pub fn row_runs(&self, y: u32) -> Vec<(u32, u32)> {
        let mut out = Vec::new();
        if y >= self.y0 && y < self.y1 {
            for_each_run(self.row_words(y), (self.x1 - self.x0) as usize, |a, b| {
                out.push((self.x0 + a as u32, self.x0 + b as u32))
            });
        }
        out
    }

    /// Every row that has set pixels, with its runs (see [`Mask::row_runs`]), top to bottom.
    pub fn rows(&self) -> impl Iterator<Item = (u32, Vec<(u32, u32)>)> + '_ {
        (self.y0..self.y1).map(|y| (y, self.row_runs(y))).filter(|(_, r)| !r.is_empty())
    }

    /// Calls `f(y, start, end)` for every run of set pixels (row-major order) without allocating.
    pub fn for_each_run(&self, mut f: impl FnMut(u32, u32, u32)) {
        for y in self.y0..self.y1 {
            for_each_run(self.row_words(y), (self.x1 - self.x0) as usize, |a, b| {
                f(y, self.x0 + a as u32, self.x0 + b as u32)
            });
        }
    }

    /// Calls `f(x, column_words)` for every column of the box, left to right; bit `i` of the words is row `y0 + i`.
    pub(crate) fn for_each_column(&self, mut f: impl FnMut(u32, &[u64])) {
        if self.is_empty() {
            return;
        }
        let rows = (self.y1 - self.y0) as usize;
        let rwords = words_for(rows);
        // 64 columns at a time: transpose 64×64 bit blocks so each column's rows become contiguous words.
        let mut cols = vec![0u64; 64 * rwords];
        let mut block = [0u64; 64];
        for k in 0..self.stride {
            for rb in 0..rwords {
                let n = (rows - rb * 64).min(64);
                let mut any = 0u64;
                for (i, slot) in block.iter_mut().enumerate().take(n) {
                    *slot = self.bits[(rb * 64 + i) * self.stride + k];
                    any |= *slot;
                }
                block[n..].fill(0);
                if any == 0 {
                    (0..64).for_each(|c| cols[c * rwords + rb] = 0);
                    continue;
                }
                transpose64(&mut block);
                for (c, &word) in block.iter().enumerate() {
                    cols[c * rwords + rb] = word;
                }
            }
            let ncols = ((self.x1 - self.x0) as usize - 64 * k).min(64);
            for c in 0..ncols {
                f(self.x0 + (64 * k + c) as u32, &cols[c * rwords..(c + 1) * rwords]);
            }
        }
    }

    /// Row-major full-frame copy, 1 for set pixels (tests, small tools).
    pub fn to_full(&self) -> Vec<u8> {
        let mut out = vec![0u8; self.width as usize * self.height as usize];
        self.for_each_run(|y, a, b| {
            let base = y as usize * self.width as usize;
            out[base + a as usize..base + b as usize].fill(1);
        });
        out
    }

    /// The union of several masks of one image size.
    pub fn union<'a>(width: u32, height: u32, masks: impl IntoIterator<Item = &'a Mask>) -> Result<Mask> {
        let masks: Vec<&Mask> = masks.into_iter().collect();
        if let Some(m) = masks.iter().find(|m| m.width != width || m.height != height) {
            return Err(Error::invalid(
                "mask union",
                format!("a {}x{} mask among {width}x{height} masks", m.width, m.height),
            ));
        }
        let live: Vec<&Mask> = masks.into_iter().filter(|m| !m.is_empty()).collect();
        let Some(x0) = live.iter().map(|m| m.x0).min() else { return Ok(Mask::empty(width, height)) };
        let y0 = live.iter().map(|m| m.y0).min().unwrap_or(0);
        let x1 = live.iter().map(|m| m.x1).max().unwrap_or(0);
        let y1 = live.iter().map(|m| m.y1).max().unwrap_or(0);
        let stride = words_for((x1 - x0) as usize);
        let mut bits = vec![0u64; stride * (y1 - y0) as usize];
        for m in live {
            let len = (m.x1 - m.x0) as usize;
            for y in m.y0..m.y1 {
                let r = (y - y0) as usize;
                or_shifted(&mut bits[r * stride..(r + 1) * stride], m.row_words(y), len, (m.x0 - x0) as usize);
            }
        }
        Ok(Mask::from_region(width, height, [x0, y0, x1, y1], stride, &bits))
    }
}

/// Packs booleans into words, bit `i` of word `k` = item `64k + i`.
pub(crate) fn pack_row(items: impl Iterator<Item = bool>, dst: &mut [u64]) {
    for (i, v) in items.enumerate() {
        dst[i / 64] |= u64::from(v) << (i % 64);
    }
}

fn first_set(words: &[u64]) -> Option<usize> {
    words.iter().position(|&w| w != 0).map(|k| 64 * k + words[k].trailing_zeros() as usize)
}

fn last_set(words: &[u64]) -> Option<usize> {
    words.iter().rposition(|&w| w != 0).map(|k| 64 * k + 63 - words[k].leading_zeros() as usize)
}

/// Copies `len` bits starting at bit `start` of `src` into `dst` (from bit 0), clearing bits past `len`.
fn extract_bits(src: &[u64], start: usize, len: usize, dst: &mut [u64]) {
    let (w0, s) = (start / 64, start % 64);
    for (k, d) in dst.iter_mut().enumerate().take(words_for(len)) {
        let lo = src.get(w0 + k).copied().unwrap_or(0) >> s;
        let hi = if s == 0 { 0 } else { src.get(w0 + k + 1).copied().unwrap_or(0) << (64 - s) };
        let keep = len - 64 * k;
        *d = if keep >= 64 { lo | hi } else { (lo | hi) & ((1u64 << keep) - 1) };
    }
}

/// ORs the first `len` bits of `src` into `dst` starting at bit `offset`.
fn or_shifted(dst: &mut [u64], src: &[u64], len: usize, offset: usize) {
    let (w0, s) = (offset / 64, offset % 64);
    for (k, &word) in src.iter().enumerate().take(words_for(len)) {
        dst[w0 + k] |= word << s;
        if s != 0 && word >> (64 - s) != 0 {
            dst[w0 + k + 1] |= word >> (64 - s);
        }
    }
}

/// Set bits among bits `[a, b)`.
fn count_range(words: &[u64], a: usize, b: usize) -> u64 {
    let (wa, wb) = (a / 64, (b - 1) / 64);
    let lo_mask = !0u64 << (a % 64);
    let hi_mask = !0u64 >> (63 - (b - 1) % 64);
    if wa == wb {
        return u64::from((words[wa] & lo_mask & hi_mask).count_ones());
    }
    let middle: u64 = words[wa + 1..wb].iter().map(|w| u64::from(w.count_ones())).sum();
    u64::from((words[wa] & lo_mask).count_ones()) + middle + u64::from((words[wb] & hi_mask).count_ones())
}

/// Calls `f(start, end)` for each run of set bits among the first `len` bits, in order.
pub(crate) fn for_each_run(words: &[u64], len: usize, mut f: impl FnMut(usize, usize)) {
    let mut start: Option<usize> = None;
    for (k, &word) in words.iter().enumerate() {
        let base = 64 * k;
        if base >= len {
            break;
        }
        // Walk the word's transitions; skip whole words that continue the current state.
        let mut w = word;
        let mut pos = 0u32;
        loop {
            match start {
                None => {
                    if w == 0 {
                        break;
                    }
                    let tz = w.trailing_zeros();
                    pos += tz;
                    w >>= tz;
                    start = Some(base + pos as usize);
                }
                Some(s) => {
                    let ones = w.trailing_ones();
                    if pos + ones >= 64 {
                        break;
                    }
                    pos += ones;
                    w >>= ones;
                    f(s, base + pos as usize);
                    start = None;
                }
            }
        }
    }
    if let Some(s) = start {
        f(s, len);
    }
}

/// In-place transpose of a 64×64 bit matrix (row `i` = word `i`, column `j` = bit `j`).
fn transpose64(a: &mut [u64; 64]) {
    let mut j = 32usize;
    let mut m = 0x0000_0000_FFFF_FFFFu64;
    while j != 0 {
        let mut k = 0usize;
        while k < 64 {
            let t = ((a[k] >> j) ^ a[k + j]) & m;
            a[k] ^= t << j;
            a[k + j] ^= t;
            k = (k + j + 1) & !j;
        }
        j >>= 1;
        m ^= m << j;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(w: u32, h: u32, seed: u32) -> Vec<u8> {
        (0..w * h).map(|i| u8::from((i.wrapping_mul(2654435761) ^ seed).rotate_left(7) % 5 < 2)).collect()
    }

    #[test]
    fn transpose_matches_definition() {
        let mut a = [0u64; 64];
        for (i, w) in a.iter_mut().enumerate() {
            *w = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(i as u32);
        }
        let orig = a;
        transpose64(&mut a);
        for (i, row) in orig.iter().enumerate() {
            for (j, col) in a.iter().enumerate() {
                assert_eq!(col >> i & 1, row >> j & 1, "bit ({i},{j})");
            }
        }
    }

    #[test]
    fn queries_agree_with_full_frame() {
        for (w, h, seed) in [(1, 1, 1), (7, 3, 2), (64, 5, 3), (65, 9, 4), (130, 70, 5), (200, 1, 6)] {
            let full = pattern(w, h, seed);
            let m = Mask::from_full(w, h, &full).unwrap();
            assert_eq!(m.to_full(), full);
            assert_eq!(m.area(), full.iter().map(|&v| u64::from(v)).sum::<u64>());
            for y in 0..h {
                for x in 0..w {
                    assert_eq!(m.get(x, y), full[(y * w + x) as usize] == 1);
                }
            }
            for (x1, y1, x2, y2) in [(0, 0, w, h), (1, 0, w / 2 + 1, h), (3, 1, 70, 2), (w, h, w + 3, h + 1)] {
                let want: u64 = (y1..y2.min(h))
                    .flat_map(|y| (x1..x2.min(w)).map(move |x| (x, y)))
                    .map(|(x, y)| u64::from(full[(y * w + x) as usize]))
                    .sum();
                assert_eq!(m.count_in_rect(x1, y1, x2, y2), want, "{w}x{h} rect {x1},{y1},{x2},{y2}");
            }
        }
    }

    #[test]
    fn tight_bbox_and_union() {
        let (w, h) = (100u32, 80u32);
        let mut a = vec![0u8; 8000];
        let mut b = vec![0u8; 8000];
        a[10 * 100 + 70] = 1;
        a[12 * 100 + 3] = 1;
        b[60 * 100 + 99] = 1;
        let (ma, mb) = (Mask::from_full(w, h, &a).unwrap(), Mask::from_full(w, h, &b).unwrap());
        assert_eq!(ma.bbox(), Some([3, 10, 71, 13]));
        let u = Mask::union(w, h, [&ma, &mb, &Mask::empty(w, h)]).unwrap();
        assert_eq!(u.bbox(), Some([3, 10, 100, 61]));
        let want: Vec<u8> = a.iter().zip(&b).map(|(x, y)| x | y).collect();
        assert_eq!(u.to_full(), want);
        assert!(Mask::union(w, h, [&Mask::empty(w + 1, h)]).is_err());
    }

    #[test]
    fn columns_match_pixels() {
        let (w, h) = (150u32, 130u32);
        let full = pattern(w, h, 9);
        let m = Mask::from_full(w, h, &full).unwrap();
        let [x0, y0, x1, _] = m.bbox().unwrap();
        let mut seen = x0;
        m.for_each_column(|x, col| {
            assert_eq!(x, seen);
            seen += 1;
            for y in y0..m.y1 {
                let bit = col[((y - y0) / 64) as usize] >> ((y - y0) % 64) & 1;
                assert_eq!(bit == 1, full[(y * w + x) as usize] == 1, "({x},{y})");
            }
        });
        assert_eq!(seen, x1);
    }
}
