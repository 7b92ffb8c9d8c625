//! Label Studio's ML backend protocol (Label Studio 1.23, label-studio-sdk 2.x), at the server's root where
//! Label Studio appends its paths to the URL the user pastes: `GET /health`, `POST /setup`, `POST /predict`,
//! `POST /webhook` (training events, accepted and ignored: FastSAM is not trained from annotations).

pub mod auth;
pub mod context;
pub mod fetch;
pub mod label_config;
mod predict;
pub mod regions;
pub mod rle;

use std::time::Duration;

use axum::body::Bytes;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

pub use predict::BATCH_MASK_CAP;

use crate::error::ApiError;
use crate::state::SharedState;
use label_config::LabelConfig;

/// Where task images may come from and how to authenticate to Label Studio.
#[derive(Debug, Clone)]
pub struct LabelStudioConfig {
    /// `LABEL_STUDIO_URL`: base of relative task URLs; its host is allowed and gets the credentials.
    pub url: Option<String>,
    /// `LABEL_STUDIO_API_KEY`: legacy token, JWT access token or personal access token.
    pub api_key: Option<String>,
    /// `--fetch-allow HOST`: further hosts images may be fetched from (without credentials).
    pub fetch_allow: Vec<String>,
    /// Deadline of one image fetch.
    pub fetch_timeout: Duration,
    /// Batch pre-annotation with CLIP: per label, every mask whose CLIP score for the label's name is at least
    /// this (best first, at most [`predict::BATCH_MASK_CAP`]); unset, the one best mask per label.
    pub text_threshold: Option<f32>,
}

impl Default for LabelStudioConfig {
    fn default() -> Self {
        LabelStudioConfig {
            url: None,
            api_key: None,
            fetch_allow: Vec::new(),
            fetch_timeout: Duration::from_secs(30),
            text_threshold: None,
        }
    }
}

pub fn model_version() -> String {
    format!("fastsam-rs-{}", env!("CARGO_PKG_VERSION"))
}

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/health", get(health))
        .route("/setup", post(setup))
        .route("/predict", post(predict::predict))
        .route("/webhook", post(webhook))
        .route("/versions", get(versions))
}

/// Never touches the model or the pool: it answers while a segmentation runs (Label Studio waits 1 s).
async fn health() -> Json<Value> {
    Json(json!({ "status": "UP", "model_class": "FastSAM" }))
}

/// Label Studio connects a project: refuse configs with nowhere to put a mask, so the project shows the error.
async fn setup(body: Bytes) -> Result<Json<Value>, ApiError> {
    let request: Value =
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("invalid /setup body: {e}")))?;
    if let Some(schema) = request.get("schema").and_then(Value::as_str) {
        if LabelConfig::parse(schema)?.mask_controls().next().is_none() {
            return Err(ApiError::bad_request(
                "the project's labelling config has no BrushLabels or PolygonLabels: FastSAM answers with masks",
            ));
        }
    }
    Ok(Json(json!({ "model_version": model_version() })))
}

async fn webhook(body: Bytes) -> Json<Value> {
    let action = serde_json::from_slice::<Value>(&body).ok().and_then(|v| v.get("action").cloned());
    tracing::debug!(?action, "Label Studio webhook ignored");
    Json(json!({ "status": "ok", "result": "ignored: FastSAM is not trained from annotations" }))
}

async fn versions() -> Json<Value> {
    Json(json!({ "versions": [model_version()], "message": "" }))
}
