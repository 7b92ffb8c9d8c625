//! Writing a command's output files: overlay and cut-out PNGs, COCO results, all written atomically.

use std::path::Path;

use anyhow::Result;
use fastsam::image::RgbImage;
use fastsam::mask::Mask;
use fastsam::output::coco::CocoResults;
use fastsam::output::{cutout, overlay, png};

pub fn write_overlay(path: &Path, image: &RgbImage, masks: &[&Mask]) -> Result<()> {
    let picture = overlay::overlay(image, masks)?;
    write_atomically(path, &png::encode_rgb(&picture)?)
}

/// Writes the cut-out; `false` (nothing written) when no pixel is selected.
pub fn write_cutout(path: &Path, image: &RgbImage, masks: &[&Mask]) -> Result<bool> {
    match cutout::cutout(image, masks)? {
        Some(picture) => write_atomically(path, &png::encode_rgba(&picture)?).map(|()| true),
        None => Ok(false),
    }
}

/// The results array to `path`, the image list next to it (`OUT.json` → `OUT.images.json`).
pub fn write_coco(path: &Path, results: &CocoResults) -> Result<()> {
    write_atomically(path, &results.results_json())?;
    write_atomically(&path.with_extension("images.json"), &results.images_json())
}

/// Writes next to the destination and renames, so a reader never sees a half-written file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    Ok(fastsam::weights::download::write_atomically(path, bytes)?)
}
