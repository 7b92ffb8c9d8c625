//! One image's outputs as `fastsam segment` writes them: the annotations of every object, or of a prompt's
//! selection, and their JSON bytes. The CLI and the Python package both write through here, so their files
//! are the same byte for byte.

use super::annotations::AnnotationFile;
use super::polygons;
use crate::clip::Clip;
use crate::image::RgbImage;
use crate::mask::Mask;
use crate::{Error, Prompt, Result, Segmentation, Selection};

/// The masks `prompt` selects over `segmentation` (of `image`); `None` for an empty prompt, which keeps every
/// object. Text phrases go through `clip`; without it they are rejected with a message saying so.
pub fn select(
    segmentation: &Segmentation,
    image: &RgbImage,
    clip: Option<&Clip>,
    prompt: &Prompt,
) -> Result<Option<Selection>> {
    Ok(match clip {
        _ if prompt.is_empty() => None,
        Some(clip) if !prompt.texts.is_empty() => Some(segmentation.select_with_clip(prompt, image, clip)?),
        _ => Some(segmentation.select(prompt)?),
    })
}

/// One image's outputs: the annotations (of every object, or of a selection) and their JSON.
pub struct Rendered {
    pub annotations: AnnotationFile,
    pub json: Vec<u8>,
    selection: Option<Selection>,
}

impl Rendered {
    /// Selects with `prompt` (see [`select`]) and renders the result; `file_name` goes into the JSON's `image`.
    pub fn new(
        segmentation: &Segmentation,
        image: &RgbImage,
        clip: Option<&Clip>,
        prompt: &Prompt,
        file_name: &str,
        with_polygons: bool,
    ) -> Result<Self> {
        let selection = select(segmentation, image, clip, prompt)?;
        Self::from_selection(segmentation, selection, file_name, with_polygons)
    }

    /// Renders a selection made before (`None`: every object).
    pub fn from_selection(
        segmentation: &Segmentation,
        selection: Option<Selection>,
        file_name: &str,
        with_polygons: bool,
    ) -> Result<Self> {
        let annotations = match &selection {
            None => segmentation.annotations(file_name),
            Some(s) => segmentation.selection_annotations(s, file_name),
        };
        let mut rendered = Rendered { annotations, json: Vec::new(), selection };
        let json = if with_polygons {
            let masks = rendered.masks(segmentation);
            serde_json::to_vec(&polygons::annotations_with_polygons(&rendered.annotations, &masks))
        } else {
            serde_json::to_vec(&rendered.annotations)
        };
        rendered.json = json.map_err(|e| Error::invalid("annotations", e.to_string()))?;
        Ok(rendered)
    }

    pub fn selection(&self) -> Option<&Selection> {
        self.selection.as_ref()
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
