//! What every request shares: the model, the image cache, the worker pool and the limits.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use fastsam::FastSam;

use crate::cache::ImageCache;
use crate::config::ServerConfig;
use crate::labelstudio::auth::Credentials;
use crate::pool::WorkerPool;
use crate::text::TextModel;

pub type SharedState = Arc<AppState>;

#[derive(Debug)]
pub struct AppState {
    pub model: Arc<FastSam>,
    pub text: TextModel,
    pub cache: ImageCache,
    pub pool: WorkerPool,
    pub config: ServerConfig,
    /// Label Studio credentials for task images (with the exchanged access token, for personal tokens).
    pub label_studio: Credentials,
    next_id: AtomicU64,
    /// Randomly keyed per process, so ids are not guessable from one another.
    id_key: RandomState,
}

impl AppState {
    pub fn new(model: FastSam, text: TextModel, config: ServerConfig) -> std::io::Result<SharedState> {
        Ok(Arc::new(AppState {
            model: Arc::new(model),
            text,
            cache: ImageCache::new(config.cache_bytes),
            pool: WorkerPool::new(config.workers, config.queue)?,
            label_studio: Credentials::new(config.label_studio.url.as_deref(), config.label_studio.api_key.as_deref()),
            config,
            next_id: AtomicU64::new(0),
            id_key: RandomState::new(),
        }))
    }

    pub fn new_id(&self) -> String {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        format!("{:016x}", self.id_key.hash_one(n))
    }
}
