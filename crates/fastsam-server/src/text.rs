//! Text prompts: the CLIP model behind them, when the server was started with `--clip`.

use std::path::PathBuf;

use fastsam::clip::Clip;
use fastsam::{Prompt, RgbImage, Segmentation, Selection};

use crate::error::ApiError;

#[derive(Debug, Default)]
pub struct TextModel {
    clip: Option<Clip>,
}

impl TextModel {
    pub fn load(clip_path: Option<PathBuf>) -> anyhow::Result<Self> {
        let clip = match clip_path {
            Some(p) => Some(Clip::load(&p).map_err(|e| anyhow::anyhow!("CLIP model: {e}"))?),
            None => None,
        };
        Ok(TextModel { clip })
    }

    pub fn is_loaded(&self) -> bool {
        self.clip.is_some()
    }

    /// `prompt`'s selection; text phrases go through CLIP (crop embeddings cached in the segmentation), the rest
    /// never needs it.
    pub fn select(&self, seg: &Segmentation, image: &RgbImage, prompt: &Prompt) -> Result<Selection, ApiError> {
        if prompt.texts.is_empty() {
            return seg.select(prompt).map_err(|e| ApiError::bad_request(e.to_string()));
        }
        match &self.clip {
            None => Err(ApiError::bad_request("text prompts need --clip (start the server with a CLIP model)")),
            Some(clip) => seg.select_with_clip(prompt, image, clip).map_err(|e| ApiError::bad_request(e.to_string())),
        }
    }
}
