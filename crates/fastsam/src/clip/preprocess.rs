//! CLIP image preprocessing exactly as the reference runs it on a PIL image: torchvision `Resize(224, BICUBIC)`
//! (PIL's `Image.resize`, fixed-point, antialiased), `CenterCrop(224)`, `ToTensor`, `Normalize(mean, std)`.

use crate::image::RgbImage;
use crate::mask::Mask;
use crate::{Error, Result, Tensor};

// The reference's decimals, rounded to f32 as torch rounds them.
#[allow(clippy::excessive_precision)]
pub const MEAN: [f32; 3] = [0.48145466, 0.4578275, 0.40821073];
#[allow(clippy::excessive_precision)]
pub const STD: [f32; 3] = [0.26862954, 0.26130258, 0.27577711];

/// Pillow's `PRECISION_BITS` (32 - 8 - 2) for 8-bit resampling.
const PRECISION_BITS: u32 = 22;

/// The reference's text-prompt crop: `orig_img[y1:y2, x1:x2] * mask[y1:y2, x1:x2]` (black outside the mask),
/// with the box already truncated to integers. `None` for an empty box (the reference would fail on it).
pub fn masked_crop(image: &RgbImage, mask: &Mask, [x1, y1, x2, y2]: [u32; 4]) -> Option<RgbImage> {
    let (x2, y2) = (x2.min(image.width), y2.min(image.height));
    if x1 >= x2 || y1 >= y2 {
        return None;
    }
    let (w, h) = ((x2 - x1) as usize, (y2 - y1) as usize);
    let mut data = vec![0u8; w * h * 3];
    for (r, y) in (y1..y2).enumerate() {
        for (a, b) in mask.row_runs(y) {
            let (a, b) = (a.max(x1), b.min(x2));
            if a >= b {
                continue;
            }
            let src = (y as usize * image.width as usize + a as usize) * 3;
            let dst = (r * w + (a - x1) as usize) * 3;
            let len = (b - a) as usize * 3;
            data[dst..dst + len].copy_from_slice(&image.data[src..src + len]);
        }
    }
    RgbImage::new(w as u32, h as u32, data).ok()
}

/// torchvision's `_compute_resized_output_size` for an int size: short side → `size`, long side →
/// `int(size * long / short)`. Returns (width, height).
pub fn resized_size(width: u32, height: u32, size: u32) -> (u32, u32) {
    let (short, long) = if width <= height { (width, height) } else { (height, width) };
    let new_long = (f64::from(size) * f64::from(long) / f64::from(short)) as u32;
    if width <= height {
        (size, new_long)
    } else {
        (new_long, size)
    }
}

/// `Resize(size, BICUBIC)` then `CenterCrop(size)` on the uint8 RGB image: the `size`×`size` RGB bytes, and the
/// resized size and crop offset `[left, top]`.
pub fn resize_center_crop(image: &RgbImage, size: u32) -> Result<(RgbImage, (u32, u32), [u32; 2])> {
    let (w, h) = resized_size(image.width, image.height, size);
    if w == 0 || h == 0 {
        return Err(Error::image("CLIP crop", format!("{}x{} cannot be resized to {size}", image.width, image.height)));
    }
    let resized = resize_bicubic(image, w, h);
    // int(round((H - size) / 2.0)) with Python's half-to-even rounding.
    let offset = |full: u32| -> u32 {
        let twice = full - size;
        let (q, r) = (twice / 2, twice % 2);
        if r == 1 && q % 2 == 1 {
            q + 1
        } else {
            q
        }
    };
    let (left, top) = (offset(w), offset(h));
    let mut data = Vec::with_capacity((size * size * 3) as usize);
    for y in top..top + size {
        let start = ((y * w + left) * 3) as usize;
        data.extend_from_slice(&resized.data[start..start + (size * 3) as usize]);
    }
    Ok((RgbImage::new(size, size, data)?, (w, h), [left, top]))
}

