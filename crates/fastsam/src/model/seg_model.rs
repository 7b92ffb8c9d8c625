//! The stage-1 network behind one interface, whatever file it came from: an Ultralytics checkpoint (`.pt`,
//! built into a graph here) or an Ultralytics ONNX export (run as it is).

use std::path::Path;

use crate::weights::checkpoint::Checkpoint;
use crate::{Error, Result, Tensor};

use super::decode::{decode, HeadLayout};
use super::onnx;
use super::quantize::{self, CalibrationSet, Int8Kernels, Precision, WeightRange};
use super::runtime::{Engine, EngineOptions};
use super::winograd_op::ConvAlgorithm;
use super::yolov8_seg::SegGraph;

/// The network's output for one image, as the reference's `Segment` head returns it in inference mode.
#[derive(Debug, Clone)]
pub struct SegOutput {
    /// `(1, 4 + nc + nm, A)`: xywh boxes in input pixels, class scores after sigmoid, raw mask coefficients;
    /// anchors of all levels, finest first, row-major within a level.
    pub preds: Tensor,
    /// `(1, nm, H/4, W/4)` mask prototypes.
    pub proto: Tensor,
}

/// A YOLOv8-seg (FastSAM) network ready to run.
#[derive(Debug)]
pub struct SegModel {
    engine: Engine,
    kind: Kind,
    input_channels: usize,
    stride: usize,
}

#[derive(Debug)]
enum Kind {
    /// Built from a checkpoint: the graph returns the raw head, decoded here.
    Graph(HeadLayout),
    /// An Ultralytics export: decoded predictions straight from the graph; fixed input size if not dynamic.
    Exported { fixed: Option<(usize, usize)> },
}

impl SegModel {
    /// Loads a FastSAM / YOLOv8-seg model, telling the format from the content: a zip archive is a PyTorch
    /// checkpoint (built into a graph), an ONNX protobuf an Ultralytics export. ONNX Runtime uses every core.
    pub fn load(path: impl AsRef<Path>) -> Result<SegModel> {
        Self::load_with(path, &EngineOptions::default())
    }

