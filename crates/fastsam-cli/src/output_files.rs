//! The files `fastsam segment` writes for one image, single or in a batch: the JSON of its annotations (every
//! object's, or a prompt's selection), the overlay and cut-out PNGs, COCO results; all written atomically.

use std::path::Path;

use anyhow::Result;
use fastsam::clip::Clip;
use fastsam::image::RgbImage;
use fastsam::mask::Mask;
use fastsam::output::annotations::AnnotationFile;
use fastsam::output::coco::CocoResults;
use fastsam::output::{cutout, overlay, png, polygons};
use fastsam::{FastSam, Prompt, Segmentation, Selection};

/// "Segment everything" on one image, with every mask smoothed when asked (prompts then select over the
/// smoothed masks, and every output is theirs).
pub fn segment_image(model: &FastSam, image: &RgbImage, smooth: bool) -> Result<Segmentation> {
    let segmentation = model.segment(image)?;
    Ok(if smooth { segmentation.smoothed()? } else { segmentation })
}

/// One image's outputs: the annotations (of every object, or of the prompt's selection) and their JSON.
pub struct Rendered {
    pub annotations: AnnotationFile,
    pub json: Vec<u8>,
    selection: Option<Selection>,
}

impl Rendered {
    pub fn new(
        segmentation: &Segmentation,
        image: &RgbImage,
        clip: Option<&Clip>,
        prompt: &Prompt,
        file_name: &str,
        with_polygons: bool,
    ) -> Result<Self> {
        let selection = match clip {
            _ if prompt.is_empty() => None,
            Some(clip) if !prompt.texts.is_empty() => Some(segmentation.select_with_clip(prompt, image, clip)?),
            _ => Some(segmentation.select(prompt)?),
        };
        let annotations = match &selection {
            None => segmentation.annotations(file_name),
            Some(s) => segmentation.selection_annotations(s, file_name),
        };
        let mut rendered = Rendered { annotations, json: Vec::new(), selection };
        rendered.json = if with_polygons {
            let masks = rendered.masks(segmentation);
            serde_json::to_vec(&polygons::annotations_with_polygons(&rendered.annotations, &masks))?
        } else {
            serde_json::to_vec(&rendered.annotations)?
        };
        Ok(rendered)
    }

    /// The masks behind the annotations, in their order.
    pub fn masks<'a>(&'a self, segmentation: &'a Segmentation) -> Vec<&'a Mask> {
        match &self.selection {
            None => segmentation.objects().iter().map(|d| &d.mask).collect(),
            Some(Selection { merged: Some((mask, _)), .. }) => {
                if mask.is_empty() {
                    Vec::new()
                } else {
                    vec![mask]
                }
            }
            Some(s) => s.indices.iter().map(|&i| &segmentation.objects()[i].mask).collect(),
        }
    }
}

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

pub fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

pub fn stem(path: &Path) -> String {
    path.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Writes next to the destination and renames, so a reader never sees a half-written file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    Ok(fastsam::weights::download::write_atomically(path, bytes)?)
}
