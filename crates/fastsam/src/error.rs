//! The library's one error type. Every variant carries enough context for a one-line message that
//! names the file and what is wrong with it.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A checkpoint (`.pt`, safetensors, ONNX) that cannot be read or is not what it claims to be.
    #[error("{path}: {reason}")]
    Checkpoint { path: PathBuf, reason: String },

    /// An image that cannot be decoded, or that is refused (too large, empty, ...).
    #[error("image {name}: {reason}")]
    Image { name: String, reason: String },

    /// ONNX Runtime could not be loaded or failed while running a graph.
    #[error("ONNX Runtime: {0}")]
    Runtime(String),

    /// Weights that could not be downloaded, or a downloaded file that failed verification. `target` is where
    /// the file belongs; `reason` says what went wrong and what to do about it.
    #[error("{}: {reason}", target.display())]
    Download { target: PathBuf, reason: String },

    /// An option or prompt outside its valid range.
    #[error("invalid {what}: {reason}")]
    Invalid { what: &'static str, reason: String },
}

impl Error {
    pub fn checkpoint(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Checkpoint { path: path.into(), reason: reason.into() }
    }

    pub fn image(name: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Image { name: name.into(), reason: reason.into() }
    }

    pub fn invalid(what: &'static str, reason: impl Into<String>) -> Self {
        Error::Invalid { what, reason: reason.into() }
    }
}
