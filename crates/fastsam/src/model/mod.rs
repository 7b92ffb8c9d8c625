//! Building inference graphs from checkpoint tensors and running them with ONNX Runtime.

pub mod decode;
pub mod onnx;
pub mod runtime;
mod torch_nn;
pub mod yolov8_seg;

pub use decode::HeadLayout;
pub use runtime::{Engine, EngineOptions};
pub use yolov8_seg::SegGraph;
