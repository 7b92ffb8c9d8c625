//! The router and the API's handlers. The API's routes are one table, so the OpenAPI document can be checked
//! against exactly what is served.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, MethodRouter};
use axum::{middleware, Json, Router};
use fastsam::mask::Mask;
use fastsam::output::{cutout, overlay, png};
use fastsam::Segmentation;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::api::{parse_ids, AnnotationsResponse, SelectRequest, SelectResponse, UploadResponse};
use crate::cache::CachedImage;
use crate::editor;
use crate::error::{json_errors, ApiError};
use crate::segmenter;
use crate::state::SharedState;
use crate::{labelstudio, xanylabeling};

/// Every API route as (method, path); `static/openapi.json` documents exactly these.
pub const API_ROUTES: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/openapi.json"),
    ("POST", "/v1/images"),
    ("DELETE", "/v1/images/{id}"),
    ("POST", "/v1/images/{id}/select"),
    ("GET", "/v1/images/{id}/annotations"),
    ("GET", "/v1/images/{id}/overlay.png"),
    ("GET", "/v1/images/{id}/cutout.png"),
];

pub const OPENAPI: &str = include_str!("../static/openapi.json");

fn endpoint(method: &str, path: &str) -> MethodRouter<SharedState> {
    match (method, path) {
        ("GET", "/healthz") => get(healthz),
        ("GET", "/openapi.json") => get(openapi),
        ("POST", "/v1/images") => post(upload),
        ("DELETE", "/v1/images/{id}") => delete(remove),
        ("POST", "/v1/images/{id}/select") => post(select),
        ("GET", "/v1/images/{id}/annotations") => get(all_annotations),
        ("GET", "/v1/images/{id}/overlay.png") => get(render_overlay),
        ("GET", "/v1/images/{id}/cutout.png") => get(render_cutout),
        // API_ROUTES is a constant of this file: a miss is a programming error caught by the unit test.
        _ => unreachable!("API_ROUTES lists {method} {path} without a handler"),
    }
}

pub fn router(state: SharedState) -> Router {
    let limit = state.config.max_upload_bytes;
    let timeout = state.config.request_timeout;
    let mut api = Router::new();
    for &(method, path) in API_ROUTES {
        api = api.route(path, endpoint(method, path));
    }
    api.merge(editor::routes())
        .merge(labelstudio::routes())
        .merge(xanylabeling::routes(state.clone()))
        .fallback(|| async { ApiError::not_found("no such route (see /openapi.json)") })
        .layer(DefaultBodyLimit::max(limit))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout))
        // Outside the timeout, so its 408 becomes JSON too.
        .layer(middleware::from_fn(json_errors))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn healthz(State(s): State<SharedState>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "status": "ok",
        "cache": s.cache.stats(),
        "workers": s.config.workers,
        "queue": s.config.queue,
        "text_prompts": s.text.is_loaded(),
    }))
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn upload(State(s): State<SharedState>, req: Request) -> Result<Json<UploadResponse>, ApiError> {
    let (name, bytes) = read_upload(req).await?;
    let entry = segmenter::segment(&s, name, bytes).await?;
    let annotations = entry.segmentation.annotations(&entry.file_name).annotations;
    let id = s.new_id();
    let (width, height) = (entry.image.width, entry.image.height);
    tracing::info!(%id, "uploaded");
    segmenter::insert(&s, id.clone(), Arc::new(entry))?;
    Ok(Json(UploadResponse { id, width, height, annotations }))
}

/// The image's bytes: the `file` field of a multipart form, or the raw body.
async fn read_upload(req: Request) -> Result<(String, Bytes), ApiError> {
    let is_multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !is_multipart {
        let name = req.headers().get("x-file-name").and_then(|v| v.to_str().ok()).unwrap_or("upload").to_string();
        return Ok((name, Bytes::from_request(req, &()).await?));
    }
    let mut form = Multipart::from_request(req, &()).await?;
    while let Some(field) = form.next_field().await? {
        if field.name() == Some("file") {
            let name = field.file_name().unwrap_or("upload").to_string();
            return Ok((name, field.bytes().await?));
        }
    }
    Err(ApiError::bad_request("the multipart form has no `file` field"))
}

fn cached(s: &SharedState, id: &str) -> Result<Arc<CachedImage>, ApiError> {
    s.cache.get(id).ok_or_else(|| ApiError::unknown_image(id))
}

