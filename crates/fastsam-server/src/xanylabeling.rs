//! X-AnyLabeling's Remote-Server protocol (as X-AnyLabeling-Server speaks it): `GET /v1/models` lists one
//! FastSAM model and the widgets its panel shows; `POST /v1/predict` takes a base64 image with `marks`
//! (points labelled 1/0, rectangles, in pixels) and/or a `text_prompt`, and answers `shapes` as polygons (the
//! protocol has no mask type). Bodies are `{"success": true, "data": ...}` or
//! `{"success": false, "error": {"code", "message"}}`. With `--api-key`, both need the `Token` header.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use fastsam::mask::Mask;
use fastsam::output::polygons::polygons;
use fastsam::{BoxPrompt, PointLabel, PointMode, PointPrompt, Prompt};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::prompt_mask::one_mask;
use crate::routes::blocking;
use crate::segmenter;
use crate::state::SharedState;

/// The model id X-AnyLabeling selects and sends back in `model`.
pub const MODEL_ID: &str = "fastsam";
/// The label of shapes from marks (X-AnyLabeling's own name for an object not yet labelled).
pub const MARK_LABEL: &str = "AUTOLABEL_OBJECT";

pub fn routes(state: SharedState) -> Router<SharedState> {
    // Base64 inflates the image by 4/3: the upload limit applies to the decoded image, checked after decoding.
    let body_limit = state.config.max_upload_bytes / 3 * 4 + 64 * 1024;
    Router::new()
        .route("/v1/models", get(models))
        .route("/v1/predict", post(predict).layer(DefaultBodyLimit::max(body_limit)))
        .layer(middleware::from_fn_with_state(state, check_token))
}

/// `{"success": false, "error": ...}` with a real HTTP status, so the client's `raise_for_status` reports it.
struct XalError(ApiError, &'static str);

impl IntoResponse for XalError {
    fn into_response(self) -> Response {
        let XalError(e, code) = self;
        (e.status, Json(json!({ "success": false, "error": { "code": code, "message": e.message } }))).into_response()
    }
}

impl From<ApiError> for XalError {
    fn from(e: ApiError) -> Self {
        let code = match e.status {
            StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY | StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                "INVALID_REQUEST"
            }
            StatusCode::PAYLOAD_TOO_LARGE => "IMAGE_TOO_LARGE",
            StatusCode::SERVICE_UNAVAILABLE => "BUSY",
            _ => "INFERENCE_ERROR",
        };
        XalError(e, code)
    }
}

/// Compares in constant time, so the key cannot be guessed byte by byte from response times.
fn same_key(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len() && given.iter().zip(expected).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

async fn check_token(State(s): State<SharedState>, req: Request, next: Next) -> Response {
    if let Some(key) = &s.config.xanylabeling_api_key {
        let given = req.headers().get("token").map(|v| v.as_bytes()).unwrap_or_default();
        if !same_key(given, key.as_bytes()) {
            let e = ApiError::new(StatusCode::UNAUTHORIZED, "invalid or missing API key (the Token header)");
            return XalError(e, "UNAUTHORIZED").into_response();
        }
    }
    next.run(req).await
}

async fn models(State(s): State<SharedState>) -> Json<Value> {
    let mut widgets: Vec<Value> = ["button_add_point", "button_remove_point", "button_add_rect", "button_clear"]
        .iter()
        .map(|name| json!({ "name": name, "value": null }))
        .collect();
    if s.text.is_loaded() {
        widgets.extend(["edit_text", "button_send"].iter().map(|name| json!({ "name": name, "value": null })));
    }
    widgets.push(json!({ "name": "button_finish_object", "value": null }));
    let info = json!({
        "display_name": "FastSAM (fastsam-rs)",
        "widgets": widgets,
        "params": {},
        "capabilities": { "text_prompt": s.text.is_loaded() },
        "batch_processing_mode": if s.text.is_loaded() { "text_prompt" } else { "default" },
    });
    Json(json!({ "success": true, "data": { MODEL_ID: info } }))
}

#[derive(Debug, Deserialize)]
struct PredictRequest {
    model: String,
    image: String,
    #[serde(default)]
    params: Params,
}

#[derive(Debug, Default, Deserialize)]
struct Params {
    #[serde(default)]
    marks: Vec<Value>,
    #[serde(default)]
    text_prompt: Option<String>,
}

/// `marks` as X-AnyLabeling's canvas sends them: `{"type": "point", "data": [x, y], "label": 1|0}` and
/// `{"type": "rectangle", "data": [x1, y1, x2, y2]}`, pixels of the image.
fn marks_prompt(marks: &[Value]) -> Result<Prompt, ApiError> {
    let mut prompt = Prompt { point_mode: PointMode::Merge, ..Prompt::default() };
    for (i, mark) in marks.iter().enumerate() {
        let data: Vec<f64> = mark
            .get("data")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_f64).filter(|v| v.is_finite()).collect())
            .unwrap_or_default();
        match (mark.get("type").and_then(Value::as_str), data.as_slice()) {
            (Some("point"), &[x, y]) => {
                let label = PointLabel::from_i64(mark.get("label").and_then(Value::as_i64).unwrap_or(1))
                    .map_err(|e| ApiError::bad_request(format!("marks[{i}]: {e}")))?;
                prompt.points.push(PointPrompt { x, y, label });
            }
            (Some("rectangle"), &[x1, y1, x2, y2]) => prompt.boxes.push(BoxPrompt { x1, y1, x2, y2 }),
            _ => {
                return Err(ApiError::bad_request(format!(
                    "marks[{i}] must be {{\"type\": \"point\", \"data\": [x, y], \"label\": 1|0}} or \
                     {{\"type\": \"rectangle\", \"data\": [x1, y1, x2, y2]}} (finite pixel numbers)"
                )))
            }
        }
    }
    Ok(prompt)
}

