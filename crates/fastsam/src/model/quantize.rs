//! int8 inference: a statically quantised copy of a checkpoint's graph, built here (no Python at run time).
//!
//! The graph is written in ONNX's QDQ form with **uint8 activations and int8 per-output-channel weights**
//! (U8S8): every activation tensor passes through a `QuantizeLinear` → `DequantizeLinear` pair and every
//! quantised convolution reads its weight through a `DequantizeLinear`. ONNX Runtime's graph optimiser fuses
//! these patterns into `QLinearConv`, `QLinearSigmoid`, `QLinearMul`, `QLinearAdd`, `QLinearConcat` and drops the
//! pairs around `MaxPool`, `Resize` and `Split`, so the network runs on integer kernels. (S8S8 activations are not
//! fused on x86 and run slower than fp32; see the README's int8 section.)
//!
//! What stays fp32: the last convolution before the detection head's output and everything after it — the final
//! box (DFL logits), class and mask-coefficient convolutions — and, outside the graph, the whole decode (DFL,
//! box arithmetic, class sigmoid) in [`super::decode`]. The prototypes run in int8 up to a final dequantisation
//! ([`INTEGER_OUTPUTS`]).
//!
//! Activation ranges come from running the fp32 graph on calibration images ([`CalibrationSet`]) and taking
//! each tensor's min/max (ONNX Runtime's `MinMax` calibration). Outputs of `MaxPool`, `Resize` and `Split` share
//! their input's range, which ONNX Runtime requires to drop their Q/DQ pairs.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::onnx::{AttrValue, Dim, Model, Node, TensorData, TensorProto, ValueInfo};
use super::runtime::{Engine, EngineOptions};
use super::winograd_op::ConvAlgorithm;
use super::yolov8_seg::SegGraph;
use crate::image::{DecodeLimits, Letterbox, RgbImage};
use crate::{Error, Result, Tensor};

/// Bumped whenever the quantised graph for the same checkpoint and images would change (cache key).
const FORMAT_VERSION: u32 = 3;

/// Input sizes the calibration images are letterboxed to: FastSAM's own 1024 and the common 640, so ranges
/// cover objects at both scales.
const CALIBRATION_SIZES: [u32; 2] = [1024, 640];

/// A folder of the user's own images is read up to this many files (sorted by name).
pub const MAX_CALIBRATION_IMAGES: usize = 64;

/// The images built in for calibration when the user gives none: Ultralytics' two sample photos (a street
/// scene and people indoors), ~190 kB in all.
const BUILTIN_IMAGES: [(&str, &[u8]); 2] = [
    ("bus.jpg", include_bytes!("../../assets/calibration/bus.jpg")),
    ("zidane.jpg", include_bytes!("../../assets/calibration/zidane.jpg")),
];

/// Numeric precision of a network built from a checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Precision {
    /// Exactly the reference's arithmetic (the default).
    #[default]
    Fp32,
    /// Statically quantised (U8S8), calibrated on these images.
    Int8(Calibration),
}

/// Where the calibration images come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Calibration {
    /// The images built into the library ([`BUILTIN_IMAGES`]).
    #[default]
    Builtin,
    /// Every decodable image file directly inside this folder (at most [`MAX_CALIBRATION_IMAGES`]).
    Dir(PathBuf),
}

/// Weight range of the quantised convolutions, chosen for the CPU: without VNNI, x86's `vpmaddubsw` adds two
/// u8·s8 products into a saturating int16, so full-range weights can overflow; 7-bit weights cannot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightRange {
    /// ±127.
    Full,
    /// ±63 (ONNX Runtime's `reduce_range`).
    Reduced,
}

impl WeightRange {
    /// The range this CPU's int8 kernels need.
    pub fn for_this_cpu() -> WeightRange {
        Self::for_kernels(Int8Kernels::detect())
    }

    pub fn for_kernels(kernels: Int8Kernels) -> WeightRange {
        if kernels.saturates() {
            WeightRange::Reduced
        } else {
            WeightRange::Full
        }
    }

    /// The largest weight magnitude, in quantisation steps.
    pub fn max_step(self) -> i8 {
        self.max() as i8
    }

    fn max(self) -> f32 {
        match self {
            WeightRange::Full => 127.0,
            WeightRange::Reduced => 63.0,
        }
    }
}

/// The integer dot-product instructions ONNX Runtime's int8 kernels get on this CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Int8Kernels {
    Avx512Vnni,
    AvxVnni,
    /// AVX2/AVX-512 without VNNI: u8·s8 pairs summed in saturating int16 (`vpmaddubsw`).
    X86WithoutVnni,
    ArmDotProd,
    /// No integer dot-product instructions known to help: int8 is unlikely to be faster than fp32.
    Other,
}

