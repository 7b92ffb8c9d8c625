//! CLIP hyper-parameters, inferred from tensor shapes exactly as OpenAI's `clip.model.build_model` does, so
//! any ViT CLIP loads without a config file.

use std::collections::BTreeMap;
use std::path::Path;

use crate::{Error, Result, Tensor};

/// Width of one attention head in OpenAI's CLIP (`heads = width // 64`).
const HEAD_WIDTH: usize = 64;

/// LayerNorm epsilon of every OpenAI CLIP LayerNorm (`torch.nn.LayerNorm` default).
pub const LAYER_NORM_EPS: f32 = 1e-5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VisionConfig {
    pub width: usize,
    pub layers: usize,
    pub heads: usize,
    pub patch_size: usize,
    pub grid: usize,
    /// `patch_size * grid`: the square input side (224 for ViT-B/32).
    pub image_resolution: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextConfig {
    pub width: usize,
    pub layers: usize,
    pub heads: usize,
    pub context_length: usize,
    pub vocab_size: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClipConfig {
    pub vision: VisionConfig,
    pub text: TextConfig,
    pub embed_dim: usize,
}

impl ClipConfig {
    /// `build_model`'s inference over an OpenAI-named state dict (`visual.conv1.weight`, ...).
    pub fn infer(path: &Path, sd: &BTreeMap<String, Tensor>) -> Result<ClipConfig> {
        let shape = |key: &str, rank: usize| -> Result<&[usize]> {
            let t = sd.get(key).ok_or_else(|| Error::checkpoint(path, format!("CLIP tensor `{key}` is missing")))?;
            if t.shape.len() != rank {
                return Err(Error::checkpoint(
                    path,
                    format!("CLIP tensor `{key}` has shape {:?}, expected {rank} dimensions", t.shape),
                ));
            }
            Ok(&t.shape)
        };
        if sd.keys().any(|k| k.starts_with("visual.layer1")) {
            return Err(Error::checkpoint(path, "is a ResNet CLIP; only ViT CLIP models are supported"));
        }
        let conv = shape("visual.conv1.weight", 4)?;
        let (vision_width, patch_size) = (conv[0], conv[3]);
        if conv[1] != 3 || conv[2] != patch_size || patch_size == 0 {
            return Err(Error::checkpoint(
                path,
                format!("visual.conv1.weight has shape {conv:?}, expected (W, 3, P, P)"),
            ));
        }
        let vision_layers =
            sd.keys().filter(|k| k.starts_with("visual.") && k.ends_with(".attn.in_proj_weight")).count();
        let positions = shape("visual.positional_embedding", 2)?[0];
        // Python's round((n - 1) ** 0.5); the grid must then account for every position.
        let grid = ((positions.saturating_sub(1)) as f64).sqrt().round() as usize;
        if grid * grid + 1 != positions {
            return Err(Error::checkpoint(
                path,
                format!("{positions} visual positions are not a square grid plus one"),
            ));
        }
        let embed_dim = shape("text_projection", 2)?[1];
        let context_length = shape("positional_embedding", 2)?[0];
        let vocab_size = shape("token_embedding.weight", 2)?[0];
        let text_width = shape("ln_final.weight", 1)?[0];
        let text_layers = sd
            .keys()
            .filter_map(|k| k.strip_prefix("transformer.resblocks."))
            .filter_map(|k| k.split('.').next())
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        let config = ClipConfig {
            vision: VisionConfig {
                width: vision_width,
                layers: vision_layers,
                heads: vision_width / HEAD_WIDTH,
                patch_size,
                grid,
                image_resolution: patch_size * grid,
            },
            text: TextConfig {
                width: text_width,
                layers: text_layers,
                heads: text_width / HEAD_WIDTH,
                context_length,
                vocab_size,
            },
            embed_dim,
        };
        config.validate(path)?;
        Ok(config)
    }

    fn validate(&self, path: &Path) -> Result<()> {
        let (v, t) = (&self.vision, &self.text);
        let problem = if v.heads == 0 || t.heads == 0 {
            Some(format!("widths {} (vision) and {} (text) must be at least {HEAD_WIDTH}", v.width, t.width))
        } else if v.width % v.heads != 0 || t.width % t.heads != 0 {
            Some(format!("widths {} and {} are not divisible by their head counts", v.width, t.width))
        } else if v.layers == 0 || t.layers == 0 {
            Some("no transformer layers found".to_string())
        } else if t.context_length == 0 || t.vocab_size == 0 || self.embed_dim == 0 {
            Some("empty context, vocabulary or embedding".to_string())
        } else {
            None
        };
        problem.map_or(Ok(()), |p| Err(Error::checkpoint(path, format!("not a usable CLIP model: {p}"))))
    }
}