/// Phrases of a text prompt, split as X-AnyLabeling-Server splits them (commas and full stops).
fn phrases(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in text.split([',', '.']).map(str::trim).filter(|p| !p.is_empty()) {
        if !out.iter().any(|o| o == p) {
            out.push(p.to_string());
        }
    }
    out
}

/// Polygon shapes of `mask`: one per outer contour, closed (last point = first) as the reference server's are.
fn shapes(mask: &Mask, label: &str, score: f32) -> Vec<Value> {
    polygons(mask)
        .iter()
        .map(|ring| {
            let mut points: Vec<[f64; 2]> = ring.chunks_exact(2).map(|p| [p[0], p[1]]).collect();
            points.push(points[0]);
            json!({
                "label": label, "shape_type": "polygon", "points": points, "score": score.clamp(0.0, 1.0),
                "attributes": {}, "description": null, "difficult": false, "direction": 0,
                "flags": null, "group_id": null, "kie_linking": [],
            })
        })
        .collect()
}

fn decode_image(image: &str) -> Result<Bytes, ApiError> {
    // `data:image/png;base64,....` or bare base64.
    let data = image.split_once(',').map_or(image, |(_, d)| d);
    base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map(Bytes::from)
        .map_err(|e| ApiError::bad_request(format!("image is not valid base64: {e}")))
}

async fn predict(State(s): State<SharedState>, body: Bytes) -> Result<Json<Value>, XalError> {
    let request: PredictRequest =
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("invalid /v1/predict body: {e}")))?;
    if request.model != MODEL_ID {
        let e = ApiError::not_found(format!("no model {:?} here (GET /v1/models lists {MODEL_ID:?})", request.model));
        return Err(XalError(e, "MODEL_NOT_FOUND"));
    }
    let marks = marks_prompt(&request.params.marks)?;
    let texts = request.params.text_prompt.as_deref().map(phrases).unwrap_or_default();
    if !texts.is_empty() && !s.text.is_loaded() {
        return Err(ApiError::bad_request("text prompts need a CLIP model: start fastsam serve with --clip").into());
    }
    if marks.is_empty() && texts.is_empty() {
        return Ok(Json(json!({ "success": true, "data": { "shapes": [], "description": "", "replace": false } })));
    }
    let bytes = decode_image(&request.image)?;
    if bytes.len() > s.config.max_upload_bytes {
        let limit = s.config.max_upload_bytes;
        return Err(
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, format!("the image is larger than {limit} bytes")).into()
        );
    }
    // The image's content is its identity: X-AnyLabeling resends the whole image with every click.
    let key = format!("xal-{:x}", Sha256::digest(&bytes));
    let entry = segmenter::cached_or_segment(&s, key, || async { Ok(("x-anylabeling".to_string(), bytes)) }).await?;
    let state = s.clone();
    let shapes = blocking(move || {
        let (seg, image) = (&entry.segmentation, &entry.image);
        let mut out = Vec::new();
        if !marks.is_empty() {
            let selection = state.text.select(seg, image, &marks)?;
            if let Some((mask, score)) = one_mask(seg, &selection)? {
                out.extend(shapes(&mask, MARK_LABEL, score));
            }
        }
        for phrase in texts {
            let selection = state.text.select(seg, image, &Prompt::default().text(phrase.clone()))?;
            if let Some((mask, score)) = one_mask(seg, &selection)? {
                out.extend(shapes(&mask, &phrase, score));
            }
        }
        Ok(out)
    })
    .await?;
    Ok(Json(json!({ "success": true, "data": { "shapes": shapes, "description": "", "replace": false } })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_parse_as_the_canvas_sends_them() {
        let marks = [
            json!({"type": "point", "data": [10, 20], "label": 1}),
            json!({"type": "point", "data": [5, 6], "label": 0}),
            json!({"type": "rectangle", "data": [1, 2, 30, 40]}),
        ];
        let p = marks_prompt(&marks).unwrap();
        assert_eq!(p.points[1], PointPrompt { x: 5.0, y: 6.0, label: PointLabel::Background });
        assert_eq!(p.boxes, [BoxPrompt { x1: 1.0, y1: 2.0, x2: 30.0, y2: 40.0 }]);
        for bad in [json!({"type": "point", "data": [1]}), json!({"type": "circle", "data": [1, 2]})] {
            assert!(marks_prompt(&[bad]).unwrap_err().message.contains("must be"));
        }
        assert!(marks_prompt(&[json!({"type": "point", "data": [1, 2], "label": 3})]).is_err());
        assert_eq!(phrases("bus, person. bus."), ["bus", "person"]);
        assert!(same_key(b"abc", b"abc") && !same_key(b"abd", b"abc") && !same_key(b"ab", b"abc"));
    }
}
