//! Image bytes → a cached segmentation: what `POST /v1/images` and the labelling-tool protocols share.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::http::StatusCode;
use fastsam::image::{decode, DecodeLimits, Format};

use crate::cache::{CachedImage, TooLarge};
use crate::error::ApiError;
use crate::pool::PoolError;
use crate::state::SharedState;

/// Decodes and segments `bytes` on the worker pool (decoding too: the decoded pixels of admitted images are
/// what the queue bounds).
pub async fn segment(s: &SharedState, name: String, bytes: Bytes) -> Result<CachedImage, ApiError> {
    if let Err(reason) = Format::sniff(&bytes) {
        let status = if bytes.is_empty() { StatusCode::BAD_REQUEST } else { StatusCode::UNSUPPORTED_MEDIA_TYPE };
        return Err(ApiError::new(status, format!("image {name}: {reason}")));
    }
    let limits = DecodeLimits { max_pixels: s.config.max_pixels };
    let model = s.model.clone();
    let started = Instant::now();
    let entry = s
        .pool
        .run(move || -> Result<_, ApiError> {
            let image = decode(&bytes, &name, &limits).map_err(decode_error)?;
            let segmentation = model.segment(&image).map_err(|e| ApiError::internal(e.to_string()))?;
            Ok(CachedImage::new(name, image, segmentation))
        })
        .await
        .map_err(|e| pool_error(e, s.config.retry_after_secs))??;
    tracing::info!(
        width = entry.image.width,
        height = entry.image.height,
        masks = entry.segmentation.len(),
        ms = started.elapsed().as_millis() as u64,
        "segmented"
    );
    Ok(entry)
}

/// Caches `entry` under `id`.
pub fn insert(s: &SharedState, id: String, entry: Arc<CachedImage>) -> Result<(), ApiError> {
    s.cache.insert(id, entry).map_err(|TooLarge { bytes, limit }| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the segmented image needs {bytes} bytes of cache, more than the whole cache ({limit} bytes)"),
        )
    })
}

/// The cached segmentation under `key`, or `bytes()`'s image segmented and cached under `key`: each image is
/// segmented once, every later prompt on it answers from the cache.
pub async fn cached_or_segment<F, Fut>(s: &SharedState, key: String, fetch: F) -> Result<Arc<CachedImage>, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<(String, Bytes), ApiError>>,
{
    if let Some(entry) = s.cache.get(&key) {
        return Ok(entry);
    }
    let (name, bytes) = fetch().await?;
    let entry = Arc::new(segment(s, name, bytes).await?);
    insert(s, key, entry.clone())?;
    Ok(entry)
}

fn decode_error(e: fastsam::Error) -> ApiError {
    match &e {
        // The pixel limit is refused from the header, before decoding (DecodeLimits).
        fastsam::Error::Image { reason, .. } if reason.contains("more than the limit of") => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, e.to_string())
        }
        fastsam::Error::Image { .. } => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
        _ => ApiError::internal(e.to_string()),
    }
}

fn pool_error(e: PoolError, retry_after: u32) -> ApiError {
    match e {
        PoolError::Busy => ApiError::busy(retry_after),
        PoolError::Failed => ApiError::internal("segmentation failed unexpectedly (see the server log)"),
    }
}
