//! Prompts: what the user points at. Selection over a segmentation lives in `segmentation.rs`.

use crate::{Error, Result};

/// Whether a point marks the object (foreground) or something to exclude (background).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PointLabel {
    Background = 0,
    Foreground = 1,
}

impl PointLabel {
    pub fn from_i64(v: i64) -> Result<Self> {
        match v {
            0 => Ok(PointLabel::Background),
            1 => Ok(PointLabel::Foreground),
            other => Err(Error::invalid("point label", format!("{other} (expected 1 = foreground or 0 = background)"))),
        }
    }
}

/// A click, in pixels of the original image. Coordinates are truncated to integers and clipped to the
/// image when selecting, as the reference does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PointPrompt {
    pub x: f64,
    pub y: f64,
    pub label: PointLabel,
}

/// A dragged box `x1,y1,x2,y2` in pixels of the original image (truncated and clipped like the reference).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoxPrompt {
    pub x1: f64,
    pub y1: f64,
    pub x2: f64,
    pub y2: f64,
}

/// How point prompts pick masks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PointMode {
    /// Ultralytics `FastSAMPredictor.prompt`: every mask containing a foreground point and no background point.
    #[default]
    Reference,
    /// The FastSAM authors' original `point_prompt`: masks sorted by area, merged into one mask.
    Merge,
    /// One object per click: for each foreground point, in the order given, the highest-scoring mask that
    /// contains it and none of the background points (a point without such a mask selects nothing).
    PerPoint,
}

/// Any combination of points, boxes and text phrases; the kinds given are united.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prompt {
    pub points: Vec<PointPrompt>,
    pub boxes: Vec<BoxPrompt>,
    pub texts: Vec<String>,
    pub point_mode: PointMode,
    /// Text: every mask whose CLIP similarity to the phrase is at least this (best first), instead of only the
    /// most similar one.
    pub text_threshold: Option<f32>,
    /// Text: at most this many masks per phrase, best first (with `text_threshold`: the best of those above it).
    pub text_top_k: Option<usize>,
}

impl Prompt {
    pub fn is_empty(&self) -> bool {
        self.points.is_empty() && self.boxes.is_empty() && self.texts.is_empty()
    }

    pub fn point(mut self, x: f64, y: f64, label: PointLabel) -> Self {
        self.points.push(PointPrompt { x, y, label });
        self
    }

    pub fn bbox(mut self, x1: f64, y1: f64, x2: f64, y2: f64) -> Self {
        self.boxes.push(BoxPrompt { x1, y1, x2, y2 });
        self
    }

    pub fn text(mut self, phrase: impl Into<String>) -> Self {
        self.texts.push(phrase.into());
        self
    }

    /// Whether text phrases pick a ranked list per phrase rather than the reference's single best mask.
    pub fn ranks_texts(&self) -> bool {
        self.text_threshold.is_some() || self.text_top_k.is_some()
    }

    /// Rejects values no selection can give a meaning to (NaN, infinities). Out-of-image values are fine:
    /// they are clipped to the image as the reference clips them.
    pub fn validate(&self) -> Result<()> {
        for p in &self.points {
            if !(p.x.is_finite() && p.y.is_finite()) {
                return Err(Error::invalid("point", format!("{},{} is not a finite pixel position", p.x, p.y)));
            }
        }
        if let Some(t) = self.text_threshold.filter(|t| !(-1.0..=1.0).contains(t)) {
            return Err(Error::invalid("text threshold", format!("{t} (a cosine similarity: expected -1 to 1)")));
        }
        if self.text_top_k == Some(0) {
            return Err(Error::invalid("text top-k", "0 (expected at least 1 mask per phrase)"));
        }
        for b in &self.boxes {
            if ![b.x1, b.y1, b.x2, b.y2].iter().all(|v| v.is_finite()) {
                return Err(Error::invalid(
                    "box",
                    format!("{},{},{},{} is not made of finite pixel positions", b.x1, b.y1, b.x2, b.y2),
                ));
            }
        }
        Ok(())
    }
}

/// `N` comma-separated finite numbers (one more allowed for a point's label); messages name the value.
fn parse_numbers<const N: usize>(s: &str, what: &str, form: &str) -> Result<Vec<f64>, String> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    if parts.len() != N && !(what == "point" && parts.len() == N + 1) {
        return Err(format!("expected {form}, got {s:?}"));
    }
    parts
        .iter()
        .map(|p| match p.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(format!("{p:?} in {what} {s:?} is not a finite number (expected {form})")),
        })
        .collect()
}

/// A command-line/textual point `X,Y` or `X,Y,LABEL` (1 = foreground, the default; 0 = background).
pub fn parse_point(s: &str) -> Result<PointPrompt, String> {
    let v = parse_numbers::<2>(s, "point", "X,Y or X,Y,LABEL")?;
    let label = match v.get(2) {
        None => PointLabel::Foreground,
        Some(&1.0) => PointLabel::Foreground,
        Some(&0.0) => PointLabel::Background,
        Some(l) => return Err(format!("label {l} in point {s:?} must be 1 (foreground) or 0 (background)")),
    };
    Ok(PointPrompt { x: v[0], y: v[1], label })
}

/// A command-line/textual box `X1,Y1,X2,Y2`.
pub fn parse_box(s: &str) -> Result<BoxPrompt, String> {
    let v = parse_numbers::<4>(s, "box", "X1,Y1,X2,Y2")?;
    Ok(BoxPrompt { x1: v[0], y1: v[1], x2: v[2], y2: v[3] })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_parse_with_and_without_label() {
        assert_eq!(parse_point("10,20").unwrap(), PointPrompt { x: 10.0, y: 20.0, label: PointLabel::Foreground });
        assert_eq!(parse_point(" 1.5, 2 ,0").unwrap().label, PointLabel::Background);
        assert_eq!(parse_point("-3,4,1").unwrap().x, -3.0);
    }

    #[test]
    fn malformed_points_say_what_is_wrong() {
        assert!(parse_point("10").unwrap_err().contains("expected X,Y"));
        assert!(parse_point("1,2,3,4").unwrap_err().contains("expected X,Y"));
        assert!(parse_point("a,2").unwrap_err().contains("not a finite number"));
        assert!(parse_point("nan,2").unwrap_err().contains("not a finite number"));
        assert!(parse_point("1,2,2").unwrap_err().contains("must be 1"));
    }

    #[test]
    fn boxes_parse_and_reject_wrong_arity() {
        assert_eq!(parse_box("1,2,3,4").unwrap(), BoxPrompt { x1: 1.0, y1: 2.0, x2: 3.0, y2: 4.0 });
        assert!(parse_box("1,2,3").unwrap_err().contains("X1,Y1,X2,Y2"));
        assert!(parse_box("1,2,3,4,5").unwrap_err().contains("X1,Y1,X2,Y2"));
        assert!(parse_box("1,2,inf,4").unwrap_err().contains("not a finite"));
    }
}
