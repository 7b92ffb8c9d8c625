//! The YOLOv8-seg network (FastSAM) as an ONNX graph, built from the module tree of a pickled
//! `ultralytics.nn.tasks.SegmentationModel`. Nothing is assumed about the topology: the layer list, each layer's
//! inputs (`f`), block types and every hyper-parameter come from the checkpoint, so FastSAM-s and FastSAM-x (and
//! any YOLOv8-seg made of these blocks) load through the same code.
//!
//! Blocks follow `ultralytics/nn/modules/{conv,block,head}.py`: Conv (Conv2d + BatchNorm2d + act, BN folded as
//! in the reference's `fuse()`), C2f, Bottleneck, SPPF, nn.Upsample, Concat and the Segment head (box/class/mask
//! branches per level and Proto). The graph outputs the raw head; [`super::decode`] turns it into the
//! reference's decoded predictions.

use crate::weights::module::{Attr, Module};
use crate::{Error, Result};

use super::decode::HeadLayout;
use super::onnx::{Dim, GraphBuilder, Model};
use super::torch_nn::{self, Activation, At, ConvSpec, R};
use super::winograd_op::{self, ConvAlgorithm};

/// Name of the graph input: `(1, C, H, W)` float32, H and W dynamic.
pub const INPUT: &str = "images";
/// Raw head output `(1, 4·reg_max + nc + nm, A)`.
pub const HEAD: &str = "head";
/// Mask prototypes `(1, nm, H/4, W/4)`.
pub const PROTO: &str = "proto";

/// A YOLOv8-seg network ready for ONNX Runtime.
#[derive(Debug, Clone)]
pub struct SegGraph {
    pub model: Model,
    pub head: HeadLayout,
    /// Input channels (3 for RGB).
    pub input_channels: usize,
}

impl SegGraph {
    /// Builds the graph from the `model` object of an Ultralytics checkpoint (`Checkpoint::load(..)?.model`).
    /// Errors name the offending layer; detection, classification and other non-segmentation models are refused.
    pub fn from_module(root: &Module) -> Result<SegGraph> {
        build(root).map_err(|reason| Error::invalid("segmentation model", reason))
    }

    /// Hands the 3×3 convolutions that are faster with it to this crate's Winograd operator
    /// ([`ConvAlgorithm::Winograd`]); the graph then needs a session from [`super::Engine`]. Returns how many
    /// layers were rewritten. [`ConvAlgorithm::Direct`] leaves the graph standard ONNX.
    pub fn use_conv(&mut self, conv: ConvAlgorithm) -> usize {
        match conv {
            ConvAlgorithm::Winograd { min_channels } => {
                let layers = winograd_op::rewrite(&mut self.model, min_channels);
                tracing::debug!(layers, min_channels, "3×3 convolutions on the Winograd operator");
                layers
            }
            ConvAlgorithm::Direct => 0,
        }
    }

    /// The serialized ONNX model.
    pub fn onnx_bytes(&self) -> Vec<u8> {
        self.model.encode()
    }

    /// Input sizes must be multiples of this (`max(largest level stride, 32)`, as the reference's predictor).
    pub fn stride(&self) -> usize {
        let max = self.head.strides.iter().fold(0.0f32, |m, &s| m.max(s));
        (max as usize).max(32)
    }
}

fn build(root: &Module) -> R<SegGraph> {
    let layers = root
        .child("model")
        .ok_or_else(|| format!("{} is not an Ultralytics model (it has no `model` layer list)", root.kind()))?;
    let layers: Vec<At<'_>> = At { m: layers, path: "model".into() }.children();
    let (last, body) = layers.split_last().ok_or("the model has no layers")?;
    check_task(last)?;

    let input_channels = first_conv_channels(&layers)?;
    let mut net = Net { g: GraphBuilder::new("fastsam_yolov8_seg") };
    let images = net.g.input(
        INPUT,
        vec![Dim::Fixed(1), Dim::Fixed(input_channels as i64), Dim::param("height"), Dim::param("width")],
    );

    let mut outputs: Vec<String> = Vec::with_capacity(layers.len());
    for (index, layer) in body.iter().enumerate() {
        let inputs = layer_inputs(layer, index, &outputs, &images)?;
        let out = net.layer(layer, &inputs)?;
        outputs.push(out);
    }
    let inputs = layer_inputs(last, body.len(), &outputs, &images)?;
    let head = net.segment(last, &inputs)?;
    Ok(SegGraph { model: net.g.finish("fastsam-rs"), head, input_channels })
}

