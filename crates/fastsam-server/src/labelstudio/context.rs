//! The interactive context Label Studio sends with `/predict`: the user's smart regions (`params.context.result`),
//! coordinates in percent of the image. Keypoints become point prompts (`is_positive` false: background),
//! rectangles box prompts.

use fastsam::{BoxPrompt, PointLabel, PointMode, PointPrompt, Prompt};
use serde_json::Value;

use crate::error::ApiError;

#[derive(Debug, Clone, PartialEq)]
pub enum Mark {
    /// Percent of the width/height.
    Point { x: f64, y: f64, positive: bool },
    /// Top-left corner and size in percent; `rotation` in degrees, clockwise around the top-left corner.
    Rect { x: f64, y: f64, width: f64, height: f64, rotation: f64 },
}

/// The parsed context: marks on one image, and the label the user picked.
#[derive(Debug, Clone, PartialEq)]
pub struct Interaction {
    pub marks: Vec<Mark>,
    pub label: Option<String>,
    /// The Image tag the marks are on.
    pub to_name: String,
}

fn number(value: &Value, key: &str, i: usize) -> Result<f64, ApiError> {
    match value.get(key).and_then(Value::as_f64) {
        Some(v) if v.is_finite() => Ok(v),
        _ => Err(ApiError::bad_request(format!("context.result[{i}].value.{key} must be a finite number (percent)"))),
    }
}

pub fn parse(result: &[Value]) -> Result<Interaction, ApiError> {
    let mut marks = Vec::new();
    let mut label = None;
    let mut to_name: Option<String> = None;
    for (i, region) in result.iter().enumerate() {
        let field = |k: &str| region.get(k).and_then(Value::as_str);
        let kind = field("type").ok_or_else(|| {
            ApiError::bad_request(format!("context.result[{i}] has no \"type\" (e.g. keypointlabels)"))
        })?;
        let value = region
            .get("value")
            .filter(|v| v.is_object())
            .ok_or_else(|| ApiError::bad_request(format!("context.result[{i}] has no \"value\" object")))?;
        let mark = match kind {
            "keypointlabels" => Mark::Point {
                x: number(value, "x", i)?,
                y: number(value, "y", i)?,
                positive: region.get("is_positive").and_then(Value::as_bool).unwrap_or(true),
            },
            "rectanglelabels" => Mark::Rect {
                x: number(value, "x", i)?,
                y: number(value, "y", i)?,
                width: number(value, "width", i)?,
                height: number(value, "height", i)?,
                rotation: value.get("rotation").and_then(Value::as_f64).filter(|r| r.is_finite()).unwrap_or(0.0),
            },
            other => {
                return Err(ApiError::bad_request(format!(
                    "context.result[{i}] is a {other:?} region: smart prompts are keypointlabels and rectanglelabels"
                )))
            }
        };
        marks.push(mark);
        let tool = field("to_name").unwrap_or("").to_string();
        match &to_name {
            Some(t) if *t != tool => {
                return Err(ApiError::bad_request("context.result regions point at different images (to_name)"))
            }
            _ => to_name = Some(tool),
        }
        if let Some(l) = value.get(kind).and_then(Value::as_array).and_then(|a| a.first()).and_then(Value::as_str) {
            label = Some(l.to_string());
        }
    }
    let to_name = to_name.ok_or_else(|| ApiError::bad_request("context.result is empty"))?;
    Ok(Interaction { marks, label, to_name })
}

/// Percent of `size` → pixels. Values within 1e-6 px of an integer are snapped to it, so a pixel position sent
/// as a percentage (and rounded on the way) comes back to the same pixel before the reference truncates it.
fn pixels(percent: f64, size: u32) -> f64 {
    let px = percent * f64::from(size) / 100.0;
    if (px - px.round()).abs() < 1e-6 {
        px.round()
    } else {
        px
    }
}

impl Interaction {
    /// The prompt on a `width`×`height` image: keypoints merged as the FastSAM authors' point prompt, each
    /// rectangle picking its best-fitting mask (a rotated one: its axis-aligned bounding box), united.
    pub fn prompt(&self, width: u32, height: u32) -> Prompt {
        let mut prompt = Prompt { point_mode: PointMode::Merge, ..Prompt::default() };
        for mark in &self.marks {
            match *mark {
                Mark::Point { x, y, positive } => prompt.points.push(PointPrompt {
                    x: pixels(x, width),
                    y: pixels(y, height),
                    label: if positive { PointLabel::Foreground } else { PointLabel::Background },
                }),
                Mark::Rect { x, y, width: w, height: h, rotation } => {
                    let (x0, y0, w, h) = (pixels(x, width), pixels(y, height), pixels(w, width), pixels(h, height));
                    let (sin, cos) = rotation.to_radians().sin_cos();
                    let corners = [(0.0, 0.0), (w, 0.0), (0.0, h), (w, h)]
                        .map(|(dx, dy)| (x0 + dx * cos - dy * sin, y0 + dx * sin + dy * cos));
                    let xs = corners.map(|c| c.0);
                    let ys = corners.map(|c| c.1);
                    let min = |v: [f64; 4]| v.iter().copied().fold(f64::INFINITY, f64::min);
                    let max = |v: [f64; 4]| v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    prompt.boxes.push(BoxPrompt { x1: min(xs), y1: min(ys), x2: max(xs), y2: max(ys) });
                }
            }
        }
        prompt
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keypoints_and_rectangles_become_pixel_prompts() {
        let result = [
            json!({"type": "keypointlabels", "to_name": "image", "is_positive": true,
                   "value": {"x": 50.0, "y": 25.0, "width": 0.5, "keypointlabels": ["Bus"]}}),
            json!({"type": "keypointlabels", "to_name": "image", "is_positive": false, "value": {"x": 10.0, "y": 10.0}}),
            json!({"type": "rectanglelabels", "to_name": "image",
                   "value": {"x": 10.0, "y": 20.0, "width": 30.0, "height": 40.0, "rectanglelabels": ["Car"]}}),
        ];
        let i = parse(&result).unwrap();
        assert_eq!(i.label.as_deref(), Some("Car"));
        let p = i.prompt(810, 1080);
        assert_eq!(p.points[0], PointPrompt { x: 405.0, y: 270.0, label: PointLabel::Foreground });
        assert_eq!(p.points[1].label, PointLabel::Background);
        assert_eq!(p.boxes[0], BoxPrompt { x1: 81.0, y1: 216.0, x2: 324.0, y2: 648.0 });
        assert_eq!(p.point_mode, PointMode::Merge);
        // 100 px of a 300 px wide image, as a percentage that does not round-trip exactly.
        assert_eq!(pixels(100.0 / 300.0 * 100.0, 300), 100.0);
    }

    #[test]
    fn malformed_contexts_say_what_is_wrong() {
        let cases = [
            (json!({"value": {"x": 1, "y": 2}}), "no \"type\""),
            (json!({"type": "keypointlabels"}), "no \"value\""),
            (json!({"type": "keypointlabels", "value": {"x": "a", "y": 2}}), "value.x must be a finite number"),
            (json!({"type": "rectanglelabels", "value": {"x": 1, "y": 2, "width": 3}}), "value.height"),
            (json!({"type": "polygonlabels", "value": {}}), "smart prompts are keypointlabels"),
        ];
        for (region, expected) in cases {
            let e = parse(&[region]).unwrap_err();
            assert!(e.message.contains(expected), "{} should contain {expected}", e.message);
        }
        assert!(parse(&[]).unwrap_err().message.contains("empty"));
    }
}
