//! Synthetic FastSAM network outputs, bit-identical to `tools/golden/postprocess.py` (`synth_preds`,
//! `synth_proto`): the goldens store only the reference's outputs, and the inputs are regenerated here.
//! Included by the other postprocess tests with `#[path]`; as its own test target it checks the hash.

#![allow(dead_code)]

use fastsam::Tensor;

pub const NM: usize = 32;

fn lowbias32(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7FEB_352D);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846C_A68B);
    x ^= x >> 16;
    x
}

/// `h = 0x243F6A88; for v in vals: h = lowbias32(h ^ v)`.
pub fn mix(vals: &[u64]) -> u64 {
    u64::from(vals.iter().fold(0x243F_6A88u32, |h, &v| lowbias32(h ^ v as u32)))
}

fn py_round(x: f64) -> i64 {
    x.round_ties_even() as i64
}

/// The reference LetterBox(auto=True): input (h, w), content (h, w) and (top, left) padding.
pub fn letterbox_geometry(h: usize, w: usize) -> ((usize, usize), (usize, usize), (usize, usize)) {
    let r = (1024.0 / h as f64).min(1024.0 / w as f64);
    let new_w = py_round(w as f64 * r).max(1) as usize;
    let new_h = py_round(h as f64 * r).max(1) as usize;
    let (dw, dh) = ((1024 - new_w) % 32, (1024 - new_h) % 32);
    let top = py_round(dh as f64 / 2.0 - 0.1) as usize;
    let left = py_round(dw as f64 / 2.0 - 0.1) as usize;
    ((new_h + dh, new_w + dw), (new_h, new_w), (top, left))
}