/// The cached image's raw or smoothed segmentation (smoothed on first use, then counted by the cache). Call
/// off the async threads: the first smoothing is CPU work.
fn segmentation<'a>(
    s: &SharedState,
    id: &str,
    entry: &'a Arc<CachedImage>,
    smooth: bool,
) -> Result<&'a Segmentation, ApiError> {
    let seg = entry.segmentation(smooth).map_err(|e| ApiError::internal(format!("smoothing failed: {e}")))?;
    if smooth {
        s.cache.reweigh(id, entry);
    }
    Ok(seg)
}

/// CPU work on a cached image, off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ApiError::internal(format!("worker failed: {e}")))?
}

async fn select(
    State(s): State<SharedState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<SelectResponse>, ApiError> {
    let request: SelectRequest =
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("invalid select body: {e}")))?;
    let prompt = request.to_prompt()?;
    let entry = cached(&s, &id)?;
    let state = s.clone();
    blocking(move || {
        let started = Instant::now();
        let seg = segmentation(&state, &id, &entry, request.smooth)?;
        let selection = state.text.select(seg, &entry.image, &prompt)?;
        let annotations = seg.selection_annotations(&selection, &entry.file_name).annotations;
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        Ok(Json(SelectResponse { annotations, indices: selection.indices, latency_ms }))
    })
    .await
}

async fn remove(State(s): State<SharedState>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    if s.cache.remove(&id) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::unknown_image(&id))
    }
}

#[derive(Debug, serde::Deserialize)]
struct IdsQuery {
    ids: Option<String>,
    /// The smoothed masks instead of the raw ones.
    #[serde(default)]
    smooth: bool,
}

#[derive(Debug, serde::Deserialize)]
struct SmoothQuery {
    #[serde(default)]
    smooth: bool,
}

async fn all_annotations(
    State(s): State<SharedState>,
    Path(id): Path<String>,
    query: Result<Query<SmoothQuery>, QueryRejection>,
) -> Result<Json<AnnotationsResponse>, ApiError> {
    let Query(q) = query.map_err(query_error)?;
    let entry = cached(&s, &id)?;
    blocking(move || {
        let seg = segmentation(&s, &id, &entry, q.smooth)?;
        Ok(Json(AnnotationsResponse { smooth: q.smooth, annotations: seg.annotations(&entry.file_name).annotations }))
    })
    .await
}

fn query_error(e: QueryRejection) -> ApiError {
    ApiError::bad_request(format!("invalid query: {}", e.body_text()))
}

async fn render_overlay(
    State(s): State<SharedState>,
    Path(id): Path<String>,
    query: Result<Query<IdsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(query_error)?;
    let entry = cached(&s, &id)?;
    let ids = parse_ids(q.ids.as_deref(), entry.segmentation.len())?;
    blocking(move || {
        let masks = chosen_masks(segmentation(&s, &id, &entry, q.smooth)?, ids.as_deref());
        let picture = overlay::overlay(&entry.image, &masks).map_err(|e| ApiError::internal(e.to_string()))?;
        png_response(png::encode_rgb(&picture))
    })
    .await
}

async fn render_cutout(
    State(s): State<SharedState>,
    Path(id): Path<String>,
    query: Result<Query<IdsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(query_error)?;
    let entry = cached(&s, &id)?;
    let Some(ids) = parse_ids(q.ids.as_deref(), entry.segmentation.len())? else {
        return Err(ApiError::bad_request("give the masks to cut out, e.g. ?ids=0,3"));
    };
    blocking(move || {
        let masks = chosen_masks(segmentation(&s, &id, &entry, q.smooth)?, Some(&ids));
        match cutout::cutout(&entry.image, &masks).map_err(|e| ApiError::internal(e.to_string()))? {
            Some(picture) => png_response(png::encode_rgba(&picture)),
            None => Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "the chosen masks are empty")),
        }
    })
    .await
}

fn chosen_masks<'a>(seg: &'a Segmentation, ids: Option<&[usize]>) -> Vec<&'a Mask> {
    let objects = seg.objects();
    match ids {
        Some(ids) => ids.iter().map(|&i| &objects[i].mask).collect(),
        None => objects.iter().map(|d| &d.mask).collect(),
    }
}

fn png_response(png: fastsam::Result<Vec<u8>>) -> Result<Response, ApiError> {
    let bytes = png.map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(([(header::CONTENT_TYPE, "image/png"), (header::CACHE_CONTROL, "no-store")], bytes).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_route_has_a_handler() {
        for &(method, path) in API_ROUTES {
            let _ = endpoint(method, path);
        }
    }
}