    pub fn load_with(path: impl AsRef<Path>, options: &EngineOptions) -> Result<SegModel> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
        Self::from_bytes(path, &bytes, options)
    }

    /// Like [`SegModel::load`] from bytes already in memory; `path` is used in messages only.
    pub fn from_bytes(path: &Path, bytes: &[u8], options: &EngineOptions) -> Result<SegModel> {
        if bytes.starts_with(b"PK\x03\x04") {
            let checkpoint = Checkpoint::from_bytes(&path.display().to_string(), bytes)?;
            let graph = SegGraph::from_module(&checkpoint.model).map_err(|e| at_path(path, e))?;
            let graph = GraphVariant::for_options(options)?.prepare(graph, options)?;
            Self::from_graph(&graph, options)
        } else if let Some(metadata) = onnx::model_metadata(bytes) {
            if options.precision != Precision::Fp32 {
                return Err(Error::checkpoint(
                    path,
                    "int8 is built from a PyTorch checkpoint (.pt): an ONNX export runs in the precision it was exported in",
                ));
            }
            Self::exported(path, bytes, &metadata, options)
        } else {
            Err(Error::checkpoint(
                path,
                "not a model file: expected a PyTorch checkpoint (zip archive, e.g. FastSAM-s.pt) or an ONNX model",
            ))
        }
    }

    /// A model from a graph built with [`SegGraph::from_module`] (run as it is: see [`SegGraph::use_conv`]).
    pub fn from_graph(graph: &SegGraph, options: &EngineOptions) -> Result<SegModel> {
        Self::from_onnx_graph_bytes(&graph.onnx_bytes(), graph.head.clone(), graph.input_channels, options)
    }

    /// A model from the serialized ONNX of a [`SegGraph`] (`onnx_bytes()`) and that graph's `head` and
    /// `input_channels`, e.g. kept in a cache so a later start skips reading the checkpoint.
    pub fn from_onnx_graph_bytes(
        onnx: &[u8],
        head: HeadLayout,
        input_channels: usize,
        options: &EngineOptions,
    ) -> Result<SegModel> {
        let engine = Engine::from_bytes(onnx, options)?;
        let stride = head.strides.iter().fold(0.0f32, |m, &s| m.max(s)).max(32.0) as usize;
        Ok(SegModel { engine, kind: Kind::Graph(head), input_channels, stride })
    }

    fn exported(path: &Path, bytes: &[u8], metadata: &[(String, String)], options: &EngineOptions) -> Result<SegModel> {
        let meta = |key: &str| metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
        if let Some(task) = meta("task").filter(|t| *t != "segment") {
            let what = match task {
                "detect" => "a detection",
                "classify" => "a classification",
                "pose" => "a pose",
                "obb" => "an oriented-box detection",
                other => other,
            };
            return Err(Error::checkpoint(
                path,
                format!("this is {what} model (Ultralytics ONNX export, task `{task}`), not a segmentation model (FastSAM needs a Segment head)"),
            ));
        }
        let with_nms = meta("args").is_some_and(|a| a.contains("'nms': True"));
        if with_nms || meta("end2end").is_some_and(|v| v == "True") {
            return Err(Error::checkpoint(
                path,
                "this export already applies NMS / end-to-end selection; export it with nms=False (the default)",
            ));
        }
        let engine = Engine::from_bytes(bytes, options).map_err(|e| at_path(path, e))?;
        let (input_channels, fixed) = check_export_io(&engine).map_err(|reason| Error::checkpoint(path, reason))?;
        let stride = meta("stride").and_then(|s| s.trim().parse::<usize>().ok()).unwrap_or(32).max(32);
        Ok(SegModel { engine, kind: Kind::Exported { fixed }, input_channels, stride })
    }

    /// The input size `(height, width)` the model requires, for exports with a fixed input; `None` when any
    /// multiple of [`SegModel::stride`] works.
    pub fn fixed_input(&self) -> Option<(usize, usize)> {
        match self.kind {
            Kind::Graph(_) => None,
            Kind::Exported { fixed } => fixed,
        }
    }

    /// Input sizes must be multiples of this (32 for every YOLOv8 model).
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// Layout of the head, for models built from a checkpoint.
    pub fn head_layout(&self) -> Option<&HeadLayout> {
        match &self.kind {
            Kind::Graph(layout) => Some(layout),
            Kind::Exported { .. } => None,
        }
    }

    /// Runs the network on a `(1, C, H, W)` image tensor (RGB in `[0, 1]`, letterboxed).
    pub fn run(&self, images: &Tensor) -> Result<SegOutput> {
        let (height, width) = self.check_input(images)?;
        let mut outputs = self.engine.run(&[images])?.into_iter();
        let (Some(first), Some(proto)) = (outputs.next(), outputs.next()) else {
            return Err(Error::Runtime("the network returned fewer than two outputs".into()));
        };
        let preds = match &self.kind {
            Kind::Graph(layout) => decode(&first, layout, height, width)?,
            Kind::Exported { .. } => first,
        };
        Ok(SegOutput { preds, proto })
    }

    fn check_input(&self, images: &Tensor) -> Result<(usize, usize)> {
        let [1, c, h, w] = images.shape[..] else {
            return Err(Error::invalid("network input", format!("shape {:?}, expected (1, C, H, W)", images.shape)));
        };
        if c != self.input_channels {
            return Err(Error::invalid(
                "network input",
                format!("{c} channels, the model takes {}", self.input_channels),
            ));
        }
        match self.fixed_input() {
            Some(fixed) if fixed != (h, w) => Err(Error::invalid(
                "network input",
                format!("{h}×{w}, but this exported model takes exactly {}×{}", fixed.0, fixed.1),
            )),
            _ if h == 0 || w == 0 || h % self.stride != 0 || w % self.stride != 0 => Err(Error::invalid(
                "network input",
                format!("{h}×{w} is not a non-zero multiple of the stride {}", self.stride),
            )),
            _ => Ok((h, w)),
        }
    }
}

