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

/// `GET /v1/images/{id}/annotations` answer: every object's annotation, raw or smoothed.
#[derive(Debug, Serialize, Deserialize)]
pub struct AnnotationsResponse {
    pub smooth: bool,
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
    /// Legacy spelling of `"point_mode": "merge"`.
    pub merge: bool,
    /// How points pick masks (absent: the reference's rule).
    pub point_mode: Option<ApiPointMode>,
    /// Text: every mask whose CLIP cosine with the phrase is at least this, best first (-1 to 1).
    pub text_threshold: Option<f32>,
    /// Text: at most this many masks per phrase, best first (at least 1).
    pub text_top_k: Option<usize>,
    /// Select over the smoothed masks (the FastSAM authors' `better_quality`; made once per image, then cached).
    pub smooth: bool,
}

/// `point_mode` of a select request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiPointMode {
    /// Ultralytics' rule: every mask containing a foreground point and no background point.
    Reference,
    /// The FastSAM authors' `point_prompt`: masks painted largest first into one merged mask.
    Merge,
    /// One object per click: per foreground point, the best-scored mask containing it and no background point.
    PerPoint,
}

impl ApiPointMode {
    fn as_str(self) -> &'static str {
        match self {
            ApiPointMode::Reference => "reference",
            ApiPointMode::Merge => "merge",
            ApiPointMode::PerPoint => "per_point",
        }
    }
}

impl From<ApiPointMode> for PointMode {
    fn from(m: ApiPointMode) -> Self {
        match m {
            ApiPointMode::Reference => PointMode::Reference,
            ApiPointMode::Merge => PointMode::Merge,
            ApiPointMode::PerPoint => PointMode::PerPoint,
        }
    }
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
        let point_mode = self.point_mode()?;
        self.check_text_options()?;
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
            point_mode,
            text_threshold: self.text_threshold,
            text_top_k: self.text_top_k,
        };
        if prompt.is_empty() {
            return Err(ApiError::bad_request("empty prompt: give points, boxes or texts"));
        }
        if prompt.texts.iter().any(|t| t.trim().is_empty()) {
            return Err(ApiError::bad_request("text prompts must not be blank"));
        }
        if point_mode == PointMode::PerPoint && prompt.points.is_empty() {
            return Err(ApiError::bad_request("point_mode \"per_point\" needs points (one object per click)"));
        }
        prompt.validate().map_err(|e| ApiError::bad_request(e.to_string()))?;
        Ok(prompt)
    }

    fn point_mode(&self) -> Result<PointMode, ApiError> {
        match (self.merge, self.point_mode) {
            (false, mode) => Ok(mode.map_or(PointMode::Reference, PointMode::from)),
            (true, None | Some(ApiPointMode::Merge)) => Ok(PointMode::Merge),
            (true, Some(other)) => Err(ApiError::bad_request(format!(
                "\"merge\": true contradicts point_mode {:?} (give one of them; merge is point_mode \"merge\")",
                other.as_str()
            ))),
        }
    }

    /// The text options' own checks, naming the request's fields (the library checks the values again).
    fn check_text_options(&self) -> Result<(), ApiError> {
        if self.texts.is_empty() {
            for (given, field) in
                [(self.text_threshold.is_some(), "text_threshold"), (self.text_top_k.is_some(), "text_top_k")]
            {
                if given {
                    return Err(ApiError::bad_request(format!("{field} needs texts (it ranks the masks per phrase)")));
                }
            }
        }
        if let Some(t) = self.text_threshold.filter(|t| !(-1.0..=1.0).contains(t)) {
            return Err(ApiError::bad_request(format!(
                "text_threshold {t} is outside -1 to 1 (it is a cosine similarity)"
            )));
        }
        if self.text_top_k == Some(0) {
            return Err(ApiError::bad_request("text_top_k 0: give at least 1 mask per phrase"));
        }
        Ok(())
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

    fn text_request(json: &str) -> Result<Prompt, String> {
        let req: SelectRequest = serde_json::from_str(json).map_err(|e| e.to_string())?;
        req.to_prompt().map_err(|e| e.message)
    }

    #[test]
    fn prompt_options_reach_the_prompt() {
        let p = text_request(r#"{"texts": ["a dog"], "text_threshold": -0.25, "text_top_k": 3}"#).unwrap();
        assert_eq!((p.text_threshold, p.text_top_k), (Some(-0.25), Some(3)));
        assert_eq!(p.point_mode, PointMode::Reference);
        let p = text_request(r#"{"points": [[1, 2]], "point_mode": "per_point"}"#).unwrap();
        assert_eq!(p.point_mode, PointMode::PerPoint);
        let p = text_request(r#"{"points": [[1, 2]], "point_mode": "merge", "merge": true}"#).unwrap();
        assert_eq!(p.point_mode, PointMode::Merge);
        assert_eq!(text_request(r#"{"points": [[1, 2]], "merge": true}"#).unwrap().point_mode, PointMode::Merge);
    }

    #[test]
    fn bad_prompt_options_are_refused_with_the_field_named() {
        for (json, message) in [
            (r#"{"texts": ["a"], "text_threshold": 1.5}"#, "text_threshold 1.5 is outside -1 to 1"),
            (r#"{"texts": ["a"], "text_threshold": -1.01}"#, "outside -1 to 1"),
            (r#"{"texts": ["a"], "text_top_k": 0}"#, "text_top_k 0"),
            (r#"{"texts": ["a"], "text_top_k": -1}"#, "invalid value: integer `-1`"),
            (r#"{"points": [[1, 2]], "text_threshold": 0.2}"#, "text_threshold needs texts"),
            (r#"{"points": [[1, 2]], "text_top_k": 2}"#, "text_top_k needs texts"),
            (r#"{"points": [[1, 2]], "point_mode": "nearest"}"#, "unknown variant `nearest`"),
            (
                r#"{"points": [[1, 2]], "point_mode": "per_point", "merge": true}"#,
                "contradicts point_mode \"per_point\"",
            ),
            (r#"{"texts": ["a"], "point_mode": "per_point"}"#, "needs points"),
            (r#"{"points": [[1, 2]], "smooth": "yes"}"#, "invalid type"),
        ] {
            let err = text_request(json).unwrap_err();
            assert!(err.contains(message), "{json}: {err}");
        }
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
