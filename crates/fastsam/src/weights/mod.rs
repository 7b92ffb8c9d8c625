//! Reading weights from their original files: PyTorch checkpoints (zip + pickle, walked as data and never
//! executed), TorchScript archives and safetensors.

pub mod checkpoint;
pub mod module;
pub mod pickle;
