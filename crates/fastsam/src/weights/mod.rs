//! Reading weights from their original files: PyTorch checkpoints (zip + pickle, walked as data and never
//! executed), TorchScript archives and safetensors.

mod archive;
pub mod checkpoint;
pub mod download;
mod dtype;
pub mod module;
mod objects;
pub mod pickle;
pub mod registry;
pub mod safetensors;
mod torchscript;

pub use checkpoint::{load_state_dict, state_dict_from_bytes, Checkpoint};
pub use module::{Attr, Module};
pub use registry::{KnownWeights, ModelCache, KNOWN_WEIGHTS};
pub use safetensors::{load_safetensors, safetensors_from_bytes};