impl Int8Kernels {
    pub fn detect() -> Int8Kernels {
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        {
            if std::arch::is_x86_feature_detected!("avx512vnni") {
                return Int8Kernels::Avx512Vnni;
            }
            if std::arch::is_x86_feature_detected!("avxvnni") {
                return Int8Kernels::AvxVnni;
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                return Int8Kernels::X86WithoutVnni;
            }
        }
        #[cfg(target_arch = "aarch64")]
        {
            if std::arch::is_aarch64_feature_detected!("dotprod") {
                return Int8Kernels::ArmDotProd;
            }
        }
        Int8Kernels::Other
    }

    /// Whether int8 is expected to beat fp32 on this CPU (VNNI or Arm dot products).
    pub fn fast(self) -> bool {
        matches!(self, Int8Kernels::Avx512Vnni | Int8Kernels::AvxVnni | Int8Kernels::ArmDotProd)
    }

    fn saturates(self) -> bool {
        self == Int8Kernels::X86WithoutVnni
    }

    pub fn describe(self) -> &'static str {
        match self {
            Int8Kernels::Avx512Vnni => "AVX-512 VNNI (vpdpbusd)",
            Int8Kernels::AvxVnni => "AVX-VNNI (vpdpbusd, 256-bit)",
            Int8Kernels::X86WithoutVnni => "AVX2 without VNNI (vpmaddubsw; 7-bit weights against int16 saturation)",
            Int8Kernels::ArmDotProd => "Arm dot product (sdot/udot)",
            Int8Kernels::Other => "no integer dot-product instructions",
        }
    }

    /// Logs which kernels int8 gets, and warns when they are unlikely to be faster than fp32.
    pub fn report(self) {
        if self.fast() {
            tracing::info!("int8 inference on {}", self.describe());
        } else {
            tracing::warn!(
                "int8 inference on {}: this CPU has no VNNI, so int8 is unlikely to be faster than fp32 (measure with `fastsam bench --precision int8`)",
                self.describe()
            );
        }
    }
}

/// Calibration images, read but not yet decoded: enough to key the cache.
#[derive(Debug, Clone)]
pub struct CalibrationSet {
    images: Vec<(String, Vec<u8>)>,
}

impl CalibrationSet {
    pub fn load(calibration: &Calibration) -> Result<CalibrationSet> {
        match calibration {
            Calibration::Builtin => Ok(CalibrationSet {
                images: BUILTIN_IMAGES.iter().map(|(name, bytes)| (name.to_string(), bytes.to_vec())).collect(),
            }),
            Calibration::Dir(dir) => Self::from_dir(dir),
        }
    }

    fn from_dir(dir: &Path) -> Result<CalibrationSet> {
        let entries = std::fs::read_dir(dir).map_err(|source| Error::Io { path: dir.to_path_buf(), source })?;
        let mut files: Vec<PathBuf> =
            entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_file()).collect();
        files.sort();
        let mut images = Vec::new();
        for path in files {
            if images.len() == MAX_CALIBRATION_IMAGES {
                tracing::info!("calibrating on the first {MAX_CALIBRATION_IMAGES} images of {}", dir.display());
                break;
            }
            let bytes = std::fs::read(&path).map_err(|source| Error::Io { path: path.clone(), source })?;
            // Other files (notes, annotations) are skipped; an image that fails to decode is an error later.
            if crate::image::Format::sniff(&bytes).is_ok() {
                images.push((path.display().to_string(), bytes));
            }
        }
        if images.is_empty() {
            return Err(Error::invalid(
                "calibration",
                format!("{}: no image files (JPEG, PNG, WebP, BMP, TIFF, GIF) in this folder", dir.display()),
            ));
        }
        Ok(CalibrationSet { images })
    }

    pub fn len(&self) -> usize {
        self.images.len()
    }

    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }

    /// A digest of the images' contents (names left out), the sizes and the quantisation scheme: equal ids
    /// give equal quantised graphs for the same checkpoint.
    pub fn id(&self, weights: WeightRange) -> String {
        let mut hash = Sha256::new();
        hash.update(format!("fastsam-int8 v{FORMAT_VERSION} {weights:?} {CALIBRATION_SIZES:?}\n").as_bytes());
        for (_, bytes) in &self.images {
            hash.update((bytes.len() as u64).to_le_bytes());
            hash.update(bytes);
        }
        hash.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect()
    }

    /// Network inputs: every image letterboxed as the pipeline does, at each of [`CALIBRATION_SIZES`].
    fn inputs(&self, stride: u32) -> Result<Vec<Tensor>> {
        let mut out = Vec::new();
        for (name, bytes) in &self.images {
            let image: RgbImage = crate::image::decode(bytes, name, &DecodeLimits::default())?;
            for size in CALIBRATION_SIZES {
                let size = size.div_ceil(stride) * stride;
                let letterbox = Letterbox::new(image.width, image.height, (size, size), true, stride)?;
                out.push(letterbox.to_tensor(&image)?);
            }
        }
        Ok(out)
    }
}

