//! The JSON bodies of the HTTP API (documented in `static/openapi.json`).

use fastsam::output::annotations::Annotation;
use fastsam::{BoxPrompt, PointLabel, PointMode, PointPrompt, Prompt};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// `POST /v1/images` answer: the id to prompt with, and every object's annotation (as the CLI's JSON).
#[derive(Debug, Serialize, Deserialize)]
pub struct UploadResponse {
    pub id: String,
    pub width: u32,
    pub height: u32,
    pub annotations: Vec<Annotation>,
}

/// `POST /v1/images/{id}/select` body. Coordinates are pixels of the original image.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SelectRequest {
    pub points: Vec<[f64; 2]>,
    /// One per point: 1 = foreground, 0 = background. Absent: every point is foreground.
    pub labels: Option<Vec<i64>>,
    pub boxes: Vec<[f64; 4]>,
    pub texts: Vec<String>,
    /// The FastSAM authors' point mode: masks painted largest first into one merged mask.
    pub merge: bool,
}

/// `POST /v1/images/{id}/select` answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct SelectResponse {
    /// The selected objects (ids renumbered from 0), or the one merged mask.
    pub annotations: Vec<Annotation>,
    /// Indices of the selected objects in the upload's `annotations`.
    pub indices: Vec<usize>,
    /// Server-side time of the selection and its encoding, in milliseconds.
    pub latency_ms: f64,
}

impl SelectRequest {
    pub fn to_prompt(&self) -> Result<Prompt, ApiError> {
        let labels = match &self.labels {
            Some(l) if l.len() != self.points.len() => {
                return Err(ApiError::bad_request(format!(
                    "{} labels for {} points (give one label per point, or none)",
                    l.len(),
                    self.points.len()
                )))
            }
            Some(l) => l.iter().map(|&v| PointLabel::from_i64(v)).collect::<fastsam::Result<Vec<_>>>(),
            None => Ok(vec![PointLabel::Foreground; self.points.len()]),
        }
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let prompt = Prompt {
            points: self.points.iter().zip(labels).map(|(&[x, y], label)| PointPrompt { x, y, label }).collect(),
            boxes: self.boxes.iter().map(|&[x1, y1, x2, y2]| BoxPrompt { x1, y1, x2, y2 }).collect(),
            texts: self.texts.clone(),
            point_mode: if self.merge { PointMode::Merge } else { PointMode::Reference },
            ..Prompt::default()
        };
        if prompt.is_empty() {
            return Err(ApiError::bad_request("empty prompt: give points, boxes or texts"));
        }
        if prompt.texts.iter().any(|t| t.trim().is_empty()) {
            return Err(ApiError::bad_request("text prompts must not be blank"));
        }
        prompt.validate().map_err(|e| ApiError::bad_request(e.to_string()))?;
        Ok(prompt)
    }
}

/// `?ids=0,3`: indices into the upload's annotations.
pub fn parse_ids(ids: Option<&str>, count: usize) -> Result<Option<Vec<usize>>, ApiError> {
    let Some(ids) = ids.filter(|s| !s.trim().is_empty()) else { return Ok(None) };
    ids.split(',')
        .map(|p| match p.trim().parse::<usize>() {
            Ok(i) if i < count => Ok(i),
            Ok(i) => Err(ApiError::bad_request(format!("id {i} in ids is out of range (the image has {count} masks)"))),
            Err(_) => Err(ApiError::bad_request(format!("{p:?} in ids is not a mask index (expected e.g. ids=0,3)"))),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_must_match_points() {
        let req = SelectRequest { points: vec![[1.0, 2.0]], labels: Some(vec![1, 0]), ..Default::default() };
        assert!(req.to_prompt().unwrap_err().message.contains("2 labels for 1 points"));
        let req = SelectRequest { points: vec![[1.0, 2.0]], labels: Some(vec![2]), ..Default::default() };
        assert!(req.to_prompt().unwrap_err().message.contains("expected 1 = foreground"));
        let req =
            SelectRequest { points: vec![[1.0, 2.0], [3.0, 4.0]], labels: Some(vec![1, 0]), ..Default::default() };
        let p = req.to_prompt().unwrap();
        assert_eq!(p.points[1], PointPrompt { x: 3.0, y: 4.0, label: PointLabel::Background });
    }

    #[test]
    fn empty_prompts_and_bad_ids_are_refused() {
        assert!(SelectRequest::default().to_prompt().unwrap_err().message.contains("empty prompt"));
        assert_eq!(parse_ids(Some("0, 2"), 3).unwrap(), Some(vec![0, 2]));
        assert_eq!(parse_ids(None, 3).unwrap(), None);
        assert!(parse_ids(Some("3"), 3).unwrap_err().message.contains("out of range"));
        assert!(parse_ids(Some("a"), 3).unwrap_err().message.contains("not a mask index"));
    }
}
