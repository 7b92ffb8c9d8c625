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
}

/// Any combination of points, boxes and text phrases; the kinds given are united.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prompt {
    pub points: Vec<PointPrompt>,
    pub boxes: Vec<BoxPrompt>,
    pub texts: Vec<String>,
    pub point_mode: PointMode,
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

    /// Rejects values no selection can give a meaning to (NaN, infinities). Out-of-image values are fine:
    /// they are clipped to the image as the reference clips them.
    pub fn validate(&self) -> Result<()> {
        for p in &self.points {
            if !(p.x.is_finite() && p.y.is_finite()) {
                return Err(Error::invalid("point", format!("{},{} is not a finite pixel position", p.x, p.y)));
            }
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