/// Which graph a checkpoint becomes for a session: the standard fp32 graph, the same with the Winograd
/// operator, or a quantised graph for one calibration set. Graph caches key on [`GraphVariant::key`].
#[derive(Debug, Clone)]
pub enum GraphVariant {
    Fp32(ConvAlgorithm),
    Int8 { calibration: CalibrationSet, weights: WeightRange },
}

impl GraphVariant {
    /// The variant `options` call for (reads, but does not decode, the calibration images of an int8 request,
    /// and reports which int8 kernels this CPU gets).
    pub fn for_options(options: &EngineOptions) -> Result<GraphVariant> {
        match &options.precision {
            Precision::Fp32 => Ok(GraphVariant::Fp32(options.graph_conv())),
            Precision::Int8(calibration) => {
                Int8Kernels::detect().report();
                Ok(GraphVariant::Int8 {
                    calibration: CalibrationSet::load(calibration)?,
                    weights: WeightRange::for_this_cpu(),
                })
            }
        }
    }

    /// A file-name suffix naming the variant: empty for the standard graph.
    pub fn key(&self) -> String {
        match self {
            GraphVariant::Fp32(ConvAlgorithm::Direct) => String::new(),
            GraphVariant::Fp32(ConvAlgorithm::Winograd { min_channels }) => format!(".winograd{min_channels}"),
            GraphVariant::Int8 { calibration, weights } => format!(".int8-{}", calibration.id(*weights)),
        }
    }

    /// Turns the standard graph of a checkpoint into this variant (`options` give the calibration threads).
    pub fn prepare(&self, mut graph: SegGraph, options: &EngineOptions) -> Result<SegGraph> {
        match self {
            GraphVariant::Fp32(conv) => {
                graph.use_conv(*conv);
            }
            GraphVariant::Int8 { calibration, weights } => {
                let (model, _) = quantize::quantize(&graph, calibration, *weights, options)?;
                graph.model = model;
            }
        }
        Ok(graph)
    }
}

/// Validates an export's inputs/outputs: one `(1, C, H, W)` input, detections `(1, 4 + nc + nm, A)` and
/// prototypes `(1, nm, h, w)`. Returns the input channels and the fixed input size, if any.
fn check_export_io(engine: &Engine) -> std::result::Result<(usize, Option<(usize, usize)>), String> {
    let [input] = engine.inputs() else {
        return Err(format!(
            "an Ultralytics segmentation export has one input, this model has {}",
            engine.inputs().len()
        ));
    };
    let [Some(1), Some(channels), h, w] = input.shape[..] else {
        return Err(format!("input `{}` has shape {:?}, expected (1, C, H, W)", input.name, input.shape));
    };
    match engine.outputs() {
        [preds, proto] if preds.shape.len() == 3 && proto.shape.len() == 4 => {
            if let (Some(c), Some(nm)) = (preds.shape[1], proto.shape[1]) {
                if c <= 4 + nm {
                    return Err(format!("output `{}` has {c} channels: too few for boxes, classes and {nm} mask coefficients", preds.name));
                }
            }
            Ok((channels, h.zip(w)))
        }
        [_] => Err("this ONNX model has one output: a detection (or other) model, not a segmentation model \
                    (FastSAM needs a Segment head, whose export has two outputs)"
            .into()),
        outputs => Err(format!(
            "outputs {:?} are not those of an Ultralytics segmentation export (detections (1, 4+nc+nm, A), prototypes (1, nm, h, w))",
            outputs.iter().map(|o| (&o.name, &o.shape)).collect::<Vec<_>>()
        )),
    }
}

/// Re-labels an error about "the model" with the file it came from.
fn at_path(path: &Path, e: Error) -> Error {
    match e {
        Error::Invalid { reason, .. } | Error::Runtime(reason) => Error::checkpoint(path, reason),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_can_be_shared_between_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<SegModel>();
    }
}