/// Refuses models whose last layer is not a `Segment` head, naming what they are.
fn check_task(last: &At<'_>) -> R<()> {
    let what = match last.kind() {
        "Segment" => return Ok(()),
        "Detect" | "v10Detect" | "WorldDetect" | "YOLOEDetect" | "RTDETRDecoder" => "a detection model",
        "Classify" | "ClassifyV2" => "a classification model",
        "Pose" | "Pose26" => "a pose model",
        "OBB" | "OBB26" => "an oriented-box detection model",
        "SemanticSegment" => "a semantic segmentation model",
        other => return Err(format!("{}: unsupported head `{other}` (FastSAM needs a Segment head)", last.path)),
    };
    Err(format!(
        "this is {what}, not a segmentation model (FastSAM needs a Segment head; found {} at {})",
        last.kind(),
        last.path
    ))
}

fn first_conv_channels(layers: &[At<'_>]) -> R<usize> {
    let first = layers.first().ok_or("the model has no layers")?;
    let conv = first.child("conv")?;
    let w = conv.tensor("weight")?;
    w.shape.get(1).copied().ok_or_else(|| conv.err("weight has no input-channel dimension"))
}

/// The values a layer reads: its `f` attribute (`-1` = previous layer, `j` = layer j, lists for Concat/heads),
/// with Python's negative indexing as `BaseModel._predict_once` uses it.
fn layer_inputs(layer: &At<'_>, index: usize, outputs: &[String], images: &str) -> R<Vec<String>> {
    if let Some(i) = layer.m.attr("i").and_then(Attr::as_i64) {
        if i != index as i64 {
            return Err(layer.err(format_args!("layer index `i` is {i}, expected {index}")));
        }
    }
    let from = match layer.m.attr("f") {
        None => vec![-1],
        Some(a) => a.as_i64s().ok_or_else(|| layer.err("attribute `f` is not integers"))?,
    };
    from.iter()
        .map(|&j| {
            if j == -1 {
                return Ok(outputs.last().map_or(images, String::as_str).to_string());
            }
            let k = if j < 0 { outputs.len() as i64 + j } else { j };
            usize::try_from(k)
                .ok()
                .and_then(|k| outputs.get(k))
                .cloned()
                .ok_or_else(|| layer.err(format_args!("input layer {j} does not exist before layer {index}")))
        })
        .collect()
}

fn single<'v>(layer: &At<'_>, inputs: &'v [String]) -> R<&'v str> {
    match inputs {
        [x] => Ok(x),
        _ => Err(layer.err(format_args!("takes one input, {} given by `f`", inputs.len()))),
    }
}

struct Net {
    g: GraphBuilder,
}

impl Net {
    /// A backbone/neck layer of `model.model`.
    fn layer(&mut self, layer: &At<'_>, inputs: &[String]) -> R<String> {
        match layer.kind() {
            "Conv" | "DWConv" => self.conv_block(layer, single(layer, inputs)?),
            "C2f" => self.c2f(layer, single(layer, inputs)?),
            "SPPF" => self.sppf(layer, single(layer, inputs)?),
            "Upsample" => {
                let scale = torch_nn::upsample(layer)?;
                Ok(self.g.upsample_nearest(&layer.path, single(layer, inputs)?, scale))
            }
            "Concat" => {
                let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
                Ok(self.g.concat(&layer.path, &refs, layer.int_or("d", 1)?))
            }
            "Segment" => Err(layer.err("a Segment head must be the last layer")),
            other => Err(layer.err(format_args!("unsupported layer type `{other}`"))),
        }
    }

    /// Any module inside a head branch: Sequential chains, Conv blocks, plain Conv2d, Identity.
    fn apply(&mut self, m: &At<'_>, x: &str) -> R<String> {
        match m.kind() {
            "Sequential" | "ModuleList" => {
                let mut x = x.to_string();
                for child in m.children() {
                    x = self.apply(&child, &x)?;
                }
                Ok(x)
            }
            "Conv" | "DWConv" => self.conv_block(m, x),
            "Conv2d" => {
                let spec = torch_nn::conv2d(m)?;
                Ok(self.emit_conv(&m.path, x, &spec))
            }
            "Identity" => Ok(x.to_string()),
            other => Err(m.err(format_args!("unsupported module `{other}` in the head"))),
        }
    }

    /// `Conv`: Conv2d with its BatchNorm folded in (a fused checkpoint has no `bn`), then the activation.
    fn conv_block(&mut self, m: &At<'_>, x: &str) -> R<String> {
        let mut spec = torch_nn::conv2d(&m.child("conv")?)?;
        if let Some(bn) = m.opt_child("bn") {
            torch_nn::fold_batch_norm(&mut spec, &bn)?;
        }
        let act = match m.opt_child("act") {
            Some(a) => torch_nn::activation(&a)?,
            None => Activation::Identity,
        };
        let y = self.emit_conv(&format!("{}.conv", m.path), x, &spec);
        Ok(self.emit_act(&m.path, &y, act))
    }

    fn emit_conv(&mut self, hint: &str, x: &str, spec: &ConvSpec) -> String {
        self.g.conv(hint, x, &spec.weight, spec.bias.as_ref(), spec.params)
    }

    fn emit_act(&mut self, hint: &str, x: &str, act: Activation) -> String {
        match act {
            Activation::Identity => x.to_string(),
            Activation::SiLU => self.g.silu(hint, x),
            Activation::ReLU => self.g.op_named("Relu", hint, &[x], vec![]),
            Activation::Sigmoid => self.g.sigmoid(hint, x),
        }
    }

    /// `C2f`: cv1, split in two halves (`chunk(2, 1)`), a chain of bottlenecks on the second half, all parts
    /// concatenated, cv2. `cat(chunk(y))` is `y` itself, so the concatenation starts from cv1's output.
    fn c2f(&mut self, m: &At<'_>, x: &str) -> R<String> {
        let cv1 = m.child("cv1")?;
        let channels = torch_nn::conv2d(&cv1.child("conv")?)?.out_channels() as i64;
        let first = (channels + 1) / 2;
        if let Some(c) = m.m.attr("c").and_then(Attr::as_i64) {
            if 2 * c != channels {
                return Err(m.err(format_args!("hidden width c={c} but cv1 has {channels} output channels")));
            }
        }
        let y = self.conv_block(&cv1, x)?;
        let halves = self.g.split(&format!("{}.chunk", m.path), &y, 1, &[first, channels - first]);
        let mut parts = vec![y];
        let mut last = halves[1].clone();
        for bottleneck in m.child("m")?.children() {
            last = self.bottleneck(&bottleneck, &last)?;
            parts.push(last.clone());
        }
        let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
        let cat = self.g.concat(&format!("{}.cat", m.path), &refs, 1);
        self.conv_block(&m.child("cv2")?, &cat)
    }

    /// `Bottleneck`: cv2(cv1(x)), plus x when its `add` flag (shortcut and equal widths) is set.
    fn bottleneck(&mut self, m: &At<'_>, x: &str) -> R<String> {
        m.expect_kind(&["Bottleneck"])?;
        let add = match m.m.attr("add") {
            Some(a) => a.as_bool().ok_or_else(|| m.err("attribute `add` is not a boolean"))?,
            None => return Err(m.err("missing attribute `add` (shortcut flag)")),
        };
        let y = self.conv_block(&m.child("cv1")?, x)?;
        let y = self.conv_block(&m.child("cv2")?, &y)?;
        Ok(if add { self.g.add(&format!("{}.add", m.path), x, &y) } else { y })
    }

    /// `SPPF`: cv1, `n` chained max-pools (3 before `n` existed), concatenation, cv2, optional residual.
    fn sppf(&mut self, m: &At<'_>, x: &str) -> R<String> {
        let pool = torch_nn::max_pool2d(&m.child("m")?)?;
        if pool.ceil_mode {
            return Err(m.err("ceil-mode max pooling is not supported"));
        }
        let n = m.int_or("n", 3)?;
        let mut parts = vec![self.conv_block(&m.child("cv1")?, x)?];
        for k in 0..n {
            let prev = parts.last().cloned().unwrap_or_default();
            parts.push(self.g.max_pool(&format!("{}.m.{k}", m.path), &prev, pool.kernel, pool.stride, pool.padding));
        }
        let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
        let cat = self.g.concat(&format!("{}.cat", m.path), &refs, 1);
        let y = self.conv_block(&m.child("cv2")?, &cat)?;
        Ok(if m.bool_or("add", false)? { self.g.add(&format!("{}.add", m.path), &y, x) } else { y })
    }

    /// `Segment`: per level the box (cv2), class (cv3) and mask-coefficient (cv4) branches, flattened and
    /// concatenated over levels into the raw head; `Proto` on the first level gives the prototypes.
    fn segment(&mut self, m: &At<'_>, inputs: &[String]) -> R<HeadLayout> {
        for end2end in ["one2one_cv2", "one2one_cv3", "one2one_cv4"] {
            if m.opt_child(end2end).is_some() {
                return Err(m.err("end-to-end (one-to-one) heads are not supported"));
            }
        }
        let nl = inputs.len();
        let layout = head_layout(m, nl)?;
        let branches = ["cv2", "cv3", "cv4"].map(|b| m.child(b).map(|c| c.children()));
        let mut per_kind: [Vec<String>; 3] = Default::default();
        for (k, branch) in branches.into_iter().enumerate() {
            let branch = branch?;
            if branch.len() != nl {
                return Err(m.err(format_args!(
                    "{} has {} levels, the head has {nl} inputs",
                    ["cv2", "cv3", "cv4"][k],
                    branch.len()
                )));
            }
            for (level, (seq, x)) in branch.iter().zip(inputs).enumerate() {
                let y = self.apply(seq, x)?;
                per_kind[k].push(self.g.reshape(&format!("{}.flat{level}", seq.path), &y, &[0, 0, -1]));
            }
        }
        let kinds: Vec<String> = per_kind
            .iter()
            .zip(["boxes", "scores", "coefficients"])
            .map(|(levels, name)| {
                let refs: Vec<&str> = levels.iter().map(String::as_str).collect();
                self.g.concat(&format!("{}.{name}", m.path), &refs, 2)
            })
            .collect();
        let refs: Vec<&str> = kinds.iter().map(String::as_str).collect();
        let head = self.g.concat(&format!("{}.raw", m.path), &refs, 1);
        let proto = self.proto(&m.child("proto")?, &inputs[0])?;

        let channels = layout.raw_channels() as i64;
        self.g.output(&head, HEAD, vec![Dim::Fixed(1), Dim::Fixed(channels), Dim::param("anchors")]);
        let nm = layout.nm as i64;
        self.g.output(
            &proto,
            PROTO,
            vec![Dim::Fixed(1), Dim::Fixed(nm), Dim::param("proto_height"), Dim::param("proto_width")],
        );
        Ok(layout)
    }

    /// `Proto`: cv1 → ConvTranspose2d upsample → cv2 → cv3.
    fn proto(&mut self, m: &At<'_>, x: &str) -> R<String> {
        m.expect_kind(&["Proto"])?;
        let y = self.conv_block(&m.child("cv1")?, x)?;
        let up = m.child("upsample")?;
        let spec = torch_nn::conv_transpose2d(&up)?;
        let y = self.g.conv_transpose(&up.path, &y, &spec.weight, spec.bias.as_ref(), spec.params);
        let y = self.conv_block(&m.child("cv2")?, &y)?;
        self.conv_block(&m.child("cv3")?, &y)
    }
}

/// `nc`, `nm`, `reg_max`, strides and DFL weights of a Segment head.
fn head_layout(m: &At<'_>, nl: usize) -> R<HeadLayout> {
    let count = |name: &str| -> R<usize> {
        usize::try_from(m.int(name)?).map_err(|_| m.err(format_args!("`{name}` is negative")))
    };
    let (nc, nm) = (count("nc")?, count("nm")?);
    // Checkpoints older than `reg_max` as an attribute always used 16 bins.
    let reg_max = usize::try_from(m.int_or("reg_max", 16)?).map_err(|_| m.err("`reg_max` is negative"))?;
    let strides: Vec<f32> = m.floats("stride")?.into_iter().map(|s| s as f32).collect();
    if strides.len() != nl || strides.iter().any(|&s| s <= 0.0 || s.fract() != 0.0) {
        return Err(m.err(format_args!("strides {strides:?} do not fit {nl} levels (was the model ever built?)")));
    }
    let dfl = if reg_max > 1 {
        let conv = m.child("dfl")?.child("conv")?;
        let w = conv.tensor("weight")?;
        if w.numel() != reg_max {
            return Err(conv.err(format_args!("DFL weight has {} values, expected reg_max={reg_max}", w.numel())));
        }
        w.data.clone()
    } else {
        Vec::new()
    };
    Ok(HeadLayout { nc, nm, reg_max, strides, dfl })
}
