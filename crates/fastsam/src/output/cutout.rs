//! The pixels of some masks on a transparent background, cropped to their union's bounding box.

use crate::image::RgbImage;
use crate::mask::Mask;
use crate::{Error, Result};
use image::RgbaImage;

/// An RGBA image of `image`'s pixels under the union of `masks` (opaque) and transparent black elsewhere,
/// cropped to the union's bounding box; `None` when the union is empty.
pub fn cutout(image: &RgbImage, masks: &[&Mask]) -> Result<Option<RgbaImage>> {
    let (w, h) = (image.width, image.height);
    let union = Mask::union(w, h, masks.iter().copied())
        .map_err(|e| Error::invalid("cut-out", format!("masks do not fit the {w}x{h} image: {e}")))?;
    let Some([x0, y0, x1, y1]) = union.bbox() else { return Ok(None) };
    let mut out = RgbaImage::new(x1 - x0, y1 - y0);
    union.for_each_run(|y, start, end| {
        for x in start..end {
            let [r, g, b] = image.pixel(x, y);
            out.put_pixel(x - x0, y - y0, image::Rgba([r, g, b, 255]));
        }
    });
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crops_to_the_union_and_clears_the_rest() {
        let data = (0..5u8).flat_map(|y| (0..6u8).flat_map(move |x| [x, y, 7])).collect();
        let image = RgbImage::new(6, 5, data).unwrap();
        let mut a = vec![0u8; 30];
        a[6 + 1] = 1; // (1, 1)
        let mut b = vec![0u8; 30];
        b[3 * 6 + 4] = 1; // (4, 3)
        let (ma, mb) = (Mask::from_full(6, 5, &a).unwrap(), Mask::from_full(6, 5, &b).unwrap());
        let out = cutout(&image, &[&ma, &mb]).unwrap().unwrap();
        assert_eq!(out.dimensions(), (4, 3));
        assert_eq!(out.get_pixel(0, 0).0, [1, 1, 7, 255]);
        assert_eq!(out.get_pixel(3, 2).0, [4, 3, 7, 255]);
        assert_eq!(out.get_pixel(1, 1).0, [0, 0, 0, 0]);
        assert!(cutout(&image, &[&Mask::empty(6, 5)]).unwrap().is_none());
        assert!(cutout(&image, &[&Mask::empty(5, 5)]).is_err());
    }
}
