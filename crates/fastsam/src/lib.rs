//! Fast Segment Anything (FastSAM) in Rust.
//!
//! Stage 1 ("segment everything") runs a YOLOv8-seg network built from the official checkpoint through
//! ONNX Runtime; stage 2 selects masks with point, box and text prompts without re-running the network.
//! Every step follows the reference implementation (Ultralytics `FastSAM`) bit for bit where that is
//! observable, so outputs match it on the same checkpoint and image.

pub mod clip;
pub mod error;
pub mod eval;
pub mod image;
pub mod mask;
pub mod model;
pub mod output;
pub mod pipeline;
pub mod postprocess;
pub mod prompt;
pub mod segmentation;
pub mod smooth;
pub mod tensor;
pub mod weights;

pub use error::{Error, Result};
pub use image::RgbImage;
pub use pipeline::{FastSam, SegmentOptions};
pub use prompt::{BoxPrompt, PointLabel, PointMode, PointPrompt, Prompt};
pub use segmentation::{Reason, Segmentation, Selection};
pub use tensor::Tensor;
