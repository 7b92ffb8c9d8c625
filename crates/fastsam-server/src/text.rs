//! Text prompts. THE ONE PLACE TO WIRE CLIP: everything else in the server (state, routes, CLI flag) already
//! carries a `TextModel`, so enabling text prompts touches only this file.

use std::path::PathBuf;

use fastsam::{Prompt, RgbImage, Segmentation, Selection};

use crate::error::ApiError;

/// The CLIP model behind text prompts, when the server was started with `--clip`.
#[derive(Debug, Default)]
pub struct TextModel {
    // WIRE CLIP: once `fastsam::clip::Clip` is on main, hold `Option<fastsam::clip::Clip>` here instead.
    clip_path: Option<PathBuf>,
}

impl TextModel {
    /// WIRE CLIP: load with `fastsam::clip::Clip::load(path)?` here.
    pub fn load(clip_path: Option<PathBuf>) -> anyhow::Result<Self> {
        if let Some(p) = &clip_path {
            anyhow::ensure!(p.exists(), "CLIP model {}: no such file", p.display());
        }
        Ok(TextModel { clip_path })
    }

    pub fn is_loaded(&self) -> bool {
        self.clip_path.is_some()
    }

    /// `prompt`'s selection; text phrases go through CLIP, the rest never needs it.
    pub fn select(&self, seg: &Segmentation, _image: &RgbImage, prompt: &Prompt) -> Result<Selection, ApiError> {
        if prompt.texts.is_empty() {
            return seg.select(prompt).map_err(|e| ApiError::bad_request(e.to_string()));
        }
        match &self.clip_path {
            None => Err(ApiError::bad_request("text prompts need --clip (start the server with a CLIP model)")),
            // WIRE CLIP: `seg.select_with_clip(prompt, image, clip)`.
            Some(p) => Err(ApiError::new(
                axum::http::StatusCode::NOT_IMPLEMENTED,
                format!("text prompts are not available in this build yet (CLIP model {} is not used)", p.display()),
            )),
        }
    }
}
