//! CLIP's two towers as ONNX graphs (OpenAI `clip/model.py`: `VisionTransformer`, `CLIP.encode_text`), fp32,
//! batch dimension dynamic. Activations are batch-first (N, L, W); OpenAI's (L, N, W) permutes are layout only.

use std::collections::BTreeMap;
use std::path::Path;

use super::config::{ClipConfig, LAYER_NORM_EPS};
use super::weights::transposed;
use crate::model::onnx::{Conv2d, Dim, GraphBuilder, Model};
use crate::{Error, Result, Tensor};

/// Graph input/output names.
pub const PIXELS: &str = "pixels";
pub const TOKENS: &str = "tokens";
pub const FEATURES: &str = "features";

struct Weights<'a> {
    path: &'a Path,
    sd: &'a BTreeMap<String, Tensor>,
}

impl Weights<'_> {
    fn get(&self, key: &str, shape: &[usize]) -> Result<&Tensor> {
        let t =
            self.sd.get(key).ok_or_else(|| Error::checkpoint(self.path, format!("CLIP tensor `{key}` is missing")))?;
        if t.shape != shape {
            return Err(Error::checkpoint(
                self.path,
                format!("CLIP tensor `{key}` has shape {:?}, expected {shape:?}", t.shape),
            ));
        }
        Ok(t)
    }
}

/// `(N, 3, R, R)` normalised pixels → `(N, embed_dim)` unnormalised image features.
pub fn vision_graph(path: &Path, sd: &BTreeMap<String, Tensor>, cfg: &ClipConfig) -> Result<Model> {
    let w = Weights { path, sd };
    let v = cfg.vision;
    let (width, res) = (v.width, v.image_resolution as i64);
    let mut g = GraphBuilder::new("clip_visual");
    let n = Dim::param("batch");
    let x = g.input(PIXELS, vec![n.clone(), Dim::Fixed(3), Dim::Fixed(res), Dim::Fixed(res)]);
    let p = v.patch_size as i64;
    let conv = Conv2d { stride: [p, p], ..Conv2d::default() };
    let x =
        g.conv("visual.conv1", &x, w.get("visual.conv1.weight", &[width, 3, v.patch_size, v.patch_size])?, None, conv);
    let x = g.reshape("visual.patches", &x, &[0, width as i64, -1]);
    let x = g.transpose("visual.tokens", &x, &[0, 2, 1]);
    // The class token, broadcast over the batch: OpenAI adds it to zeros of shape (N, 1, W).
    let cls = w.get("visual.class_embedding", &[width])?;
    let cls = g.weight("visual.class_embedding", &Tensor::new(vec![1, 1, width], cls.data.clone()));
    let shape = g.op_named("Shape", "visual.shape", &[&x], vec![]);
    let (start, end) = (g.ints("visual.batch_start", &[0]), g.ints("visual.batch_end", &[1]));
    let batch = g.op_named("Slice", "visual.batch", &[&shape, &start, &end], vec![]);
    let rest = g.ints("visual.cls_rest", &[1, width as i64]);
    let cls_shape = g.concat("visual.cls_shape", &[&batch, &rest], 0);
    let cls = g.op_named("Expand", "visual.cls", &[&cls, &cls_shape], vec![]);
    let x = g.concat("visual.with_cls", &[&cls, &x], 1);
    let pos =
        g.weight("visual.positional_embedding", w.get("visual.positional_embedding", &[v.grid * v.grid + 1, width])?);
    let x = g.add("visual.pos", &x, &pos);
    let x = layer_norm(&mut g, &w, "visual.ln_pre", &x, width)?;
    let x = transformer(&mut g, &w, "visual.transformer", &x, width, v.layers, v.heads, None)?;
    let zero = g.ints("visual.class_index", &[0]);
    let x = g.op_named("Gather", "visual.class_token", &[&x, &zero], vec![("axis", 1i64.into())]);
    let x = g.reshape("visual.class_flat", &x, &[0, width as i64]);
    let x = layer_norm(&mut g, &w, "visual.ln_post", &x, width)?;
    let proj = g.weight("visual.proj", w.get("visual.proj", &[width, cfg.embed_dim])?);
    let x = g.matmul("visual.projected", &x, &proj);
    g.output(&x, FEATURES, vec![n, Dim::Fixed(cfg.embed_dim as i64)]);
    Ok(g.finish("fastsam-rs clip"))
}

