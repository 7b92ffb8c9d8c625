//! CLIP weights from OpenAI's TorchScript `.pt` or a Hugging Face `CLIPModel` safetensors file, brought to one
//! form: OpenAI's state-dict names and layouts, fp32, with the tensors OpenAI's `convert_weights` stores in
//! fp16 rounded to fp16 (the reference builds the model in fp16 and then calls `.float()` on CPU).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use half::f16;

use crate::weights::{load_safetensors, load_state_dict};
use crate::{Error, Result, Tensor};

/// Reads `path` (format detected by content) into an OpenAI-named fp32 state dict.
pub fn load_clip_state_dict(path: &Path) -> Result<BTreeMap<String, Tensor>> {
    let mut magic = [0u8; 4];
    let mut file = std::fs::File::open(path).map_err(|e| Error::Io { path: path.to_path_buf(), source: e })?;
    let n = file.read(&mut magic).map_err(|e| Error::Io { path: path.to_path_buf(), source: e })?;
    let raw = if n == 4 && &magic == b"PK\x03\x04" { load_state_dict(path)? } else { load_safetensors(path)? };
    let mut sd = if raw.keys().any(|k| k.starts_with("visual.")) {
        raw
    } else if raw.keys().any(|k| k.starts_with("vision_model.")) {
        from_hugging_face(path, raw)?
    } else {
        return Err(not_clip(path, &raw));
    };
    round_like_convert_weights(&mut sd);
    Ok(sd)
}

fn not_clip(path: &Path, sd: &BTreeMap<String, Tensor>) -> Error {
    let what = if sd.keys().any(|k| k.starts_with("model.0.") || k.starts_with("model.22.")) {
        "is a FastSAM/YOLO checkpoint, not a CLIP model"
    } else {
        "is not a CLIP model (no `visual.*` or `vision_model.*` tensors)"
    };
    Error::checkpoint(
        path,
        format!("{what}; expected OpenAI's CLIP ViT .pt (e.g. ViT-B-32.pt) or a Hugging Face CLIP .safetensors"),
    )
}

/// Hugging Face names and layouts → OpenAI's: q/k/v projections concatenated into `in_proj_*`, the two output
/// projections transposed, layer and norm names mapped.
fn from_hugging_face(path: &Path, mut hf: BTreeMap<String, Tensor>) -> Result<BTreeMap<String, Tensor>> {
    let mut out = BTreeMap::new();
    let mut take =
        |key: &str| hf.remove(key).ok_or_else(|| Error::checkpoint(path, format!("CLIP tensor `{key}` is missing")));
    let renames = [
        ("vision_model.embeddings.class_embedding", "visual.class_embedding"),
        ("vision_model.embeddings.patch_embedding.weight", "visual.conv1.weight"),
        ("vision_model.embeddings.position_embedding.weight", "visual.positional_embedding"),
        ("vision_model.pre_layrnorm.weight", "visual.ln_pre.weight"),
        ("vision_model.pre_layrnorm.bias", "visual.ln_pre.bias"),
        ("vision_model.post_layernorm.weight", "visual.ln_post.weight"),
        ("vision_model.post_layernorm.bias", "visual.ln_post.bias"),
        ("text_model.embeddings.token_embedding.weight", "token_embedding.weight"),
        ("text_model.embeddings.position_embedding.weight", "positional_embedding"),
        ("text_model.final_layer_norm.weight", "ln_final.weight"),
        ("text_model.final_layer_norm.bias", "ln_final.bias"),
    ];
    for (from, to) in renames {
        out.insert(to.to_string(), take(from)?);
    }
    out.insert("visual.proj".into(), transpose2(path, take("visual_projection.weight")?)?);
    out.insert("text_projection".into(), transpose2(path, take("text_projection.weight")?)?);
    for (hf_prefix, prefix) in [
        ("vision_model.encoder.layers.", "visual.transformer.resblocks."),
        ("text_model.encoder.layers.", "transformer.resblocks."),
    ] {
        let mut layer = 0;
        while hf.contains_key(&format!("{hf_prefix}{layer}.layer_norm1.weight")) {
            let (src, dst) = (format!("{hf_prefix}{layer}."), format!("{prefix}{layer}."));
            let mut take = |key: &str| {
                let full = format!("{src}{key}");
                hf.remove(&full).ok_or_else(|| Error::checkpoint(path, format!("CLIP tensor `{full}` is missing")))
            };
            for kind in ["weight", "bias"] {
                let q = take(&format!("self_attn.q_proj.{kind}"))?;
                let k = take(&format!("self_attn.k_proj.{kind}"))?;
                let v = take(&format!("self_attn.v_proj.{kind}"))?;
                out.insert(format!("{dst}attn.in_proj_{kind}"), concat0(path, [q, k, v])?);
                for (from, to) in [
                    ("self_attn.out_proj", "attn.out_proj"),
                    ("layer_norm1", "ln_1"),
                    ("layer_norm2", "ln_2"),
                    ("mlp.fc1", "mlp.c_fc"),
                    ("mlp.fc2", "mlp.c_proj"),
                ] {
                    out.insert(format!("{dst}{to}.{kind}"), take(&format!("{from}.{kind}"))?);
                }
            }
            layer += 1;
        }
    }
    Ok(out)
}

fn transpose2(path: &Path, t: Tensor) -> Result<Tensor> {
    let [r, c] = t.shape[..] else {
        return Err(Error::checkpoint(path, format!("a CLIP projection has shape {:?}, expected 2-D", t.shape)));
    };
    Ok(Tensor::new(vec![c, r], transposed(&t.data, r, c)))
}

/// The row-major `(rows, cols)` matrix `data` as row-major `(cols, rows)`.
pub(crate) fn transposed(data: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; data.len()];
    for (r, row) in data.chunks_exact(cols).enumerate() {
        for (c, &v) in row.iter().enumerate() {
            out[c * rows + r] = v;
        }
    }
    out
}

fn concat0(path: &Path, parts: [Tensor; 3]) -> Result<Tensor> {
    let tail = parts[0].shape[1..].to_vec();
    if parts.iter().any(|p| p.shape.is_empty() || p.shape[1..] != tail[..]) {
        return Err(Error::checkpoint(path, "CLIP q/k/v projections have different shapes"));
    }
    let rows = parts.iter().map(|p| p.shape[0]).sum();
    let data = parts.into_iter().flat_map(|p| p.data).collect();
    let mut shape = vec![rows];
    shape.extend(tail);
    Ok(Tensor::new(shape, data))
}

/// `clip.model.convert_weights`: conv, linear and attention weights/biases and the two projections are fp16
/// in the reference's model; embeddings and LayerNorms stay fp32.
fn round_like_convert_weights(sd: &mut BTreeMap<String, Tensor>) {
    for (key, t) in sd.iter_mut() {
        let halved = key.ends_with("conv1.weight")
            || key.contains(".attn.")
            || key.contains(".mlp.")
            || key == "text_projection"
            || key == "visual.proj";
        if halved {
            for v in &mut t.data {
                *v = f16::from_f32(*v).to_f32();
            }
        }
    }
}