/// Operators that get quantised inputs and outputs.
const QUANTISED_OPS: [&str; 10] =
    ["Conv", "ConvTranspose", "Sigmoid", "Mul", "Add", "Concat", "MaxPool", "Resize", "Split", "DepthToSpace"];
/// Of those, the ones whose outputs must share their input's scale and zero point (ONNX Runtime drops their Q/DQ
/// pairs only then; their outputs lie inside their input's range anyway).
const RANGE_PRESERVING_OPS: [&str; 4] = ["MaxPool", "Resize", "Split", "DepthToSpace"];

/// Outputs computed in int8 up to a final dequantisation. The prototypes are only ever combined linearly (by the
/// fp32 mask coefficients) and thresholded, so 8 bits over their range suffice; keeping their last convolution
/// in fp32 cost ~8 % of FastSAM-s' int8 forward at 1024 (a dequantise of the 128-channel 256×256 input, a
/// layout reorder and the float convolution).
const INTEGER_OUTPUTS: [&str; 1] = [super::yolov8_seg::PROTO];

/// What [`quantize`] did, for logs and tests.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantizeReport {
    /// Convolutions with int8 weights.
    pub int8_convs: usize,
    /// Convolutions kept in fp32 (the last one before each output).
    pub fp32_convs: usize,
    /// Activation tensors with a Q/DQ pair.
    pub quantised_tensors: usize,
    /// Network inputs the ranges were measured on.
    pub calibration_inputs: usize,
}

/// The int8 (QDQ, U8S8) version of `graph`, calibrated on `set`. `graph` must be standard ONNX (built with
/// [`ConvAlgorithm::Direct`]); `engine` gives the threads of the calibration runs.
pub fn quantize(
    graph: &SegGraph,
    set: &CalibrationSet,
    weights: WeightRange,
    engine: &EngineOptions,
) -> Result<(Model, QuantizeReport)> {
    let model = &graph.model;
    if let Some(node) = model.graph.nodes.iter().find(|n| !n.domain.is_empty()) {
        return Err(Error::invalid(
            "int8 graph",
            format!("node {} is a custom operator ({}); quantise the standard graph", node.name, node.op_type),
        ));
    }
    let mut model = model.clone();
    let split = split_activated_convs(&mut model);
    let upsamplers = conv_transpose_as_depth_to_space(&mut model);
    tracing::debug!(split, upsamplers, "C2f splits folded into their convolutions, upsamplers rewritten");
    let model = &model;
    let plan = Plan::new(model);
    let inputs = set.inputs(graph.stride() as u32)?;
    let ranges = calibrate(model, &plan, &inputs, engine)?;
    let mut report = QuantizeReport {
        int8_convs: 0,
        fp32_convs: 0,
        quantised_tensors: plan.tensors.len(),
        calibration_inputs: inputs.len(),
    };
    let quantised = rewrite(model, &plan, &ranges, weights, &mut report)?;
    tracing::info!(?report, "int8 graph built");
    Ok((quantised, report))
}