/// `(N, L <= context)` token ids as fp32 (exact below 2^24) → `(N, embed_dim)` unnormalised text features, taken
/// at the first position of the largest id (the end-of-text token), as `x[arange(N), text.argmax(-1)]`.
pub fn text_graph(path: &Path, sd: &BTreeMap<String, Tensor>, cfg: &ClipConfig) -> Result<Model> {
    let w = Weights { path, sd };
    let t = cfg.text;
    let (width, ctx) = (t.width, t.context_length);
    let mut g = GraphBuilder::new("clip_text");
    let n = Dim::param("batch");
    // The sequence may be cut after the last end-of-text token: with the causal mask, later positions never
    // reach the pooled one, so positions and mask are sliced to the given length.
    let tokens = g.input(TOKENS, vec![n.clone(), Dim::param("sequence")]);
    let ids = g.op_named("Cast", "text.ids", &[&tokens], vec![("to", 7i64.into())]);
    let table = g.weight("token_embedding.weight", w.get("token_embedding.weight", &[t.vocab_size, width])?);
    let x = g.op_named("Gather", "text.embedded", &[&table, &ids], vec![("axis", 0i64.into())]);
    let shape = g.op_named("Shape", "text.shape", &[&tokens], vec![]);
    let (one, two) = (g.ints("text.seq_start", &[1]), g.ints("text.seq_end", &[2]));
    let len = g.op_named("Slice", "text.len", &[&shape, &one, &two], vec![]);
    let len2 = g.concat("text.len2", &[&len, &len], 0);
    let (zero, zeros, axes2) =
        (g.ints("text.zero", &[0]), g.ints("text.zeros", &[0, 0]), g.ints("text.axes2", &[0, 1]));
    let pos = g.weight("positional_embedding", w.get("positional_embedding", &[ctx, width])?);
    let pos = g.op_named("Slice", "text.pos_used", &[&pos, &zero, &len, &zero], vec![]);
    let x = g.add("text.pos", &x, &pos);
    let mask = g.weight("text.causal_mask", &causal_mask(ctx));
    let mask = g.op_named("Slice", "text.mask_used", &[&mask, &zeros, &len2, &axes2], vec![]);
    let x = transformer(&mut g, &w, "transformer", &x, width, t.layers, t.heads, Some(&mask))?;
    let x = layer_norm(&mut g, &w, "ln_final", &x, width)?;
    // ArgMax keeps the first maximum (select_last_index = 0), as torch.argmax does.
    let eot = g.op_named("ArgMax", "text.eot", &[&tokens], vec![("axis", 1i64.into()), ("keepdims", 1i64.into())]);
    let x = g.op_named("GatherND", "text.eot_features", &[&x, &eot], vec![("batch_dims", 1i64.into())]);
    let proj = g.weight("text_projection", w.get("text_projection", &[width, cfg.embed_dim])?);
    let x = g.matmul("text.projected", &x, &proj);
    g.output(&x, FEATURES, vec![n, Dim::Fixed(cfg.embed_dim as i64)]);
    Ok(g.finish("fastsam-rs clip"))
}

/// OpenAI's `build_attention_mask`: -inf above the diagonal, 0 elsewhere.
fn causal_mask(n: usize) -> Tensor {
    let data = (0..n * n).map(|i| if i % n > i / n { f32::NEG_INFINITY } else { 0.0 }).collect();
    Tensor::new(vec![n, n], data)
}

fn layer_norm(g: &mut GraphBuilder, w: &Weights, name: &str, x: &str, width: usize) -> Result<String> {
    let weight = w.get(&format!("{name}.weight"), &[width])?;
    let bias = w.get(&format!("{name}.bias"), &[width])?;
    Ok(g.layer_norm(name, x, weight, bias, LAYER_NORM_EPS))
}

/// `nn.Linear`: `x @ W^T + b`, the weight transposed once here.
fn linear(g: &mut GraphBuilder, w: &Weights, name: &str, x: &str, inp: usize, out: usize) -> Result<String> {
    let weight = w.get(&format!("{name}.weight"), &[out, inp])?;
    let bias = w.get(&format!("{name}.bias"), &[out])?;
    linear_from(g, name, x, weight, bias)
}

