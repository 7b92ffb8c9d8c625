//! Building inference graphs from checkpoint tensors and running them with ONNX Runtime.

pub mod decode;
pub mod onnx;
pub mod quantize;
pub mod runtime;
pub mod seg_model;
mod torch_nn;
pub mod winograd;
pub mod winograd_op;
pub mod yolov8_seg;

pub use decode::HeadLayout;
pub use quantize::{Calibration, Int8Kernels, Precision};
pub use runtime::{Engine, EngineOptions, ExecutionProvider};
pub use seg_model::{GraphVariant, SegModel, SegOutput};
pub use winograd_op::ConvAlgorithm;
pub use yolov8_seg::SegGraph;