/// Folds each C2f's `Split` of an activated convolution into the convolution: `Split(SiLU(Conv(x)))` becomes one
/// convolution (and SiLU) per piece, over the matching output channels of the weight, and a `Concat` that
/// read the whole tensor reads the pieces instead (`concat(split(y)) = y`). Exact in real arithmetic; for int8
/// it removes the one operator of the backbone ONNX Runtime cannot run on integers (with the layout transposes
/// around it), and gives each half its own scale. Returns how many splits were folded.
fn split_activated_convs(model: &mut Model) -> usize {
    let mut folded = 0;
    loop {
        let g = &model.graph;
        let consumers = |t: &str| g.nodes.iter().filter(|n| n.inputs.iter().any(|i| i == t)).count();
        let producer = |t: &str| g.nodes.iter().position(|n| n.outputs.iter().any(|o| o == t));
        let ints = |name: &str| {
            g.initializers.iter().find(|t| t.name == name).and_then(|t| match &t.data {
                TensorData::I64(v) => Some(v.clone()),
                _ => None,
            })
        };
        let found = g.nodes.iter().enumerate().find_map(|(si, split)| {
            let axis_1 = split.attrs.iter().any(|(k, v)| k == "axis" && *v == AttrValue::Int(1));
            if split.op_type != "Split" || !axis_1 || split.inputs.len() != 2 {
                return None;
            }
            let sizes = ints(&split.inputs[1])?;
            let y = &split.inputs[0];
            let mi = producer(y)?;
            let mul = &g.nodes[mi];
            let [c, s] = &mul.inputs[..] else { return None };
            let (gi, ci) = (producer(s)?, producer(c)?);
            let (sig, conv) = (&g.nodes[gi], &g.nodes[ci]);
            let simple = mul.op_type == "Mul"
                && sig.op_type == "Sigmoid"
                && sig.inputs[0] == *c
                && conv.op_type == "Conv"
                && conv.inputs.len() == 3
                && consumers(c) == 2
                && consumers(s) == 1;
            // Every other reader of y must be a Concat along the channels.
            let others_ok = g.nodes.iter().enumerate().all(|(k, n)| {
                k == si
                    || !n.inputs.contains(y)
                    || (n.op_type == "Concat" && n.attrs.iter().any(|(a, v)| a == "axis" && *v == AttrValue::Int(1)))
            });
            (simple && others_ok).then_some((si, mi, gi, ci, sizes))
        });
        let Some((si, mi, gi, ci, sizes)) = found else { return folded };
        let (split, conv, y) =
            (model.graph.nodes[si].clone(), model.graph.nodes[ci].clone(), model.graph.nodes[mi].outputs[0].clone());
        let take = |name: &str, g: &mut super::onnx::Graph| -> Option<TensorProto> {
            let k = g.initializers.iter().position(|t| t.name == name)?;
            Some(g.initializers.remove(k))
        };
        let (Some(w), Some(b)) = (take(&conv.inputs[1], &mut model.graph), take(&conv.inputs[2], &mut model.graph))
        else {
            return folded;
        };
        let (TensorData::F32(wv), TensorData::F32(bv)) = (&w.data, &b.data) else { return folded };
        take(&split.inputs[1], &mut model.graph);
        let per = wv.len() / (w.dims[0].max(1) as usize);
        let mut pieces = Vec::new();
        let mut start = 0usize;
        for (k, (&size, out)) in sizes.iter().zip(&split.outputs).enumerate() {
            let size = size as usize;
            let (wn, bn) = (format!("{}.{k}", w.name), format!("{}.{k}", b.name));
            let mut dims = w.dims.clone();
            dims[0] = size as i64;
            model.graph.initializers.push(TensorProto {
                name: wn.clone(),
                dims,
                data: TensorData::F32(wv[start * per..(start + size) * per].to_vec()),
            });
            model.graph.initializers.push(TensorProto {
                name: bn.clone(),
                dims: vec![size as i64],
                data: TensorData::F32(bv[start..start + size].to_vec()),
            });
            let c = format!("{}.{k}", conv.outputs[0]);
            let s = format!("{c}.sigmoid");
            pieces.push(Node {
                name: c.clone(),
                inputs: vec![conv.inputs[0].clone(), wn, bn],
                outputs: vec![c.clone()],
                ..conv.clone()
            });
            pieces.push(node(s.clone(), "Sigmoid", vec![c.clone()], s.clone(), vec![]));
            pieces.push(node(out.clone(), "Mul", vec![c, s], out.clone(), vec![]));
            start += size;
        }
        for n in &mut model.graph.nodes {
            if n.op_type == "Concat" && n.inputs.contains(&y) {
                n.inputs = n
                    .inputs
                    .iter()
                    .flat_map(|i| if *i == y { split.outputs.clone() } else { vec![i.clone()] })
                    .collect();
            }
        }
        // The pieces take the place of the Split (after their input, before every reader of the pieces).
        let nodes = std::mem::take(&mut model.graph.nodes);
        for (k, n) in nodes.into_iter().enumerate() {
            if k == si {
                model.graph.nodes.append(&mut pieces);
            } else if k != mi && k != gi && k != ci {
                model.graph.nodes.push(n);
            }
        }
        folded += 1;
    }
}