/// `ToTensor` + `Normalize`: CHW fp32 `(x / 255 - mean) / std`, each step rounded to f32 as torch does.
pub fn normalize_into(rgb: &RgbImage, out: &mut Vec<f32>) {
    let plane = rgb.width as usize * rgb.height as usize;
    let base = out.len();
    out.resize(base + 3 * plane, 0.0);
    for (i, px) in rgb.data.chunks_exact(3).enumerate() {
        for c in 0..3 {
            out[base + c * plane + i] = (f32::from(px[c]) / 255.0 - MEAN[c]) / STD[c];
        }
    }
}

/// The reference's whole preprocessing of one crop: a (1, 3, size, size) tensor.
pub fn preprocess(image: &RgbImage, size: u32) -> Result<Tensor> {
    let (rgb, _, _) = resize_center_crop(image, size)?;
    let mut data = Vec::new();
    normalize_into(&rgb, &mut data);
    Ok(Tensor::new(vec![1, 3, size as usize, size as usize], data))
}

/// PIL `Image.resize((w, h), BICUBIC)` of an RGB image (`ImagingResample`): two passes, each in 22-bit fixed
/// point with rounding and clamping to 0..=255, so the order of the passes shows in the pixels; a copy when sizes
/// match.
///
/// Pillow 13 runs the vertical pass first when the height shrinks and loses more than twice as many rows as the
/// width loses columns (a width that grows counts as a negative loss); otherwise the horizontal pass first, over
/// the rows the vertical pass needs (Pillow <= 12 always did; 13's `Image.resize` no longer has 12.x's Python-side
/// "taller than 100 x wide" rule). The rule is python-pillow/Pillow#9549 ("if height is scaled down significantly
/// more than width, resize vertically first", C); its exact condition was measured against Pillow 13.0.0 on 1,443
/// text-prompt crops and edge sizes: `(100, 100) -> (95, 89)` runs vertical first, `(95, 90)` horizontal first;
/// `(100, 100) -> (300, 99)` vertical first, `(300, 150)` horizontal first.
pub fn resize_bicubic(image: &RgbImage, width: u32, height: u32) -> RgbImage {
    resize_bicubic_in_order(image, width, height, vertical_first(image.width, image.height, width, height))
}

/// Pillow 13's pass order for a resize of the whole image from `in_w`x`in_h` to `out_w`x`out_h`.
pub fn vertical_first(in_w: u32, in_h: u32, out_w: u32, out_h: u32) -> bool {
    let lost_rows = i64::from(in_h) - i64::from(out_h);
    let lost_cols = i64::from(in_w) - i64::from(out_w);
    lost_rows > 0 && lost_rows > 2 * lost_cols
}

/// [`resize_bicubic`] with the pass order forced: vertical first when `vertical_first`.
pub fn resize_bicubic_in_order(image: &RgbImage, width: u32, height: u32, vertical_first: bool) -> RgbImage {
    let (iw, ih) = (image.width as usize, image.height as usize);
    let (ow, oh) = (width as usize, height as usize);
    let need_h = ow != iw;
    let need_v = oh != ih;
    let horiz = Coeffs::new(iw, ow);
    let vert = Coeffs::new(ih, oh);
    let data = if vertical_first && need_v {
        let v = vertical_pass(&image.data, iw, &vert, 0);
        if need_h {
            horizontal_pass(&v, iw, 0..oh, &horiz)
        } else {
            v
        }
    } else if need_h {
        let rows = vert.bounds[0].0..vert.bounds[oh - 1].0 + vert.bounds[oh - 1].1;
        let rows = if need_v { rows } else { 0..ih };
        let offset = rows.start;
        let h = horizontal_pass(&image.data, iw, rows, &horiz);
        if need_v {
            vertical_pass(&h, ow, &vert, offset)
        } else {
            h
        }
    } else if need_v {
        vertical_pass(&image.data, iw, &vert, 0)
    } else {
        image.data.clone()
    };
    RgbImage { width, height, data }
}

