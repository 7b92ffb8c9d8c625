//! Label Studio's brush RLE (`"format": "rle"`): the mask flattened as RGBA bytes (255 inside, 0 outside, on all
//! four channels), run-length coded in the bit format of thi.ng's `rle-pack`, which Label Studio's front end
//! decodes and `label_studio_sdk.converter.brush.decode_rle` reads back. Not COCO RLE.
//!
//! Bit layout (most significant bit first): 32 bits value count, 5 bits word size − 1, four 4-bit run-length
//! field sizes − 1; then blocks of `flag(1) size_index(2) length−1(size bits)` followed by one word (flag 1: a
//! run of equal words) or `length` words (flag 0: literal words). The encoder writes what the SDK's
//! `encode_rle` writes, bit for bit (word size 8, field sizes 3, 4, 8, 16), including its trailing padding.

use fastsam::mask::Mask;

const WORD_BITS: u32 = 8;
const RUN_FIELD_BITS: [u32; 4] = [3, 4, 8, 16];
/// Longest run one block can hold (16-bit length field).
const MAX_RUN: u64 = 1 << 16;

#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    bits: u64,
}

impl BitWriter {
    fn push(&mut self, value: u64, width: u32) {
        for i in (0..width).rev() {
            if self.bits % 8 == 0 {
                self.bytes.push(0);
            }
            if (value >> i) & 1 == 1 {
                let last = self.bytes.len() - 1;
                self.bytes[last] |= 0x80 >> (self.bits % 8);
            }
            self.bits += 1;
        }
    }
}

/// `mask` in Label Studio's brush RLE, as the list of byte values its JSON carries.
pub fn encode(mask: &Mask) -> Vec<u8> {
    let channels = 4u64;
    let total = u64::from(mask.width()) * u64::from(mask.height()) * channels;
    let mut w = BitWriter::default();
    w.push(total, 32);
    w.push(u64::from(WORD_BITS - 1), 5);
    for bits in RUN_FIELD_BITS {
        w.push(u64::from(bits - 1), 4);
    }
    // Runs of RGBA values: gaps (0) and mask runs (255), each pixel contributing 4 equal values.
    let width = u64::from(mask.width());
    let mut at = 0u64;
    let mut runs = Vec::new();
    mask.for_each_run(|y, a, b| {
        let start = (u64::from(y) * width + u64::from(a)) * channels;
        let end = (u64::from(y) * width + u64::from(b)) * channels;
        if start > at {
            runs.push((start - at, 0u8));
        }
        // Consecutive rows' runs that touch (a run ending a row, the next starting its row) are one run.
        match runs.last_mut() {
            Some((len, 255)) if start == at => *len += end - start,
            _ => runs.push((end - start, 255u8)),
        }
        at = end;
    });
    if total > at {
        runs.push((total - at, 0));
    }
    for (len, value) in runs {
        write_run(&mut w, len, value);
    }
    // The SDK always pads to the next whole byte, adding a full zero byte when already aligned.
    let pad = 8 - (w.bits % 8) as u32;
    w.push(0, pad);
    w.bytes
}

fn write_run(w: &mut BitWriter, mut len: u64, value: u8) {
    if len == 1 {
        w.push(0, 1);
        w.push(0, 2);
        w.push(0, RUN_FIELD_BITS[0]);
        w.push(u64::from(value), WORD_BITS);
        return;
    }
    while len > MAX_RUN {
        block(w, 3, MAX_RUN, value);
        len -= MAX_RUN;
    }
    let index = RUN_FIELD_BITS.iter().position(|&bits| len <= 1 << bits).unwrap_or(3);
    block(w, index, len, value);
}

fn block(w: &mut BitWriter, index: usize, len: u64, value: u8) {
    w.push(1, 1);
    w.push(index as u64, 2);
    w.push(len - 1, RUN_FIELD_BITS[index]);
    w.push(u64::from(value), WORD_BITS);
}

struct BitReader<'a> {
    bytes: &'a [u8],
    bit: usize,
}

impl BitReader<'_> {
    fn read(&mut self, width: u32) -> Result<u64, String> {
        let mut v = 0u64;
        for _ in 0..width {
            let byte = self.bytes.get(self.bit / 8).ok_or("the RLE ends in the middle of a block")?;
            v = (v << 1) | u64::from((byte >> (7 - self.bit % 8)) & 1);
            self.bit += 1;
        }
        Ok(v)
    }
}

/// Decodes any `rle-pack` stream to its values (RGBA bytes for a brush region); the inverse of [`encode`],
/// for checks and tools.
pub fn decode(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut r = BitReader { bytes, bit: 0 };
    let count = r.read(32)? as usize;
    let word = r.read(5)? as u32 + 1;
    if word > 8 {
        return Err(format!("word size {word} bits: brush RLE holds bytes"));
    }
    let mut sizes = [0u32; 4];
    for s in &mut sizes {
        *s = r.read(4)? as u32 + 1;
    }
    // Bounded by the input: every block takes at least 4 bits.
    if count > bytes.len().saturating_mul(2 * (1 << 16)) {
        return Err(format!("{count} values cannot come from {} bytes", bytes.len()));
    }
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        let run = r.read(1)? == 1;
        let index = r.read(2)? as usize;
        let len = (r.read(sizes[index])? as usize + 1).min(count - out.len());
        if run {
            let v = r.read(word)? as u8;
            out.resize(out.len() + len, v);
        } else {
            for _ in 0..len {
                out.push(r.read(word)? as u8);
            }
        }
    }
    Ok(out)
}

/// The mask of a decoded brush region: pixels whose alpha value is non-zero (as the SDK's
/// `decode_from_annotation` reads the alpha channel).
pub fn decode_mask(bytes: &[u8], width: u32, height: u32) -> Result<Mask, String> {
    let values = decode(bytes)?;
    let pixels = width as usize * height as usize;
    if values.len() != pixels * 4 {
        return Err(format!("{} values for a {width}x{height} RGBA image", values.len()));
    }
    let alpha: Vec<u8> = values.chunks_exact(4).map(|p| u8::from(p[3] != 0)).collect();
    Mask::from_full(width, height, &alpha).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(width: u32, height: u32, on: impl Fn(u32, u32) -> bool) -> Mask {
        let px: Vec<u8> =
            (0..height).flat_map(|y| (0..width).map(move |x| (x, y))).map(|(x, y)| u8::from(on(x, y))).collect();
        Mask::from_full(width, height, &px).unwrap()
    }

    #[test]
    fn round_trips_edge_cases() {
        let cases = [
            mask(7, 5, |_, _| false),
            mask(7, 5, |_, _| true),
            mask(7, 5, |x, y| (x + y) % 3 == 0),
            // Rows whose runs touch across the row boundary, and runs longer than one 16-bit block.
            mask(300, 300, |x, _| x >= 150),
            mask(300, 300, |x, y| x > 10 && y > 5),
        ];
        for m in cases {
            let back = decode_mask(&encode(&m), m.width(), m.height()).unwrap();
            assert_eq!(back, m);
        }
    }

    #[test]
    fn truncated_streams_are_errors() {
        let m = mask(9, 9, |x, _| x < 4);
        let rle = encode(&m);
        assert!(decode(&rle[..rle.len() - 3]).is_err());
        assert!(decode_mask(&rle, 9, 8).is_err());
    }
}