/// Rewrites each `ConvTranspose` whose kernel equals its stride (the prototypes' 2×2 upsampler) as a 1×1 `Conv`
/// to `k²` phases per output channel followed by `DepthToSpace` (CRD): with no overlap between kernel
/// positions, output pixel `(k·i + a, k·j + b)` of channel `o` is input pixel `(i, j)` times `W[:, o, a, b]`, and
/// the 1×1 conv computes every `(o, a, b)` at once. Exact in real arithmetic. ONNX Runtime has no integer
/// `ConvTranspose` (it runs in float between a dequantise and a quantise, and slowly: ~11 % of FastSAM-s' int8
/// forward); the rewrite runs on `QLinearConv`. Returns how many were rewritten.
fn conv_transpose_as_depth_to_space(model: &mut Model) -> usize {
    let g = &mut model.graph;
    let mut rewritten = 0;
    let mut nodes = Vec::with_capacity(g.nodes.len());
    for n in std::mem::take(&mut g.nodes) {
        let attr = |name: &str| n.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v);
        let ints = |name: &str| match attr(name) {
            Some(AttrValue::Ints(v)) => Some(v.clone()),
            _ => None,
        };
        let kernel = ints("kernel_shape").unwrap_or_default();
        let plain = n.op_type == "ConvTranspose"
            && n.inputs.len() == 3
            && kernel.len() == 2
            && kernel[0] == kernel[1]
            && kernel[0] > 0
            && ints("strides").as_ref() == Some(&kernel)
            && ints("pads").is_none_or(|p| p.iter().all(|&x| x == 0))
            && ints("dilations").is_none_or(|d| d.iter().all(|&x| x == 1))
            && ints("output_padding").is_none_or(|d| d.iter().all(|&x| x == 0))
            && ints("output_shape").is_none()
            && attr("group").is_none_or(|v| *v == AttrValue::Int(1));
        let find = |name: &str| g.initializers.iter().position(|t| t.name == name);
        let Some((wi, bi)) = plain.then(|| find(&n.inputs[1]).zip(find(&n.inputs[2]))).flatten() else {
            nodes.push(n);
            continue;
        };
        let (w, b) = (&g.initializers[wi], &g.initializers[bi]);
        let (TensorData::F32(wv), TensorData::F32(bv)) = (&w.data, &b.data) else {
            nodes.push(n);
            continue;
        };
        // IOHW [ci, co, k, k] → OIHW [co·k², ci, 1, 1], output channel (o·k + a)·k + b as CRD reads it.
        let k = kernel[0] as usize;
        let (ci, co) = (w.dims[0] as usize, w.dims[1] as usize);
        let kk = k * k;
        let mut weight = vec![0f32; co * kk * ci];
        for i in 0..ci {
            for o in 0..co {
                for p in 0..kk {
                    weight[(o * kk + p) * ci + i] = wv[(i * co + o) * kk + p];
                }
            }
        }
        let bias: Vec<f32> = bv.iter().flat_map(|&x| std::iter::repeat_n(x, kk)).collect();
        let (wn, bn) = (format!("{}.phases", w.name), format!("{}.phases", b.name));
        let phases = format!("{}.phases", n.outputs[0]);
        g.initializers.push(TensorProto {
            name: wn.clone(),
            dims: vec![(co * kk) as i64, ci as i64, 1, 1],
            data: TensorData::F32(weight),
        });
        g.initializers.push(TensorProto {
            name: bn.clone(),
            dims: vec![(co * kk) as i64],
            data: TensorData::F32(bias),
        });
        let conv_attrs = vec![
            ("kernel_shape".to_string(), AttrValue::Ints(vec![1, 1])),
            ("strides".to_string(), AttrValue::Ints(vec![1, 1])),
            ("pads".to_string(), AttrValue::Ints(vec![0; 4])),
        ];
        nodes.push(node(phases.clone(), "Conv", vec![n.inputs[0].clone(), wn, bn], phases.clone(), conv_attrs));
        let d2s_attrs =
            vec![("blocksize".to_string(), AttrValue::Int(k as i64)), ("mode".to_string(), AttrValue::from("CRD"))];
        nodes.push(node(n.name.clone(), "DepthToSpace", vec![phases], n.outputs[0].clone(), d2s_attrs));
        rewritten += 1;
    }
    // The replaced weights stay unused; drop them so the graph carries each weight once.
    let used: HashSet<String> = nodes.iter().flat_map(|n| n.inputs.iter().cloned()).collect();
    g.initializers.retain(|t| used.contains(&t.name));
    g.nodes = nodes;
    rewritten
}

/// Which nodes are quantised and which tensors get Q/DQ pairs.
struct Plan {
    /// Node indices kept in fp32.
    fp32: HashSet<usize>,
    /// Tensors with a Q/DQ pair, in a deterministic order.
    tensors: Vec<String>,
    /// The tensor whose range (and scale) each Q/DQ'd tensor uses: itself, or the input of a range-preserving op.
    range_of: HashMap<String, String>,
}

impl Plan {
    fn new(model: &Model) -> Plan {
        let g = &model.graph;
        let initializers: HashSet<&str> = g.initializers.iter().map(|t| t.name.as_str()).collect();
        let producer: HashMap<&str, usize> =
            g.nodes.iter().enumerate().flat_map(|(i, n)| n.outputs.iter().map(move |o| (o.as_str(), i))).collect();

        // Backwards from each decoded output: every node up to and including the first convolution met stays fp32.
        let mut fp32 = HashSet::new();
        let mut stack: Vec<&str> =
            g.outputs.iter().map(|o| o.name.as_str()).filter(|o| !INTEGER_OUTPUTS.contains(o)).collect();
        while let Some(t) = stack.pop() {
            let Some(&i) = producer.get(t) else { continue };
            if !fp32.insert(i) {
                continue;
            }
            let node = &g.nodes[i];
            if node.op_type != "Conv" && node.op_type != "ConvTranspose" {
                stack.extend(node.inputs.iter().map(String::as_str).filter(|x| !x.is_empty()));
            }
        }

        let mut tensors = Vec::new();
        let mut seen = HashSet::new();
        let mut range_of: HashMap<String, String> = HashMap::new();
        for (i, node) in g.nodes.iter().enumerate() {
            if fp32.contains(&i) || !QUANTISED_OPS.contains(&node.op_type.as_str()) {
                continue;
            }
            for x in activation_inputs(node).filter(|x| !initializers.contains(x)) {
                if seen.insert(x.to_string()) {
                    tensors.push(x.to_string());
                    range_of.entry(x.to_string()).or_insert_with(|| x.to_string());
                }
            }
            let shared = RANGE_PRESERVING_OPS.contains(&node.op_type.as_str());
            for o in &node.outputs {
                if seen.insert(o.clone()) {
                    tensors.push(o.clone());
                }
                let source = if shared { range_of[&node.inputs[0]].clone() } else { o.clone() };
                range_of.insert(o.clone(), source);
            }
        }
        Plan { fp32, tensors, range_of }
    }

