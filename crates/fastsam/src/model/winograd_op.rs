//! The Winograd convolution ([`super::winograd`]) as an ONNX Runtime custom operator, and the graph rewrite
//! that hands it the layers where it is faster than ONNX Runtime's own `Conv`.
//!
//! Only graphs built here from a checkpoint are rewritten; `--export-graph` and Ultralytics `.onnx` exports stay
//! standard ONNX. [`ConvAlgorithm::Direct`] turns the rewrite off (ONNX Runtime's convolution everywhere).

use ort::operator::{ComputeContext, Kernel, KernelContext, Operator, OperatorDomain, OperatorInput, OperatorOutput};
use ort::value::{DynValueTypeMarker, TensorElementType};

use super::onnx::{AttrValue, Model, TensorData};
use super::winograd::{ParallelFor, Scratch, Winograd3x3};

/// Custom operator domain of this crate.
pub const DOMAIN: &str = "ai.fastsam";
/// `WinogradConv3x3(X, W, B?) -> Y`: a `Conv` with 3×3 kernel, stride 1, padding 1, dilation 1, one group.
pub const OP: &str = "WinogradConv3x3";
/// Narrower layers stay with ONNX Runtime. Measured on FastSAM layers (2 threads, this crate vs ONNX Runtime's
/// ~210 GFLOP/s direct convolution, in direct-convolution FLOP/s): 32→32 channels at 192×256 run at ~290,
/// 64→64 ~380, 128→128 ~480, 320→320 ~550. Below 32 channels the transforms outweigh the savings.
pub const MIN_CHANNELS: usize = 32;

/// How 3×3 stride-1 convolutions run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvAlgorithm {
    /// Winograd F(4×4, 3×3) for layers with at least `min_channels` input and output channels, ONNX Runtime's
    /// `Conv` elsewhere. The default uses [`MIN_CHANNELS`].
    Winograd { min_channels: usize },
    /// ONNX Runtime's `Conv` everywhere (direct summation; slower, bit-identical to a standard-ONNX session).
    Direct,
}

impl Default for ConvAlgorithm {
    fn default() -> Self {
        ConvAlgorithm::Winograd { min_channels: MIN_CHANNELS }
    }
}

/// Rewrites the `Conv` nodes of `model` that [`OP`] can run and that have at least `min_channels` input and
/// output channels; returns how many were rewritten.
pub fn rewrite(model: &mut Model, min_channels: usize) -> usize {
    let min = min_channels as i64;
    let weight_dims: std::collections::HashMap<&str, &[i64]> = model
        .graph
        .initializers
        .iter()
        .filter(|t| matches!(t.data, TensorData::F32(_)))
        .map(|t| (t.name.as_str(), t.dims.as_slice()))
        .collect();
    let mut rewritten = 0;
    for node in &mut model.graph.nodes {
        let dims = node.inputs.get(1).and_then(|w| weight_dims.get(w.as_str()));
        let wide = matches!(dims, Some([cout, cin, 3, 3]) if *cout >= min && *cin >= min);
        if node.op_type == "Conv" && node.domain.is_empty() && wide && is_plain_3x3(&node.attrs) {
            node.op_type = OP.to_string();
            node.domain = DOMAIN.to_string();
            node.attrs.clear();
            rewritten += 1;
        }
    }
    if rewritten > 0 && !model.custom_domains.iter().any(|(d, _)| d == DOMAIN) {
        model.custom_domains.push((DOMAIN.to_string(), 1));
    }
    rewritten
}

/// Stride 1, padding 1 on every side, dilation 1, one group (absent attributes take ONNX's defaults).
fn is_plain_3x3(attrs: &[(String, AttrValue)]) -> bool {
    attrs.iter().all(|(name, value)| match (name.as_str(), value) {
        ("kernel_shape", AttrValue::Ints(v)) => v == &[3, 3],
        ("strides" | "dilations", AttrValue::Ints(v)) => v.iter().all(|&s| s == 1),
        ("pads", AttrValue::Ints(v)) => v.len() == 4 && v.iter().all(|&p| p == 1),
        ("group", AttrValue::Int(g)) => *g == 1,
        _ => false,
    }) && attrs.iter().any(|(name, _)| name == "pads")
}

