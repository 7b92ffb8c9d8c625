//! The reference's `LetterBox` (Ultralytics `data/augment.py`): scale to fit the target keeping the aspect
//! ratio, `cv2.resize(INTER_LINEAR)` when the size changes, pad with grey 114 around the centre; then the
//! predictor's `HWC uint8 → (1, 3, H, W) fp32 RGB / 255`.

use super::{resize_linear, RgbImage};
use crate::{Error, Result, Tensor};

/// Grey value of the padding (`padding_value=114`).
pub const PAD_VALUE: u8 = 114;

/// Where an original image lands in the network input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Letterbox {
    /// Original image size.
    pub orig_w: u32,
    pub orig_h: u32,
    /// Size of the resized image before padding.
    pub new_w: u32,
    pub new_h: u32,
    /// Padding on each side.
    pub top: u32,
    pub bottom: u32,
    pub left: u32,
    pub right: u32,
}

impl Letterbox {
    /// Geometry for an `orig_w` x `orig_h` image and target `(height, width)` `imgsz`. `auto = true` pads only up
    /// to the next multiple of `stride` (the reference's choice for `.pt` models and dynamic ONNX, one image at a
    /// time); `auto = false` pads to exactly `imgsz` (fixed-size exported models).
    pub fn new(orig_w: u32, orig_h: u32, imgsz: (u32, u32), auto: bool, stride: u32) -> Result<Self> {
        let (target_h, target_w) = imgsz;
        if orig_w == 0 || orig_h == 0 || target_h == 0 || target_w == 0 || stride == 0 {
            return Err(Error::invalid(
                "letterbox",
                format!("image {orig_w}x{orig_h}, imgsz {target_h}x{target_w} and stride {stride} must be non-zero"),
            ));
        }
        // r = min(th / h, tw / w) in float64; sides rounded half to even (Python `round`), at least 1.
        let r = (f64::from(target_h) / f64::from(orig_h)).min(f64::from(target_w) / f64::from(orig_w));
        let side = |s: u32| ((f64::from(s) * r).round_ties_even() as u32).max(1);
        let (new_w, new_h) = (side(orig_w), side(orig_h));
        let pad = |target: u32, new: u32| {
            let d = target.saturating_sub(new);
            if auto {
                d % stride
            } else {
                d
            }
        };
        let (dw, dh) = (pad(target_w, new_w), pad(target_h, new_h));
        // round(d / 2 - 0.1) and round(d / 2 + 0.1): the odd pixel goes bottom/right.
        Ok(Letterbox {
            orig_w,
            orig_h,
            new_w,
            new_h,
            top: dh / 2,
            bottom: dh - dh / 2,
            left: dw / 2,
            right: dw - dw / 2,
        })
    }

    /// Network input width.
    pub fn input_w(&self) -> u32 {
        self.new_w + self.left + self.right
    }

    /// Network input height.
    pub fn input_h(&self) -> u32 {
        self.new_h + self.top + self.bottom
    }

    fn check(&self, img: &RgbImage) -> Result<()> {
        if (img.width, img.height) != (self.orig_w, self.orig_h) {
            return Err(Error::invalid(
                "letterbox input",
                format!(
                    "image is {}x{}, letterbox was made for {}x{}",
                    img.width, img.height, self.orig_w, self.orig_h
                ),
            ));
        }
        Ok(())
    }

    /// The letterboxed image (`cv2.resize` + `cv2.copyMakeBorder`).
    pub fn apply(&self, img: &RgbImage) -> Result<RgbImage> {
        self.check(img)?;
        let resized = resize_linear(img, self.new_w, self.new_h);
        let (w, h) = (self.input_w() as usize, self.input_h() as usize);
        let mut data = vec![PAD_VALUE; w * h * 3];
        let inner = self.new_w as usize * 3;
        for (y, row) in resized.data.chunks_exact(inner).enumerate() {
            let start = ((y + self.top as usize) * w + self.left as usize) * 3;
            data[start..start + inner].copy_from_slice(row);
        }
        Ok(RgbImage { width: w as u32, height: h as u32, data })
    }

    /// The network input for the original image `img`: shape (1, 3, H, W), RGB planes, `u8 as f32 / 255.0`
    /// (a true fp32 division, as `tensor.float().div_(255)`).
    pub fn to_tensor(&self, img: &RgbImage) -> Result<Tensor> {
        self.check(img)?;
        let resized = resize_linear(img, self.new_w, self.new_h);
        let (w, h) = (self.input_w() as usize, self.input_h() as usize);
        let lut: [f32; 256] = std::array::from_fn(|v| v as f32 / 255.0);
        let mut data = vec![lut[usize::from(PAD_VALUE)]; 3 * w * h];
        let inner = self.new_w as usize;
        for (c, plane) in data.chunks_exact_mut(w * h).enumerate() {
            for (y, src) in resized.data.chunks_exact(inner * 3).enumerate() {
                let start = (y + self.top as usize) * w + self.left as usize;
                for (dst, px) in plane[start..start + inner].iter_mut().zip(src.chunks_exact(3)) {
                    *dst = lut[usize::from(px[c])];
                }
            }
        }
        Ok(Tensor::new(vec![1, 3, h, w], data))
    }
}