    fn quantised(&self, index: usize, node: &Node) -> bool {
        !self.fp32.contains(&index) && QUANTISED_OPS.contains(&node.op_type.as_str())
    }
}

/// The inputs of a node that carry activations (weights, shapes and scales are the other inputs).
fn activation_inputs(node: &Node) -> impl Iterator<Item = &str> {
    let n = match node.op_type.as_str() {
        "Conv" | "ConvTranspose" | "Resize" | "Split" | "Sigmoid" | "MaxPool" | "DepthToSpace" => 1,
        _ => node.inputs.len(),
    };
    node.inputs.iter().take(n).map(String::as_str).filter(|x| !x.is_empty())
}

/// Min/max of every range-source tensor over the calibration inputs (the graph input's range is known).
fn calibrate(
    model: &Model,
    plan: &Plan,
    inputs: &[Tensor],
    engine: &EngineOptions,
) -> Result<HashMap<String, (f32, f32)>> {
    let graph_inputs: HashSet<&str> = model.graph.inputs.iter().map(|v| v.name.as_str()).collect();
    let mut probed: Vec<String> = plan
        .tensors
        .iter()
        .filter(|t| plan.range_of[*t] == **t && !graph_inputs.contains(t.as_str()))
        .cloned()
        .collect();
    probed.sort();
    let mut probe = model.clone();
    for t in &probed {
        // Rank 4 (NCHW) for every activation of this network; each dimension symbolic and unrelated.
        let dims = (0..4).map(|d| Dim::param(&format!("{t}.d{d}"))).collect();
        probe.graph.outputs.push(ValueInfo { name: t.clone(), dims });
    }
    let options = EngineOptions { conv: ConvAlgorithm::Direct, precision: Precision::Fp32, ..engine.clone() };
    let session = Engine::from_bytes(&probe.encode(), &options)?;
    let first = model.graph.outputs.len();
    let mut ranges: HashMap<String, (f32, f32)> = HashMap::new();
    for name in &graph_inputs {
        ranges.insert(name.to_string(), (0.0, 1.0));
    }
    for input in inputs {
        let outputs = session.run(&[input])?;
        for (t, value) in probed.iter().zip(&outputs[first..]) {
            let (lo, hi) =
                value.data.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &x| (lo.min(x), hi.max(x)));
            let entry = ranges.entry(t.clone()).or_insert((f32::INFINITY, f32::NEG_INFINITY));
            *entry = (entry.0.min(lo), entry.1.max(hi));
        }
    }
    Ok(ranges)
}

/// Scale and zero point of a uint8 tensor over `[lo, hi]` (widened to include 0, as ONNX requires 0 to be
/// exact).
fn uint8_params(lo: f32, hi: f32) -> (f32, u8) {
    let (lo, hi) = (lo.min(0.0), hi.max(0.0));
    if !(hi - lo).is_finite() || hi - lo <= f32::EPSILON {
        return (1.0, 0);
    }
    let scale = (hi - lo) / 255.0;
    (scale, (-lo / scale).round().clamp(0.0, 255.0) as u8)
}

fn scalar_f32(name: String, v: f32) -> TensorProto {
    TensorProto { name, dims: Vec::new(), data: TensorData::F32(vec![v]) }
}

fn node(name: String, op: &str, inputs: Vec<String>, output: String, attrs: Vec<(String, AttrValue)>) -> Node {
    Node { name, op_type: op.to_string(), inputs, outputs: vec![output], attrs, domain: String::new() }
}