/// The operator domain to register on sessions that run rewritten graphs.
pub fn domain() -> ort::Result<OperatorDomain> {
    OperatorDomain::new(DOMAIN)?.add(WinogradConvOp)
}

struct WinogradConvOp;

impl Operator for WinogradConvOp {
    type Kernel<'attr> = WinogradKernel;

    fn name(&self) -> &str {
        OP
    }

    fn inputs(&self) -> impl IntoIterator<Item = OperatorInput> {
        [
            OperatorInput::required(TensorElementType::Float32),
            OperatorInput::required(TensorElementType::Float32),
            OperatorInput::optional(TensorElementType::Float32),
        ]
    }

    fn outputs(&self) -> impl IntoIterator<Item = OperatorOutput> {
        [OperatorOutput::required(TensorElementType::Float32)]
    }

    fn create_kernel<'attr>(&self, info: &KernelContext<'attr>) -> ort::Result<WinogradKernel> {
        let weight = info.constant_input::<DynValueTypeMarker>(1)?;
        let (shape, w) = weight.try_extract_tensor::<f32>()?;
        let [cout, cin, 3, 3] = shape[..] else {
            return Err(ort::Error::new(format!("{OP}: weight shape {shape:?} is not (cout, cin, 3, 3)")));
        };
        let bias = match info.inputs()?.len() {
            3 => Some(info.constant_input::<DynValueTypeMarker>(2)?),
            _ => None,
        };
        let bias = bias.as_ref().map(|b| b.try_extract_tensor::<f32>()).transpose()?;
        let conv = Winograd3x3::new(w, bias.map(|(_, b)| b), cout as usize, cin as usize)
            .map_err(|e| ort::Error::new(format!("{OP}: {e}")))?;
        Ok(WinogradKernel { conv })
    }
}

struct WinogradKernel {
    conv: Winograd3x3,
}

/// Scratch buffers shared by every Winograd node of every session: a session runs its nodes one after another,
/// so one buffer per concurrent run suffices, where one per node held ~0.25 GB (FastSAM-s) to ~1 GB (-x).
static SCRATCH_POOL: std::sync::Mutex<Vec<Scratch>> = std::sync::Mutex::new(Vec::new());

fn with_pooled_scratch<T>(f: impl FnOnce(&mut Scratch) -> T) -> T {
    let pool = || SCRATCH_POOL.lock().unwrap_or_else(|e| e.into_inner());
    let mut scratch = pool().pop().unwrap_or_default();
    let out = f(&mut scratch);
    pool().push(scratch);
    out
}

/// Work split over the session's intra-op thread pool.
struct OrtThreads<'a>(&'a ComputeContext);

impl ParallelFor for OrtThreads<'_> {
    fn run(&self, n: usize, f: &(dyn Fn(usize) + Sync)) {
        // Every phase is idempotent (it overwrites its outputs from unchanged inputs), so running it again on
        // this thread after a failed hand-off gives the same result.
        if self.0.par_for(n, 0, f).is_err() {
            (0..n).for_each(f);
        }
    }
}

impl Kernel for WinogradKernel {
    fn compute(&mut self, ctx: &ComputeContext) -> ort::Result<()> {
        let x = ctx.input(0)?.ok_or_else(|| ort::Error::new(format!("{OP}: missing input")))?;
        let (shape, data) = x.try_extract_tensor::<f32>()?;
        let dims: Vec<usize> = shape.iter().map(|&d| usize::try_from(d).unwrap_or(0)).collect();
        let [n, c, h, w] = dims[..] else {
            return Err(ort::Error::new(format!("{OP}: input shape {shape:?} is not (N, C, H, W)")));
        };
        if c != self.conv.in_channels() {
            return Err(ort::Error::new(format!(
                "{OP}: input has {c} channels, the weight {}",
                self.conv.in_channels()
            )));
        }
        let cout = self.conv.out_channels();
        let mut y = ctx
            .output(0, vec![n as i64, cout as i64, h as i64, w as i64])?
            .ok_or_else(|| ort::Error::new(format!("{OP}: missing output")))?;
        let (_, out) = y.try_extract_tensor_mut::<f32>()?;
        with_pooled_scratch(|scratch| self.conv.forward(data, [n, h, w], out, scratch, &OrtThreads(ctx)))
            .map_err(|e| ort::Error::new(format!("{OP}: {e}")))
    }
}
