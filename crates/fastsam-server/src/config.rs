//! The server's limits. Every resource a client can make the server hold is bounded by one of these.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest accepted upload body (raw or multipart), in bytes.
    pub max_upload_bytes: usize,
    /// Largest accepted `width * height`, checked from the image header before any pixel is decoded.
    pub max_pixels: u64,
    /// Budget of the image cache: decoded pixels plus mask bits of every cached image, in bytes.
    pub cache_bytes: u64,
    /// Segmentation workers. One by default: ONNX Runtime already spreads one run over every core.
    pub workers: usize,
    /// Segmentation requests allowed to wait for a worker; beyond that the server answers 503.
    pub queue: usize,
    /// Whole-request deadline (reading the body included), so slow clients cannot pin resources.
    pub request_timeout: Duration,
    /// What `Retry-After` tells clients turned away by a full queue, in seconds.
    pub retry_after_secs: u32,
    /// Label Studio ML backend: where task images may be fetched from, and the credentials.
    pub label_studio: crate::labelstudio::LabelStudioConfig,
    /// X-AnyLabeling remote server: the `Token` its requests must carry, when set.
    pub xanylabeling_api_key: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_upload_bytes: 20 * 1024 * 1024,
            max_pixels: 40_000_000,
            cache_bytes: 512 * 1024 * 1024,
            workers: 1,
            queue: 4,
            request_timeout: Duration::from_secs(120),
            retry_after_secs: 2,
            label_studio: Default::default(),
            xanylabeling_api_key: None,
        }
    }
}
