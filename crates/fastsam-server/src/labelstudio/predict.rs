//! `POST /predict`: interactive pre-annotation (a context of smart regions → one region) and batch
//! pre-annotation (no context → regions for every task).

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::Json;
use fastsam::Prompt;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::context::{self, Interaction};
use super::fetch::{self, FetchLimits, ImageSource};
use super::label_config::{Control, LabelConfig};
use super::{model_version, regions::regions};
use crate::cache::CachedImage;
use crate::error::ApiError;
use crate::prompt_mask::one_mask;
use crate::routes::blocking;
use crate::segmenter;
use crate::state::SharedState;

/// Without `--clip`, batch pre-annotation returns the best-scored masks of "segment everything", at most this
/// many per task (FastSAM finds up to 300; more would bury the labeller).
pub const BATCH_MASK_CAP: usize = 100;

#[derive(Debug, Deserialize)]
struct PredictRequest {
    tasks: Vec<Task>,
    label_config: String,
    #[serde(default)]
    params: Params,
}

#[derive(Debug, Deserialize)]
struct Task {
    #[serde(default)]
    id: Option<Value>,
    data: serde_json::Map<String, Value>,
}

#[derive(Debug, Default, Deserialize)]
struct Params {
    #[serde(default)]
    context: Option<Context>,
}

#[derive(Debug, Default, Deserialize)]
struct Context {
    #[serde(default)]
    result: Vec<Value>,
}

pub async fn predict(State(s): State<SharedState>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let request: PredictRequest =
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("invalid /predict body: {e}")))?;
    let config = LabelConfig::parse(&request.label_config)?;
    let interaction = match request.params.context {
        Some(c) if !c.result.is_empty() => Some(context::parse(&c.result)?),
        _ => None,
    };
    let results = match interaction {
        Some(interaction) => {
            let task = request.tasks.first().ok_or_else(|| ApiError::bad_request("no task to annotate"))?;
            vec![interactive(&s, &config, task, &interaction).await?]
        }
        None => {
            let mut results = Vec::with_capacity(request.tasks.len());
            for task in &request.tasks {
                results.push(batch(&s, &config, task).await?);
            }
            results
        }
    };
    Ok(Json(json!({ "results": results })))
}

fn prediction(result: Vec<Value>) -> Value {
    let scores: Vec<f64> = result.iter().filter_map(|r| r["score"].as_f64()).collect();
    let score = if scores.is_empty() { 0.0 } else { scores.iter().sum::<f64>() / scores.len() as f64 };
    json!({ "result": result, "score": score, "model_version": model_version() })
}

async fn interactive(
    s: &SharedState,
    config: &LabelConfig,
    task: &Task,
    interaction: &Interaction,
) -> Result<Value, ApiError> {
    let control = config.mask_control(&interaction.to_name).ok_or_else(|| {
        ApiError::bad_request(format!(
            "the labelling config has no BrushLabels or PolygonLabels for image {:?} to put the mask in",
            interaction.to_name
        ))
    })?;
    let entry = task_image(s, config, task, &control.to_name).await?;
    let label = interaction.label.clone().or_else(|| control.labels.first().cloned()).unwrap_or_default();
    let prompt = interaction.prompt(entry.image.width, entry.image.height);
    let (control, state) = (control.clone(), s.clone());
    blocking(move || {
        let started = Instant::now();
        let selection = state.text.select(&entry.segmentation, &entry.image, &prompt)?;
        let result = match one_mask(&entry.segmentation, &selection)? {
            Some((mask, score)) => regions(&control, &mask, &label, score, &state.new_id()[..10]),
            None => Vec::new(),
        };
        tracing::info!(ms = started.elapsed().as_secs_f64() * 1000.0, regions = result.len(), "interactive region");
        // Label Studio wants one prediction even when nothing was found.
        Ok(prediction(result))
    })
    .await
}

async fn batch(s: &SharedState, config: &LabelConfig, task: &Task) -> Result<Value, ApiError> {
    let mut result = Vec::new();
    let controls: Vec<Control> = config.mask_controls().cloned().collect();
    if controls.is_empty() {
        return Err(ApiError::bad_request("the labelling config has no BrushLabels or PolygonLabels to pre-annotate"));
    }
    for control in controls {
        let entry = task_image(s, config, task, &control.to_name).await?;
        let state = s.clone();
        result.extend(blocking(move || batch_regions(&state, &entry, &control)).await?);
    }
    Ok(prediction(result))
}

/// With `--clip`: per label, the masks whose crops match the label's name — every one whose CLIP score passes
/// the configured threshold (best first, at most [`BATCH_MASK_CAP`]), else the best one. Without: the
/// best-scored masks ([`BATCH_MASK_CAP`]), labelled with the control's first label.
fn batch_regions(s: &SharedState, entry: &CachedImage, control: &Control) -> Result<Vec<Value>, ApiError> {
    let seg = &entry.segmentation;
    let mut out = Vec::new();
    if s.text.is_loaded() {
        let threshold = s.config.label_studio.text_threshold;
        for label in &control.labels {
            let prompt = Prompt {
                text_threshold: threshold,
                text_top_k: threshold.map(|_| BATCH_MASK_CAP),
                ..Prompt::default().text(label.clone())
            };
            let selection = s.text.select(seg, &entry.image, &prompt)?;
            for &i in &selection.indices {
                let object = &seg.objects()[i];
                out.extend(regions(control, &object.mask, label, object.score, &s.new_id()[..10]));
            }
        }
    } else {
        let label = control.labels.first().cloned().unwrap_or_default();
        for object in seg.objects().iter().take(BATCH_MASK_CAP) {
            out.extend(regions(control, &object.mask, &label, object.score, &s.new_id()[..10]));
        }
    }
    Ok(out)
}

/// The task's image for the Image tag `image`, segmented once and then served from the cache.
async fn task_image(
    s: &SharedState,
    config: &LabelConfig,
    task: &Task,
    image: &str,
) -> Result<Arc<CachedImage>, ApiError> {
    let tag = config
        .image(image)
        .ok_or_else(|| ApiError::bad_request(format!("the labelling config has no <Image name={image:?}>")))?;
    let value = task.data.get(&tag.data_key).and_then(Value::as_str).ok_or_else(|| {
        ApiError::bad_request(format!("task {} has no image URL in data.{}", task_label(task), tag.data_key))
    })?;
    let source = s.config.label_studio.resolve(value)?;
    let key = match &source {
        ImageSource::Url { url, .. } => format!("ls-{:x}", Sha256::digest(url.as_bytes())),
        ImageSource::Inline(bytes) => format!("ls-{:x}", Sha256::digest(bytes)),
    };
    let limits = FetchLimits { max_bytes: s.config.max_upload_bytes, timeout: s.config.label_studio.fetch_timeout };
    let name = value.rsplit('/').next().unwrap_or("task").chars().take(200).collect::<String>();
    segmenter::cached_or_segment(s, key, || async move {
        let bytes = fetch::fetch(source, &s.label_studio, limits).await?;
        Ok((name, bytes))
    })
    .await
}

fn task_label(task: &Task) -> String {
    task.id.as_ref().map(Value::to_string).unwrap_or_else(|| "(no id)".into())
}
