//! Overlap of detections with ground truths as pycocotools' `maskUtils.iou` computes it (`bbIou`, `rleIou`,
//! `rleMerge` in `maskApi.c`): intersection over union, except against a crowd ground truth, where it is
//! intersection over the detection's own area. Masks are compared only where their boxes overlap, and a mask
//! of another image size gets -1, as pycocotools does.

use crate::output::rle::Rle;

/// Box `[x, y, w, h]` IoU (`bbIou`); `crowd`: intersection over the detection box's area.
pub fn box_iou(d: &[f64; 4], g: &[f64; 4], crowd: bool) -> f64 {
    let w = (d[2] + d[0]).min(g[2] + g[0]) - d[0].max(g[0]);
    if w <= 0.0 {
        return 0.0;
    }
    let h = (d[3] + d[1]).min(g[3] + g[1]) - d[1].max(g[1]);
    if h <= 0.0 {
        return 0.0;
    }
    let i = w * h;
    let (da, ga) = (d[2] * d[3], g[2] * g[3]);
    let u = if crowd { da } else { da + ga - i };
    i / u
}

/// Walks two RLEs' runs together, calling `f(run length, in a, in b)` for every piece (`rleIou`'s loop).
fn for_each_overlap(a: &Rle, b: &Rle, mut f: impl FnMut(u32, bool, bool)) {
    let (mut ca, mut cb) = (a.counts.first().copied().unwrap_or(0), b.counts.first().copied().unwrap_or(0));
    let (mut va, mut vb) = (false, false);
    let (mut ia, mut ib) = (1usize, 1usize);
    let mut ct = 1u32;
    while ct > 0 {
        let c = ca.min(cb);
        f(c, va, vb);
        ct = 0;
        ca -= c;
        if ca == 0 && ia < a.counts.len() {
            ca = a.counts[ia];
            ia += 1;
            va = !va;
        }
        ct = ct.wrapping_add(ca);
        cb -= c;
        if cb == 0 && ib < b.counts.len() {
            cb = b.counts[ib];
            ib += 1;
            vb = !vb;
        }
        ct = ct.wrapping_add(cb);
    }
}

/// Mask IoU (`rleIou` for one pair); `boxes` are the pair's `toBbox` boxes, computed once per RLE by the caller.
pub fn mask_iou(d: &Rle, d_box: &[f64; 4], g: &Rle, g_box: &[f64; 4], crowd: bool) -> f64 {
    if box_iou(d_box, g_box, crowd) <= 0.0 {
        return 0.0;
    }
    if d.height != g.height || d.width != g.width {
        return -1.0;
    }
    let (mut i, mut u) = (0u32, 0u32);
    for_each_overlap(d, g, |c, va, vb| {
        if va || vb {
            u = u.wrapping_add(c);
            if va && vb {
                i = i.wrapping_add(c);
            }
        }
    });
    if i == 0 {
        u = 1;
    } else if crowd {
        u = d.area() as u32;
    }
    f64::from(i) / f64::from(u)
}

/// The union of RLEs of one image size (`rleMerge` with `intersect = 0`, what `COCO.annToRLE` does with the
/// parts of a polygon annotation). A part of another size makes pycocotools return an empty 0×0 RLE.
pub fn union(parts: &[Rle]) -> Rle {
    let Some(first) = parts.first() else { return Rle { height: 0, width: 0, counts: Vec::new() } };
    let mut merged = first.clone();
    for b in &parts[1..] {
        if b.height != first.height || b.width != first.width {
            return Rle { height: 0, width: 0, counts: Vec::new() };
        }
        let a = &merged;
        let mut counts = Vec::new();
        let (mut ca, mut cb) = (a.counts.first().copied().unwrap_or(0), b.counts.first().copied().unwrap_or(0));
        let (mut v, mut va, mut vb) = (false, false, false);
        let (mut ia, mut ib, mut cc, mut ct) = (1usize, 1usize, 0u32, 1u32);
        while ct > 0 {
            let c = ca.min(cb);
            cc = cc.wrapping_add(c);
            ca -= c;
            if ca == 0 && ia < a.counts.len() {
                ca = a.counts[ia];
                ia += 1;
                va = !va;
            }
            cb -= c;
            if cb == 0 && ib < b.counts.len() {
                cb = b.counts[ib];
                ib += 1;
                vb = !vb;
            }
            ct = ca.wrapping_add(cb);
            // `v` is the union over the piece that starts now: a count ends where it differs from the last.
            let vp = v;
            v = va || vb;
            if v != vp || ct == 0 {
                counts.push(cc);
                cc = 0;
            }
        }
        merged = Rle { height: first.height, width: first.width, counts };
    }
    merged
}
