//! EXIF orientation: read the tag and turn the decoded pixels upright, as `cv2.imdecode` does unless it is
//! given `IMREAD_IGNORE_ORIENTATION`.

use super::RgbImage;

/// The Orientation tag (0x0112) of the primary image in a TIFF-structured EXIF blob (the bytes after a
/// JPEG APP1 "Exif\0\0" header, a PNG eXIf chunk or a WebP EXIF chunk). Damaged EXIF data is read as far as
/// it goes; anything unreadable means "no orientation", which is what OpenCV does with it.
pub(crate) fn orientation(tiff: &[u8]) -> Option<u16> {
    let parsed = ::exif::Reader::new()
        .continue_on_error(true)
        .read_raw(tiff.to_vec())
        .or_else(|e| e.distill_partial_result(|_| {}))
        .ok()?;
    let field = parsed.get_field(::exif::Tag::Orientation, ::exif::In::PRIMARY)?;
    field.value.get_uint(0).and_then(|v| u16::try_from(v).ok())
}

/// The JPEG APP1 payload's EXIF part, if the segment is an EXIF segment.
pub(crate) fn strip_app1_header(app1: &[u8]) -> Option<&[u8]> {
    app1.strip_prefix(b"Exif\0\0")
}

/// Applies EXIF orientation `o` (1..=8, anything else leaves the image as it is) the way OpenCV's
/// `ApplyExifOrientation` does: flips for 2-4, a transpose followed by a flip for 5-8.
pub(crate) fn apply_orientation(img: RgbImage, o: u16) -> RgbImage {
    if !(2..=8).contains(&o) {
        return img;
    }
    let (w, h) = (img.width as usize, img.height as usize);
    let transposed = o >= 5;
    let (ow, oh) = if transposed { (h, w) } else { (w, h) };
    let mut out = vec![0u8; img.data.len()];
    for y in 0..oh {
        let row = &mut out[y * ow * 3..(y + 1) * ow * 3];
        for (x, px) in row.chunks_exact_mut(3).enumerate() {
            let (sx, sy) = source_of(o, x, y, w, h);
            let i = (sy * w + sx) * 3;
            px.copy_from_slice(&img.data[i..i + 3]);
        }
    }
    RgbImage { width: ow as u32, height: oh as u32, data: out }
}

/// Source pixel (column, row) of output pixel (x, y) for orientation `o`, with (w, h) the source size.
fn source_of(o: u16, x: usize, y: usize, w: usize, h: usize) -> (usize, usize) {
    match o {
        2 => (w - 1 - x, y),
        3 => (w - 1 - x, h - 1 - y),
        4 => (x, h - 1 - y),
        5 => (y, x),
        6 => (y, h - 1 - x),
        7 => (w - 1 - y, h - 1 - x),
        8 => (w - 1 - y, x),
        _ => (x, y),
    }
}
