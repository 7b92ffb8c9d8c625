//! CLIP: tokenizer and image/text encoders, for text prompts.
//!
//! The encoders are OpenAI's ViT CLIP built as ONNX graphs from the checkpoint's tensors and run by ONNX
//! Runtime (the segmenter's engine), in fp32 as the reference runs CLIP on CPU. Features are L2-normalised
//! (`x / ||x||`, no epsilon) as Ultralytics' `CLIP.encode_text` / `encode_image` do.

pub mod config;
pub mod graph;
pub mod preprocess;
pub mod text_clean;
pub mod tokenizer;
pub mod weights;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub use config::ClipConfig;
pub use tokenizer::ClipTokenizer;

use crate::image::RgbImage;
use crate::model::{Engine, EngineOptions};
use crate::{Error, Result, Tensor};

/// Crops go through the image encoder in batches of at most this many (bounds memory on large images).
const IMAGE_BATCH: usize = 64;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A loaded CLIP model: image and text encoders, with a per-phrase cache of text embeddings.
pub struct Clip {
    id: u64,
    config: ClipConfig,
    vision: Engine,
    text: Engine,
    phrases: Mutex<HashMap<String, Arc<Vec<f32>>>>,
}

impl std::fmt::Debug for Clip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clip").field("id", &self.id).field("config", &self.config).finish()
    }
}

impl Clip {
    /// Loads OpenAI's CLIP `.pt` (TorchScript, e.g. `ViT-B-32.pt`) or a Hugging Face CLIP `.safetensors`;
    /// ONNX Runtime uses every core.
    pub fn load(path: impl AsRef<Path>) -> Result<Clip> {
        Self::load_with(path, &EngineOptions::default())
    }

    pub fn load_with(path: impl AsRef<Path>, options: &EngineOptions) -> Result<Clip> {
        let path = path.as_ref();
        let sd = weights::load_clip_state_dict(path)?;
        let config = ClipConfig::infer(path, &sd)?;
        let vision = Engine::from_bytes(&graph::vision_graph(path, &sd, &config)?.encode(), options)?;
        let text = Engine::from_bytes(&graph::text_graph(path, &sd, &config)?.encode(), options)?;
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        Ok(Clip { id, config, vision, text, phrases: Mutex::new(HashMap::new()) })
    }

    /// Identifies this loaded model (caches of crop embeddings are keyed by it).
    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn config(&self) -> &ClipConfig {
        &self.config
    }

    /// Normalised text embeddings, one per phrase (tokenised as `clip.tokenize(texts, truncate=True)`).
    /// Phrases seen before come from the cache; the others go through the encoder in one batch.
    pub fn encode_text(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        Ok(self.encode_text_shared(texts)?.iter().map(|e| e.as_ref().clone()).collect())
    }

    pub(crate) fn encode_text_shared(&self, texts: &[&str]) -> Result<Vec<Arc<Vec<f32>>>> {
        let missing: Vec<&str> = {
            let cache = self.cache()?;
            let mut m: Vec<&str> = texts.iter().copied().filter(|t| !cache.contains_key(*t)).collect();
            m.sort_unstable();
            m.dedup();
            m
        };
        if !missing.is_empty() {
            let ctx = self.config.text.context_length;
            let tokenizer = ClipTokenizer::global();
            let rows: Vec<Vec<i64>> =
                missing.iter().map(|t| tokenizer.tokenize(t, ctx, true)).collect::<Result<_>>()?;
            // Positions after the pooled (first largest) token cannot influence it under the causal mask.
            let used = rows.iter().map(|r| first_argmax(r) + 1).max().unwrap_or(1);
            let data = rows.iter().flat_map(|r| r[..used].iter().map(|&id| id as f32)).collect();
            let out = self.text.run(&[&Tensor::new(vec![missing.len(), used], data)])?;
            let feats = split_normalised(&out[0], self.config.embed_dim)?;
            let mut cache = self.cache()?;
            for (t, f) in missing.iter().zip(feats) {
                cache.insert((*t).to_string(), Arc::new(f));
            }
        }
        let cache = self.cache()?;
        texts
            .iter()
            .map(|t| cache.get(*t).cloned().ok_or_else(|| Error::Runtime("CLIP text cache lost an entry".into())))
            .collect()
    }

    fn cache(&self) -> Result<std::sync::MutexGuard<'_, HashMap<String, Arc<Vec<f32>>>>> {
        self.phrases.lock().map_err(|_| Error::Runtime("a previous CLIP text encoding panicked".into()))
    }

    /// Normalised image embeddings of RGB images, each preprocessed as the reference does.
    pub fn encode_images(&self, images: &[&RgbImage]) -> Result<Vec<Vec<f32>>> {
        let size = self.config.vision.image_resolution as u32;
        let mut out = Vec::with_capacity(images.len());
        for chunk in images.chunks(IMAGE_BATCH) {
            let mut data = Vec::with_capacity(chunk.len() * 3 * (size * size) as usize);
            for im in chunk {
                let (rgb, _, _) = preprocess::resize_center_crop(im, size)?;
                preprocess::normalize_into(&rgb, &mut data);
            }
            out.extend(self.encode_pixels(&Tensor::new(vec![chunk.len(), 3, size as usize, size as usize], data))?);
        }
        Ok(out)
    }

    /// Normalised image embeddings of already preprocessed `(N, 3, R, R)` pixels.
    pub fn encode_pixels(&self, pixels: &Tensor) -> Result<Vec<Vec<f32>>> {
        let out = self.vision.run(&[pixels])?;
        split_normalised(&out[0], self.config.embed_dim)
    }
}

/// `torch.argmax`: the index of the first largest id.
fn first_argmax(ids: &[i64]) -> usize {
    ids.iter().enumerate().fold(0, |best, (i, &v)| if v > ids[best] { i } else { best })
}

/// Rows of an `(N, D)` output, each divided by its L2 norm (no epsilon, as the reference).
fn split_normalised(t: &Tensor, dim: usize) -> Result<Vec<Vec<f32>>> {
    if t.shape.len() != 2 || t.shape[1] != dim {
        return Err(Error::Runtime(format!("CLIP output has shape {:?}, expected (N, {dim})", t.shape)));
    }
    Ok(t.data.chunks_exact(dim).map(normalised).collect())
}

pub(crate) fn normalised(v: &[f32]) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / norm).collect()
}