fn linear_from(g: &mut GraphBuilder, name: &str, x: &str, weight: &Tensor, bias: &Tensor) -> Result<String> {
    let (out, inp) = (weight.shape[0], weight.shape[1]);
    let wt = g.weight(&format!("{name}.weight_t"), &Tensor::new(vec![inp, out], transposed(&weight.data, out, inp)));
    let b = g.weight(&format!("{name}.bias"), bias);
    let y = g.matmul(&format!("{name}.matmul"), x, &wt);
    Ok(g.add(name, &y, &b))
}

#[allow(clippy::too_many_arguments)]
fn transformer(
    g: &mut GraphBuilder,
    w: &Weights,
    name: &str,
    x: &str,
    width: usize,
    layers: usize,
    heads: usize,
    mask: Option<&str>,
) -> Result<String> {
    let mut x = x.to_string();
    for i in 0..layers {
        let block = format!("{name}.resblocks.{i}");
        let h = layer_norm(g, w, &format!("{block}.ln_1"), &x, width)?;
        let h = attention(g, w, &format!("{block}.attn"), &h, width, heads, mask)?;
        x = g.add(&format!("{block}.res1"), &x, &h);
        let h = layer_norm(g, w, &format!("{block}.ln_2"), &x, width)?;
        let h = linear(g, w, &format!("{block}.mlp.c_fc"), &h, width, 4 * width)?;
        let h = quick_gelu(g, &format!("{block}.mlp.gelu"), &h);
        let h = linear(g, w, &format!("{block}.mlp.c_proj"), &h, 4 * width, width)?;
        x = g.add(&format!("{block}.res2"), &x, &h);
    }
    Ok(x)
}

/// OpenAI's `QuickGELU`: `x * sigmoid(1.702 x)`.
fn quick_gelu(g: &mut GraphBuilder, name: &str, x: &str) -> String {
    let k = g.weight(&format!("{name}.k"), &Tensor::new(vec![], vec![1.702]));
    let kx = g.mul(&format!("{name}.kx"), x, &k);
    let s = g.sigmoid(&format!("{name}.sigmoid"), &kx);
    g.mul(name, x, &s)
}

/// `nn.MultiheadAttention(x, x, x)` with packed `in_proj` weights, on batch-first (N, L, W).
fn attention(
    g: &mut GraphBuilder,
    w: &Weights,
    name: &str,
    x: &str,
    width: usize,
    heads: usize,
    mask: Option<&str>,
) -> Result<String> {
    let head_dim = width / heads;
    let in_w = w.get(&format!("{name}.in_proj_weight"), &[3 * width, width])?;
    let in_b = w.get(&format!("{name}.in_proj_bias"), &[3 * width])?;
    let qkv = linear_from(g, &format!("{name}.in_proj"), x, in_w, in_b)?;
    let parts = g.split(&format!("{name}.qkv"), &qkv, 2, &[width as i64; 3]);
    let split_heads = |g: &mut GraphBuilder, v: &str, hint: &str, perm: &[i64]| {
        let r = g.reshape(&format!("{name}.{hint}_heads"), v, &[0, 0, heads as i64, head_dim as i64]);
        g.transpose(&format!("{name}.{hint}_t"), &r, perm)
    };
    let q = split_heads(g, &parts[0], "q", &[0, 2, 1, 3]);
    let k = split_heads(g, &parts[1], "k", &[0, 2, 3, 1]);
    let v = split_heads(g, &parts[2], "v", &[0, 2, 1, 3]);
    let scale = g.weight(&format!("{name}.scale"), &Tensor::new(vec![], vec![1.0 / (head_dim as f32).sqrt()]));
    let q = g.mul(&format!("{name}.q_scaled"), &q, &scale);
    let mut scores = g.matmul(&format!("{name}.scores"), &q, &k);
    if let Some(m) = mask {
        scores = g.add(&format!("{name}.masked"), &scores, m);
    }
    let p = g.softmax(&format!("{name}.softmax"), &scores, -1);
    let o = g.matmul(&format!("{name}.context"), &p, &v);
    let o = g.transpose(&format!("{name}.context_t"), &o, &[0, 2, 1, 3]);
    let o = g.reshape(&format!("{name}.merged"), &o, &[0, 0, width as i64]);
    linear(g, w, &format!("{name}.out_proj"), &o, width, width)
}