fn rewrite(
    model: &Model,
    plan: &Plan,
    ranges: &HashMap<String, (f32, f32)>,
    weights: WeightRange,
    report: &mut QuantizeReport,
) -> Result<Model> {
    let g = &model.graph;
    let params: HashMap<&str, (f32, u8)> = plan
        .tensors
        .iter()
        .map(|t| {
            let source = &plan.range_of[t];
            let (lo, hi) = ranges.get(source).copied().unwrap_or((0.0, 0.0));
            (
                t.as_str(),
                if g.inputs.iter().any(|v| v.name == *source) { (1.0 / 255.0, 0) } else { uint8_params(lo, hi) },
            )
        })
        .collect();
    let dq_name = |t: &str| format!("{t}.dq");
    let renamed = |x: &String| if params.contains_key(x.as_str()) { dq_name(x) } else { x.clone() };

    let mut out = model.clone();
    let mut initializers: HashMap<String, TensorProto> = HashMap::new();
    for t in std::mem::take(&mut out.graph.initializers) {
        initializers.insert(t.name.clone(), t);
    }
    let mut nodes = Vec::with_capacity(g.nodes.len() * 3);
    let mut new_inits: Vec<TensorProto> = Vec::new();
    let qdq = |t: &str, nodes: &mut Vec<Node>, new_inits: &mut Vec<TensorProto>| {
        let (scale, zero) = params[t];
        let (s, z) = (format!("{t}.q_scale"), format!("{t}.q_zero"));
        new_inits.push(scalar_f32(s.clone(), scale));
        new_inits.push(TensorProto { name: z.clone(), dims: Vec::new(), data: TensorData::U8(vec![zero]) });
        let q = format!("{t}.q");
        nodes.push(node(q.clone(), "QuantizeLinear", vec![t.to_string(), s.clone(), z.clone()], q.clone(), vec![]));
        nodes.push(node(dq_name(t), "DequantizeLinear", vec![q, s, z], dq_name(t), vec![]));
    };
    for v in &g.inputs {
        if params.contains_key(v.name.as_str()) {
            qdq(&v.name, &mut nodes, &mut new_inits);
        }
    }
    for (i, n) in g.nodes.iter().enumerate() {
        let mut n = n.clone();
        let is_conv = n.op_type == "Conv" || n.op_type == "ConvTranspose";
        if is_conv && plan.quantised(i, &n) {
            let x_scale = params[n.inputs[0].as_str()].0;
            let (w_dq, b_dq) =
                quantize_conv_weights(&n, &mut initializers, x_scale, weights, &mut nodes, &mut new_inits)?;
            n.inputs[1] = w_dq;
            if let Some(b) = b_dq {
                n.inputs[2] = b;
            }
            report.int8_convs += 1;
        } else if is_conv {
            report.fp32_convs += 1;
        }
        for x in &mut n.inputs {
            *x = renamed(x);
        }
        let produced = n.outputs.clone();
        nodes.push(n);
        for o in produced.iter().filter(|o| params.contains_key(o.as_str())) {
            qdq(o, &mut nodes, &mut new_inits);
        }
    }
    if let Some(o) = g.outputs.iter().find(|o| params.contains_key(o.name.as_str())) {
        return Err(Error::invalid("int8 graph", format!("graph output {} would be quantised", o.name)));
    }
    out.graph.nodes = nodes;
    // Original order for the initializers still used, then the new ones.
    let mut kept: Vec<TensorProto> = g.initializers.iter().filter_map(|t| initializers.remove(&t.name)).collect();
    kept.extend(new_inits);
    out.graph.initializers = kept;
    out.producer = format!("{} (int8)", model.producer);
    Ok(out)
}

