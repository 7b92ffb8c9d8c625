//! PNG files for overlays and cut-outs.

use crate::image::RgbImage;
use crate::{Error, Result};
use image::{codecs::png::PngEncoder, ExtendedColorType, ImageEncoder, RgbaImage};
use std::path::Path;

fn encode(width: u32, height: u32, data: &[u8], color: ExtendedColorType) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    PngEncoder::new(&mut out)
        .write_image(data, width, height, color)
        .map_err(|e| Error::image("PNG output", e.to_string()))?;
    Ok(out)
}

pub fn encode_rgb(img: &RgbImage) -> Result<Vec<u8>> {
    encode(img.width, img.height, &img.data, ExtendedColorType::Rgb8)
}

pub fn encode_rgba(img: &RgbaImage) -> Result<Vec<u8>> {
    encode(img.width(), img.height(), img.as_raw(), ExtendedColorType::Rgba8)
}

/// Writes PNG bytes to `path`.
pub fn write(path: &Path, png: &[u8]) -> Result<()> {
    std::fs::write(path, png).map_err(|source| Error::Io { path: path.to_path_buf(), source })
}
