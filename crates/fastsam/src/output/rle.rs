//! COCO run-length encoding, as pycocotools 2.0 writes and reads it.
//!
//! Runs are taken over the mask in column-major (Fortran) order, alternating 0-runs and 1-runs and starting
//! with a 0-run (0 long if the first pixel is set). The compressed string (`rleToString`) stores each count,
//! minus the count two places earlier for the 4th count on (`i > 2`), as little-endian 5-bit groups with a
//! continuation bit (0x20), a sign bit (0x10) on the last group, each group + 48 as an ASCII character.

use crate::mask::{for_each_run, Mask};
use crate::{Error, Result};

/// A COCO RLE: image size and run lengths (column-major, starting with zeros).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rle {
    pub height: u32,
    pub width: u32,
    pub counts: Vec<u32>,
}

impl Rle {
    /// The RLE of a mask, without materialising the full image: columns outside the mask's box are one
    /// zero-run, and the box's columns are read 64 at a time from bit-transposed blocks.
    pub fn encode(mask: &Mask) -> Rle {
        let (w, h) = (mask.width(), mask.height());
        let total = u64::from(w) * u64::from(h);
        let mut counts = Vec::new();
        // `end` = linear position just past the last 1-run written so far.
        let mut end = 0u64;
        if let Some([_, y0, _, _]) = mask.bbox() {
            let rows = mask.bbox().map_or(0, |b| b[3] - b[1]) as usize;
            mask.for_each_column(|x, col| {
                let base = u64::from(x) * u64::from(h) + u64::from(y0);
                for_each_run(col, rows, |a, b| {
                    let (start, stop) = (base + a as u64, base + b as u64);
                    if start == end && !counts.is_empty() {
                        // Continues the previous 1-run across a column boundary.
                        *counts.last_mut().expect("non-empty") += (stop - start) as u32;
                    } else {
                        counts.push((start - end) as u32);
                        counts.push((stop - start) as u32);
                    }
                    end = stop;
                });
            });
        }
        if end < total || counts.is_empty() {
            counts.push((total - end) as u32);
        }
        Rle { height: h, width: w, counts }
    }

    /// Parses pycocotools' compressed counts string.
    pub fn from_string(height: u32, width: u32, s: &str) -> Result<Rle> {
        let bad = |why: String| Error::invalid("COCO RLE", why);
        let bytes = s.as_bytes();
        let mut counts: Vec<u32> = Vec::new();
        let mut p = 0;
        while p < bytes.len() {
            let (mut x, mut k, mut more) = (0i64, 0u32, true);
            while more {
                let c = i64::from(*bytes.get(p).ok_or_else(|| bad(format!("{s:?} ends inside a count")))?) - 48;
                if !(0..64).contains(&c) || k > 12 {
                    return Err(bad(format!("{s:?}: bad character at {p}")));
                }
                x |= (c & 0x1f) << (5 * k);
                more = c & 0x20 != 0;
                p += 1;
                k += 1;
                if !more && c & 0x10 != 0 {
                    // Sign extension; past 64 bits there is nothing left to extend (a plain shift would overflow).
                    x |= (-1i64).checked_shl(5 * k).unwrap_or(0);
                }
            }
            if counts.len() > 2 {
                // A 13-character count fills the i64, so the delta can overflow: that count is out of range.
                x = x
                    .checked_add(i64::from(counts[counts.len() - 2]))
                    .ok_or_else(|| bad(format!("{s:?}: count out of range at {p}")))?;
            }
            counts.push(u32::try_from(x).map_err(|_| bad(format!("{s:?}: count {x} out of range")))?);
        }
        Ok(Rle { height, width, counts })
    }

    /// pycocotools' compressed counts string.
    pub fn to_coco_string(&self) -> String {
        let mut s = String::new();
        for (i, &c) in self.counts.iter().enumerate() {
            let mut x = i64::from(c);
            if i > 2 {
                x -= i64::from(self.counts[i - 2]);
            }
            loop {
                let mut c = (x & 0x1f) as u8;
                x >>= 5;
                let more = if c & 0x10 != 0 { x != -1 } else { x != 0 };
                if more {
                    c |= 0x20;
                }
                s.push(char::from(c + 48));
                if !more {
                    break;
                }
            }
        }
        s
    }

    /// The mask. The counts must cover the image exactly.
    pub fn decode(&self) -> Result<Mask> {
        let (w, h) = (self.width as usize, self.height as usize);
        let total: u64 = self.counts.iter().map(|&c| u64::from(c)).sum();
        if total != (w * h) as u64 {
            return Err(Error::invalid(
                "COCO RLE",
                format!("counts cover {total} pixels of a {}x{} image", self.width, self.height),
            ));
        }
        let mut pixels = vec![0u8; w * h];
        let mut pos = 0usize;
        for (i, &c) in self.counts.iter().enumerate() {
            let c = c as usize;
            if i % 2 == 1 {
                for p in pos..pos + c {
                    // Column-major position → row-major pixel.
                    pixels[(p % h) * w + p / h] = 1;
                }
            }
            pos += c;
        }
        Mask::from_full(self.width, self.height, &pixels)
    }

    /// Set pixels (pycocotools `area`).
    pub fn area(&self) -> u64 {
        self.counts.iter().skip(1).step_by(2).map(|&c| u64::from(c)).sum()
    }

    /// pycocotools `toBbox`: `[x, y, w, h]`. Like pycocotools it ignores a trailing odd count and widens the box
    /// to the full height when a 1-run wraps from one column into the next.
    pub fn to_bbox(&self) -> [f64; 4] {
        let h = u64::from(self.height);
        let m = self.counts.len() / 2 * 2;
        if m == 0 || h == 0 {
            return [0.0; 4];
        }
        let (mut xs, mut ys, mut xe, mut ye) = (u64::from(self.width), h, 0u64, 0u64);
        let (mut cc, mut xp) = (0u64, 0u64);
        for j in 0..m {
            cc += u64::from(self.counts[j]);
            let t = cc.saturating_sub((j % 2) as u64);
            let (y, x) = (t % h, t / h);
            if j % 2 == 0 {
                xp = x;
            } else if xp < x {
                ys = 0;
                ye = h - 1;
            }
            xs = xs.min(x);
            xe = xe.max(x);
            ys = ys.min(y);
            ye = ye.max(y);
        }
        [xs as f64, ys as f64, (xe - xs + 1) as f64, (ye - ys + 1) as f64]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_counts_with_negative_deltas() {
        let r = Rle { height: 300, width: 251, counts: vec![1000, 20, 5, 70000, 3, 2, 5270] };
        let s = r.to_coco_string();
        assert_eq!(Rle::from_string(300, 251, &s).unwrap(), r);
    }

    #[test]
    fn rejects_garbage() {
        assert!(Rle::from_string(2, 2, "\u{7f}").is_err());
        assert!(Rle::from_string(2, 2, "o").is_err(), "ends inside a count");
        assert!(Rle { height: 2, width: 2, counts: vec![3] }.decode().is_err());
    }
}
