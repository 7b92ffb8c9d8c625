//! A selection as the one region a labelling tool shows: the merged mask, or the union of the selected masks.

use fastsam::mask::Mask;
use fastsam::{Segmentation, Selection};

use crate::error::ApiError;

/// The selection's mask and score (the best score among the objects in it); `None` when nothing was selected.
pub fn one_mask(seg: &Segmentation, selection: &Selection) -> Result<Option<(Mask, f32)>, ApiError> {
    if let Some((mask, score)) = &selection.merged {
        return Ok((!mask.is_empty()).then(|| (mask.clone(), *score)));
    }
    if selection.indices.is_empty() {
        return Ok(None);
    }
    let objects = seg.objects();
    let mask = Mask::union(seg.width(), seg.height(), selection.indices.iter().map(|&i| &objects[i].mask))
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let score = selection.indices.iter().map(|&i| objects[i].score).fold(0.0f32, f32::max);
    Ok((!mask.is_empty()).then_some((mask, score)))
}