/// Replaces a convolution's fp32 weight (and bias) by int8 (int32) initializers read through
/// `DequantizeLinear` nodes appended to `nodes`; returns the names of the dequantised weight and bias.
fn quantize_conv_weights(
    conv: &Node,
    initializers: &mut HashMap<String, TensorProto>,
    x_scale: f32,
    range: WeightRange,
    nodes: &mut Vec<Node>,
    new_inits: &mut Vec<TensorProto>,
) -> Result<(String, Option<String>)> {
    let missing = |what: &str| Error::invalid("int8 graph", format!("{}: {what} is not a constant", conv.name));
    let w_name = &conv.inputs[1];
    let weight = initializers.remove(w_name).ok_or_else(|| missing("the weight"))?;
    let TensorData::F32(w) = &weight.data else { return Err(missing("the fp32 weight")) };
    // Conv weights are OIHW: one scale per output channel (axis 0). ConvTranspose weights are IOHW; one scale
    // for the whole tensor keeps ONNX Runtime's fused kernel applicable.
    let per_channel = conv.op_type == "Conv";
    let channels = if per_channel { weight.dims[0].max(1) as usize } else { 1 };
    let per = w.len() / channels;
    let scales: Vec<f32> = (0..channels)
        .map(|c| {
            let max = w[c * per..(c + 1) * per].iter().fold(0.0f32, |m, &v| m.max(v.abs()));
            if max > 0.0 {
                max / range.max()
            } else {
                1.0
            }
        })
        .collect();
    let q: Vec<i8> = w
        .iter()
        .enumerate()
        .map(|(k, &v)| (v / scales[k / per]).round().clamp(-range.max(), range.max()) as i8)
        .collect();
    let channel_dims = if per_channel { vec![channels as i64] } else { Vec::new() };
    let axis = if per_channel { vec![("axis".to_string(), AttrValue::Int(0))] } else { Vec::new() };
    let scale_tensor =
        |name: String, v: Vec<f32>| TensorProto { name, dims: channel_dims.clone(), data: TensorData::F32(v) };

    let (wq, ws, wz, wdq) =
        (format!("{w_name}.int8"), format!("{w_name}.scale"), format!("{w_name}.zero"), format!("{w_name}.dq"));
    new_inits.push(TensorProto { name: wq.clone(), dims: weight.dims.clone(), data: TensorData::I8(q) });
    new_inits.push(scale_tensor(ws.clone(), scales.clone()));
    new_inits.push(TensorProto {
        name: wz.clone(),
        dims: channel_dims.clone(),
        data: TensorData::I8(vec![0; channels]),
    });
    nodes.push(node(wdq.clone(), "DequantizeLinear", vec![wq, ws, wz], wdq.clone(), axis.clone()));

    let Some(b_name) = conv.inputs.get(2).filter(|b| !b.is_empty()) else { return Ok((wdq, None)) };
    let bias = initializers.remove(b_name).ok_or_else(|| missing("the bias"))?;
    let TensorData::F32(b) = &bias.data else { return Err(missing("the fp32 bias")) };
    // The bias is added to the int32 accumulator, so its scale is the product of the input and weight scales.
    let bias_channels = b.len();
    let b_scales: Vec<f32> = (0..bias_channels).map(|c| x_scale * scales[if per_channel { c } else { 0 }]).collect();
    let bq: Vec<i32> = b
        .iter()
        .zip(&b_scales)
        .map(|(&v, &s)| (f64::from(v) / f64::from(s)).round().clamp(-2.147e9, 2.147e9) as i32)
        .collect();
    let (bqn, bs, bz, bdq) =
        (format!("{b_name}.int32"), format!("{b_name}.scale"), format!("{b_name}.zero"), format!("{b_name}.dq"));
    let b_dims = vec![bias_channels as i64];
    let bias_axis = vec![("axis".to_string(), AttrValue::Int(0))];
    new_inits.push(TensorProto { name: bqn.clone(), dims: b_dims.clone(), data: TensorData::I32(bq) });
    new_inits.push(TensorProto { name: bs.clone(), dims: b_dims.clone(), data: TensorData::F32(b_scales) });
    new_inits.push(TensorProto { name: bz.clone(), dims: b_dims, data: TensorData::I32(vec![0; bias_channels]) });
    nodes.push(node(bdq.clone(), "DequantizeLinear", vec![bqn, bs, bz], bdq.clone(), bias_axis));
    Ok((wdq, Some(bdq)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The upsampler rewrite changes how the prototypes are computed, not what they are: the fp32 graph with a
    /// `Conv` + `DepthToSpace` gives the `ConvTranspose` graph's outputs to float rounding.
    #[test]
    fn upsampler_rewrite_keeps_the_outputs() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/fastsam/fastsam-s-tiny.pt");
        let checkpoint = crate::weights::checkpoint::Checkpoint::load(&path).unwrap();
        let graph = SegGraph::from_module(&checkpoint.model).unwrap();
        let mut rewritten = graph.model.clone();
        assert_eq!(conv_transpose_as_depth_to_space(&mut rewritten), 1);
        assert!(rewritten.graph.nodes.iter().all(|n| n.op_type != "ConvTranspose"));
        // Deterministic pseudo-random pixels in [0, 1).
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let pixels = (0..3 * 256 * 256)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 40) as f32 / (1u64 << 24) as f32
            })
            .collect();
        let input = Tensor::new(vec![1, 3, 256, 256], pixels);
        let options = EngineOptions { intra_threads: Some(1), ..EngineOptions::default() };
        let run = |m: &Model| Engine::from_bytes(&m.encode(), &options).unwrap().run(&[&input]).unwrap();
        let (a, b) = (run(&graph.model), run(&rewritten));
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.shape, y.shape);
            let scale = x.data.iter().fold(0f32, |m, v| m.max(v.abs()));
            let worst = x.data.iter().zip(&y.data).fold(0f32, |m, (p, q)| m.max((p - q).abs()));
            assert!(scale > 0.0 && worst <= 1e-4 * scale, "worst difference {worst} at scale {scale}");
        }
    }

    #[test]
    fn uint8_parameters_keep_zero_exact_and_cover_the_range() {
        let (scale, zero) = uint8_params(-1.0, 3.0);
        assert!((scale - 4.0 / 255.0).abs() < 1e-7);
        assert_eq!(zero, 64);
        // A range that excludes 0 is widened to include it.
        assert_eq!(uint8_params(0.5, 2.0).1, 0);
        assert_eq!(uint8_params(-2.0, -0.5).1, 255);
        // Degenerate ranges get a harmless scale.
        assert_eq!(uint8_params(0.0, 0.0), (1.0, 0));
        assert_eq!(uint8_params(f32::INFINITY, f32::NEG_INFINITY), (1.0, 0));
    }

    #[test]
    fn calibration_ids_follow_contents_and_scheme() {
        let a = CalibrationSet::load(&Calibration::Builtin).unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(a.id(WeightRange::Full), a.id(WeightRange::Full));
        assert_ne!(a.id(WeightRange::Full), a.id(WeightRange::Reduced));
        let mut b = a.clone();
        b.images[1].1[100] ^= 1;
        assert_ne!(a.id(WeightRange::Full), b.id(WeightRange::Full));
    }
}
