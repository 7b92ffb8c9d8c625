//! The models a command needs: FastSAM and CLIP by path or by name (downloaded into the weights cache), and
//! "segment everything" with the options every command shares.

use anyhow::Result;
use fastsam::clip::Clip;
use fastsam::image::RgbImage;
use fastsam::model::EngineOptions;
use fastsam::weights::ModelCache;
use fastsam::{FastSam, Prompt, Segmentation};

use crate::args::EngineArgs;

pub fn load_model(spec: &str, engine: &EngineArgs) -> Result<FastSam> {
    let engine = engine.options()?;
    let cache = ModelCache::from_env()?;
    let path = cache.resolve(spec, &mut crate::weights::download_bar(spec))?;
    Ok(FastSam::from_model(cache.load_model(&path, &engine)?))
}

/// A CLIP model (path, or a name fetched into the weights cache).
pub fn load_clip(spec: &str, threads: Option<usize>) -> Result<Clip> {
    let path = ModelCache::from_env()?.resolve(spec, &mut crate::weights::download_bar(spec))?;
    let engine = EngineOptions { intra_threads: threads, ..EngineOptions::default() };
    Ok(Clip::load_with(&path, &engine)?)
}

/// CLIP only when the prompt has phrases: nothing is loaded or downloaded otherwise.
pub fn load_clip_for(prompt: &Prompt, spec: &str, threads: Option<usize>) -> Result<Option<Clip>> {
    if prompt.texts.is_empty() {
        return Ok(None);
    }
    load_clip(spec, threads).map(Some)
}

/// "Segment everything" on one image, with every mask smoothed when asked (prompts then select over the
/// smoothed masks, and every output is theirs).
pub fn segment_image(model: &FastSam, image: &RgbImage, smooth: bool) -> Result<Segmentation> {
    let segmentation = model.segment(image)?;
    Ok(if smooth { segmentation.smoothed()? } else { segmentation })
}
