//! The pixels of some masks on a transparent background, cropped to their union's bounding box.

use crate::mask::Mask;
use crate::{Error, Result};
use image::{RgbImage, RgbaImage};

/// An RGBA image of `image`'s pixels under the union of `masks` (opaque) and transparent black elsewhere,
/// cropped to the union's bounding box; `None` when the union is empty.
pub fn cutout(image: &RgbImage, masks: &[&Mask]) -> Result<Option<RgbaImage>> {
    let (w, h) = image.dimensions();
    let union = Mask::union(w, h, masks.iter().copied())
        .map_err(|e| Error::invalid("cut-out", format!("masks do not fit the {w}x{h} image: {e}")))?;
    let Some([x0, y0, x1, y1]) = union.bbox() else { return Ok(None) };
    let mut out = RgbaImage::new(x1 - x0, y1 - y0);
    union.for_each_run(|y, start, end| {
        for x in start..end {
            let [r, g, b] = image.get_pixel(x, y).0;
            out.put_pixel(x - x0, y - y0, image::Rgba([r, g, b, 255]));
        }
    });
    Ok(Some(out))
}
