//! Image decoding (as the reference's `cv2.imdecode(buf, IMREAD_COLOR)` does it) and the reference's letterbox.
//!
//! The reference works on BGR arrays but only ever flips channels, so images here are RGB; every pixel value
//! equals the reference's after that flip.

mod decode;
mod exif;
mod letterbox;
mod resize;

pub use decode::{decode, open, DecodeLimits, Format};
pub use letterbox::Letterbox;
pub use resize::resize_linear;

/// An 8-bit RGB image, rows top to bottom, pixels interleaved `R G B`.
#[derive(Clone, PartialEq, Eq)]
pub struct RgbImage {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

impl RgbImage {
    /// Wraps `data`, which must hold exactly `width * height * 3` bytes.
    pub fn new(width: u32, height: u32, data: Vec<u8>) -> crate::Result<Self> {
        let expected = width as usize * height as usize * 3;
        if data.len() != expected || width == 0 || height == 0 {
            return Err(crate::Error::invalid(
                "image buffer",
                format!("{width}x{height} RGB needs {expected} bytes (and non-zero sides), got {}", data.len()),
            ));
        }
        Ok(RgbImage { width, height, data })
    }

    /// The `[r, g, b]` value at column `x`, row `y`.
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = (y as usize * self.width as usize + x as usize) * 3;
        [self.data[i], self.data[i + 1], self.data[i + 2]]
    }
}

impl std::fmt::Debug for RgbImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RgbImage({}x{})", self.width, self.height)
    }
}