/// One horizontal pass over `rows` of a `width`-pixel RGB image.
fn horizontal_pass(src: &[u8], width: usize, rows: std::ops::Range<usize>, c: &Coeffs) -> Vec<u8> {
    let ow = c.bounds.len();
    let mut out = vec![0u8; rows.len() * ow * 3];
    for (r, y) in rows.enumerate() {
        let line = &src[y * width * 3..(y + 1) * width * 3];
        let dst = &mut out[r * ow * 3..(r + 1) * ow * 3];
        for (xx, (&(min, n), k)) in c.bounds.iter().zip(c.kernels()).enumerate() {
            for ch in 0..3 {
                let mut acc: i64 = 1 << (PRECISION_BITS - 1);
                for (j, &kj) in k[..n].iter().enumerate() {
                    acc += i64::from(line[(min + j) * 3 + ch]) * i64::from(kj);
                }
                dst[xx * 3 + ch] = clip8(acc);
            }
        }
    }
    out
}

/// One vertical pass of a `width`-pixel RGB image whose first row is source row `row_offset`.
fn vertical_pass(src: &[u8], width: usize, c: &Coeffs, row_offset: usize) -> Vec<u8> {
    let stride = width * 3;
    let mut out = vec![0u8; c.bounds.len() * stride];
    for (yy, (&(min, n), k)) in c.bounds.iter().zip(c.kernels()).enumerate() {
        let min = min - row_offset;
        let dst = &mut out[yy * stride..(yy + 1) * stride];
        for (x, d) in dst.iter_mut().enumerate() {
            let mut acc: i64 = 1 << (PRECISION_BITS - 1);
            for (j, &kj) in k[..n].iter().enumerate() {
                acc += i64::from(src[(min + j) * stride + x]) * i64::from(kj);
            }
            *d = clip8(acc);
        }
    }
    out
}

fn clip8(acc: i64) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for the bicubic filter (a = -0.5, support 2).
struct Coeffs {
    /// Per output pixel: first input index and number of taps.
    bounds: Vec<(usize, usize)>,
    ksize: usize,
    k: Vec<i32>,
}

impl Coeffs {
    fn new(in_size: usize, out_size: usize) -> Coeffs {
        let scale = in_size as f64 / out_size as f64;
        let filterscale = scale.max(1.0);
        let support = 2.0 * filterscale;
        let ksize = support.ceil() as usize * 2 + 1;
        let mut bounds = Vec::with_capacity(out_size);
        let mut k = vec![0i32; out_size * ksize];
        let mut weights = vec![0f64; ksize];
        for xx in 0..out_size {
            let center = (xx as f64 + 0.5) * scale;
            let ss = 1.0 / filterscale;
            // C's (int) truncation toward zero, then clamping.
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
            let n = xmax.saturating_sub(xmin);
            let mut ww = 0.0;
            for (x, w) in weights[..n].iter_mut().enumerate() {
                *w = bicubic((x as f64 + xmin as f64 - center + 0.5) * ss);
                ww += *w;
            }
            for (x, w) in weights[..n].iter().enumerate() {
                let w = if ww != 0.0 { w / ww } else { *w };
                let fixed = w * f64::from(1u32 << PRECISION_BITS);
                k[xx * ksize + x] = if w < 0.0 { (-0.5 + fixed) as i32 } else { (0.5 + fixed) as i32 };
            }
            bounds.push((xmin, n));
        }
        Coeffs { bounds, ksize, k }
    }

    fn kernels(&self) -> std::slice::ChunksExact<'_, i32> {
        self.k.chunks_exact(self.ksize)
    }
}

fn bicubic(x: f64) -> f64 {
    const A: f64 = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * A
    } else {
        0.0
    }
}