/// (1, 4+1+32, A) predictions and the letterboxed input size.
pub fn synth_preds(seed: u64, h: usize, w: usize, n_objects: usize) -> (Tensor, (usize, usize)) {
    let ((hin, win), (new_h, new_w), (top, left)) = letterbox_geometry(h, w);
    let a_total: usize = [8, 16, 32].iter().map(|s| (hin / s) * (win / s)).sum();
    let rows = 4 + 1 + NM;
    let mut p = vec![0f64; rows * a_total];
    for a in 0..a_total {
        let au = a as u64;
        let at = |r: usize| r * a_total + a;
        p[at(0)] = (mix(&[seed, 2, au]) % (4 * win as u64)) as f64 / 4.0;
        p[at(1)] = (mix(&[seed, 3, au]) % (4 * hin as u64)) as f64 / 4.0;
        p[at(2)] = (mix(&[seed, 4, au]) % 1600 + 4) as f64 / 4.0;
        p[at(3)] = (mix(&[seed, 5, au]) % 1600 + 4) as f64 / 4.0;
        p[at(4)] = (mix(&[seed, 1, au]) % 1600) as f64 / 4096.0;
        for j in 0..NM {
            p[at(5 + j)] = ((mix(&[seed, 6, au, j as u64]) % 2001) as f64 - 1000.0) / 1024.0;
        }
    }
    let (cx0, cy0, cw, ch) = (4 * left as i64, 4 * top as i64, 4 * new_w as i64, 4 * new_h as i64);
    for k in 0..n_objects as u64 {
        let kind = k % 8;
        let r: Vec<i64> = (0..8).map(|i| mix(&[seed, 10, k, i]) as i64).collect();
        let (x1, y1, x2, y2) = match kind {
            0 => (cx0 + r[0] % 24, cy0 + r[1] % 24, cx0 + cw - r[2] % 24, cy0 + ch - r[3] % 24),
            1 => {
                let (x1, y1) = (cx0 + r[0] % 120, cy0 + r[1] % 120);
                (x1, y1, x1 + 200 + r[2] % (cw / 2), y1 + 200 + r[3] % (ch / 2))
            }
            2 => {
                let (x2, y2) = (cx0 + cw + 60 - r[0] % 160, cy0 + ch + 60 - r[1] % 160);
                (x2 - 200 - r[2] % (cw / 2), y2 - 200 - r[3] % (ch / 2), x2, y2)
            }
            7 => {
                let (x1, y1) = (cx0 + cw + 8 + r[0] % 40, cy0 + r[1] % (ch / 2));
                (x1, y1, x1 + 40 + r[2] % 200, y1 + 40 + r[3] % 200)
            }
            _ => {
                let d = 1 + (kind % 3) as i64;
                let (bw, bh) = (40 + r[2] % (cw / d), 40 + r[3] % (ch / d));
                let (x1, y1) = (cx0 + r[0] % (cw - bw).max(1), cy0 + r[1] % (ch - bh).max(1));
                (x1, y1, x1 + bw, y1 + bh)
            }
        };
        let base: Vec<f64> =
            (0..NM).map(|j| ((mix(&[seed, 13, k, j as u64]) % 2001) as f64 - 1000.0) / 1024.0).collect();
        let n_anchors = 1 + r[4] % 4;
        for i in 0..n_anchors as u64 {
            let q: Vec<i64> = (0..6).map(|t| mix(&[seed, 11, k, i, t]) as i64).collect();
            let anchor = (q[0] % a_total as i64) as usize;
            let amp = if i % 2 == 0 { 9 } else { 161 };
            let j: Vec<i64> = (1..5).map(|t| q[t] % amp - amp / 2).collect();
            let (bx1, by1, mut bx2, mut by2) = (x1 + j[0], y1 + j[1], x2 + j[2], y2 + j[3]);
            if bx2 <= bx1 + 4 {
                bx2 = bx1 + 8;
            }
            if by2 <= by1 + 4 {
                by2 = by1 + 8;
            }
            let at = |r: usize| r * a_total + anchor;
            p[at(0)] = (bx1 + bx2) as f64 / 8.0;
            p[at(1)] = (by1 + by2) as f64 / 8.0;
            p[at(2)] = (bx2 - bx1) as f64 / 4.0;
            p[at(3)] = (by2 - by1) as f64 / 4.0;
            p[at(4)] = match q[5] % 16 {
                0 => 0.75,
                1 => f64::from(0.4f32),
                2 => f64::from(f32::from_bits(0.4f32.to_bits() + 1)),
                _ => (2048 + q[5] % 2048) as f64 / 4096.0,
            };
            for (jj, b) in base.iter().enumerate() {
                p[at(5 + jj)] = b + ((mix(&[seed, 14, k, i, jj as u64]) % 17) as f64 - 8.0) / 4096.0;
            }
        }
    }
    (Tensor::new(vec![1, rows, a_total], p.into_iter().map(|v| v as f32).collect()), (hin, win))
}

/// (1, 32, mh, mw) prototypes: integer bilinear blend of a coarse random lattice, / 2^18.
pub fn synth_proto(seed: u64, mh: usize, mw: usize) -> Tensor {
    const STEP: i64 = 16;
    let mut out = Vec::with_capacity(NM * mh * mw);
    for c in 0..NM as u64 {
        let v = |i: i64, j: i64| (mix(&[seed, 20, c, i as u64, j as u64]) % 2001) as i64 - 1000;
        for y in 0..mh as i64 {
            for x in 0..mw as i64 {
                let (iy, dy, ix, dx) = (y / STEP, y % STEP, x / STEP, x % STEP);
                let num = v(iy, ix) * (STEP - dy) * (STEP - dx)
                    + v(iy, ix + 1) * (STEP - dy) * dx
                    + v(iy + 1, ix) * dy * (STEP - dx)
                    + v(iy + 1, ix + 1) * dy * dx;
                out.push((num as f64 / (STEP * STEP * 1024) as f64) as f32);
            }
        }
    }
    Tensor::new(vec![1, NM, mh, mw], out)
}

#[test]
fn hash_matches_python() {
    // Values printed by tools/golden/postprocess.py's mix().
    assert_eq!(mix(&[1, 2, 3]), 3838194809);
    assert_eq!(mix(&[7, 11, 0, 0, 0]), 1608632116);
    assert_eq!(mix(&[0]), 556574340);
}
