//! COCO polygons (and boxes) to RLE exactly as pycocotools' `rleFrPoly` does it (`maskApi.c`), so ground truths
//! given as polygons cover the same pixels as under `COCOeval`: vertices are scaled by 5 and rounded, the
//! outline is walked densely, and a pixel column starts/stops a run where the up-sampled outline crosses it.
//! Integer conversions follow C's truncation on x86-64 (`cvttsd2si`: NaN and out-of-range give `i32::MIN`).

use crate::output::rle::Rle;

const SCALE: f64 = 5.0;

/// C's `(int)` of a double as x86-64 computes it.
fn c_int(x: f64) -> i32 {
    if x.is_nan() || x >= 2_147_483_648.0 || x <= -2_147_483_649.0 {
        i32::MIN
    } else {
        x as i32
    }
}

/// pycocotools `rleFrPoly(R, xy, k, h, w)` with `k = xy.len() / 2` vertices.
pub fn polygon_to_rle(xy: &[f64], height: u32, width: u32) -> Rle {
    let k = xy.len() / 2;
    let (h, w) = (height, width);
    let mut x: Vec<i32> = (0..k).map(|j| c_int(SCALE * xy[2 * j] + 0.5)).collect();
    let mut y: Vec<i32> = (0..k).map(|j| c_int(SCALE * xy[2 * j + 1] + 0.5)).collect();
    if k > 0 {
        x.push(x[0]);
        y.push(y[0]);
    }
    // Every integer point along the scaled outline, segment by segment.
    let (mut u, mut v): (Vec<i32>, Vec<i32>) = (Vec::new(), Vec::new());
    for j in 0..k {
        let (mut xs, mut xe, mut ys, mut ye) = (x[j], x[j + 1], y[j], y[j + 1]);
        let dx = xe.wrapping_sub(xs).wrapping_abs();
        let dy = ys.wrapping_sub(ye).wrapping_abs();
        let flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
        if flip {
            std::mem::swap(&mut xs, &mut xe);
            std::mem::swap(&mut ys, &mut ye);
        }
        let s = if dx >= dy { f64::from(ye - ys) / f64::from(dx) } else { f64::from(xe - xs) / f64::from(dy) };
        if dx >= dy {
            for d in 0..=dx {
                let t = if flip { dx - d } else { d };
                u.push(t + xs);
                v.push(c_int(f64::from(ys) + s * f64::from(t) + 0.5));
            }
        } else {
            for d in 0..=dy {
                let t = if flip { dy - d } else { d };
                v.push(t + ys);
                u.push(c_int(f64::from(xs) + s * f64::from(t) + 0.5));
            }
        }
    }
    // Where the outline crosses a pixel column's centre: that column's run boundary (down-sampled back).
    let mut points: Vec<u32> = Vec::new();
    for j in 1..u.len() {
        if u[j] == u[j - 1] {
            continue;
        }
        let xd = f64::from(if u[j] < u[j - 1] { u[j] } else { u[j] - 1 });
        let xd = (xd + 0.5) / SCALE - 0.5;
        if xd.floor() != xd || xd < 0.0 || xd > f64::from(w.wrapping_sub(1)) {
            continue;
        }
        let yd = f64::from(if v[j] < v[j - 1] { v[j] } else { v[j - 1] });
        let mut yd = (yd + 0.5) / SCALE - 0.5;
        if yd < 0.0 {
            yd = 0.0;
        } else if yd > f64::from(h) {
            yd = f64::from(h);
        }
        let yd = yd.ceil();
        points.push((c_int(xd).wrapping_mul(h as i32).wrapping_add(c_int(yd))) as u32);
    }
    points.push(h.wrapping_mul(w));
    points.sort_unstable();
    let mut previous = 0u32;
    for p in points.iter_mut() {
        let t = *p;
        *p = p.wrapping_sub(previous);
        previous = t;
    }
    // Zero-length runs fold the next run into the previous one.
    let mut counts: Vec<u32> = Vec::with_capacity(points.len());
    let mut j = 0;
    counts.push(points[j]);
    j += 1;
    while j < points.len() {
        if points[j] > 0 {
            counts.push(points[j]);
            j += 1;
        } else {
            j += 1;
            if j < points.len() {
                *counts.last_mut().expect("non-empty") += points[j];
                j += 1;
            }
        }
    }
    Rle { height, width, counts }
}

/// pycocotools `rleFrBbox`: the box `[x, y, w, h]` as the polygon of its four corners.
pub fn box_to_rle(bbox: [f64; 4], height: u32, width: u32) -> Rle {
    let [xs, ys, bw, bh] = bbox;
    let (xe, ye) = (xs + bw, ys + bh);
    polygon_to_rle(&[xs, ys, xs, ye, xe, ye, xe, ys], height, width)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_axis_aligned_square_covers_its_pixels() {
        // Corners on pixel boundaries -0.5 ... pixel centres 1..=3 in x and y.
        let rle = polygon_to_rle(&[0.5, 0.5, 3.5, 0.5, 3.5, 3.5, 0.5, 3.5], 5, 5);
        let mask = rle.decode().unwrap();
        assert_eq!(mask.area(), 9);
        assert_eq!(mask.bbox(), Some([1, 1, 4, 4]));
    }
}
