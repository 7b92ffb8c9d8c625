//! The result of "segment everything" and prompt selection over it.
//!
//! Selection follows Ultralytics `FastSAMPredictor.prompt` exactly (the reference): boxes pick, per box, the
//! mask with the best box–mask IoU; points keep the masks that contain any foreground point and none of the
//! background points (only background points: every mask containing none of them); the kinds are united and
//! the result keeps the segmentation's order. `PointMode::Merge` instead follows the FastSAM authors' original
//! `point_prompt`: masks sorted by area (largest first) are painted into one mask, a foreground point adding a
//! mask that contains it, a background point erasing it.
//!
//! Beyond the reference (its defaults unchanged): a text threshold / top-k ranks, per phrase, every candidate
//! mask by its CLIP similarity (the very cosine the reference takes the argmax of); `PointMode::PerPoint` gives
//! one object per foreground click. With either, the selection is in ranked order (see [`Selection`]).

use std::sync::{Arc, Mutex};

use crate::clip::{preprocess, Clip};
use crate::image::RgbImage;
use crate::mask::Mask;
use crate::output::annotations::AnnotationFile;
use crate::postprocess::{Detection, Detections};
use crate::prompt::{BoxPrompt, PointLabel, PointMode, PointPrompt, Prompt};
use crate::{Error, Result};

/// Every object found in one image: boxes, scores and masks in the reference's order (score descending).
#[derive(Debug, Clone)]
pub struct Segmentation {
    detections: Detections,
    /// CLIP embeddings of the masked crops, computed on the first text prompt for one CLIP model.
    crops: Arc<Mutex<Option<Arc<CropEmbeddings>>>>,
}

/// The text-prompt columns: objects with mask area > 100 and their normalised crop embeddings.
#[derive(Debug)]
struct CropEmbeddings {
    clip_id: u64,
    keep: Vec<usize>,
    embeddings: Vec<Vec<f32>>,
}

/// Masks chosen by a prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// Indices into [`Segmentation::objects`], each once. Ascending (the reference's order), unless the prompt
    /// ranks texts (threshold / top-k) or uses [`PointMode::PerPoint`]: then text hits first (phrase by phrase,
    /// most similar first), then per-point hits (in the points' order), then the other selected objects
    /// ascending; an object selected twice stays where it first appeared.
    pub indices: Vec<usize>,
    /// Why each of `indices` was selected (same order).
    pub reasons: Vec<Reason>,
    /// With [`PointMode::Merge`]: the one merged mask (united with any box/text selection) and the best
    /// score among the objects painted into it.
    pub merged: Option<(Mask, f32)>,
}

/// Why an object is in a [`Selection`]; it goes into the object's annotation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reason {
    /// The (first) phrase that selected the object, and the cosine between the phrase's and the object's crop's
    /// normalised CLIP embeddings.
    pub text: Option<(String, f32)>,
    /// With [`PointMode::PerPoint`]: the (first) click that selected the object, as its position among all the
    /// prompt's points.
    pub point_index: Option<usize>,
}

/// One object a phrase picked.
#[derive(Debug, Clone, Copy)]
struct TextHit {
    phrase: usize,
    object: usize,
    score: f32,
}

impl Segmentation {
    pub fn new(detections: Detections) -> Self {
        Segmentation { detections, crops: Arc::default() }
    }

    pub fn width(&self) -> u32 {
        self.detections.width
    }

    pub fn height(&self) -> u32 {
        self.detections.height
    }

    /// The objects: adjusted box, score and mask each.
    pub fn objects(&self) -> &[Detection] {
        &self.detections.items
    }

    pub fn len(&self) -> usize {
        self.detections.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.detections.items.is_empty()
    }

    /// The masks selected by `prompt`. Text phrases need a CLIP model and are rejected here.
    pub fn select(&self, prompt: &Prompt) -> Result<Selection> {
        prompt.validate()?;
        if !prompt.texts.is_empty() {
            return Err(Error::invalid(
                "prompt",
                "text phrases need a CLIP model: use Segmentation::select_with_clip (CLI: --clip <model>)",
            ));
        }
        self.select_with(prompt, &[])
    }

    /// [`Segmentation::select`] plus text phrases, as the reference: per phrase, the object whose masked crop
    /// of `image` (the image that was segmented) is most similar to the phrase under `clip`, among objects with
    /// mask area > 100. All kinds are united.
    pub fn select_with_clip(&self, prompt: &Prompt, image: &RgbImage, clip: &Clip) -> Result<Selection> {
        prompt.validate()?;
        let mut text_hits = Vec::new();
        if !prompt.texts.is_empty() && !self.is_empty() {
            let crops = self.crop_embeddings(image, clip)?;
            if !crops.keep.is_empty() {
                let phrases: Vec<&str> = prompt.texts.iter().map(String::as_str).collect();
                for (phrase, text) in clip.encode_text_shared(&phrases)?.iter().enumerate() {
                    let scores = similarities(text, &crops.embeddings);
                    let ranked =
                        if prompt.ranks_texts() { ranked(&scores, prompt) } else { vec![first_argmax(&scores)] };
                    text_hits.extend(ranked.into_iter().map(|col| TextHit {
                        phrase,
                        object: crops.keep[col],
                        score: scores[col],
                    }));
                }
            }
        }
        self.select_with(prompt, &text_hits)
    }

    /// The `k` objects most similar to `phrase` (cosine of normalised CLIP embeddings), best first; ties keep
    /// the segmentation order. Only objects with mask area > 100 are scored, as in the reference.
    pub fn text_scores(&self, phrase: &str, image: &RgbImage, clip: &Clip, k: usize) -> Result<Vec<(usize, f32)>> {
        if self.is_empty() {
            return Ok(Vec::new());
        }
        let crops = self.crop_embeddings(image, clip)?;
        let text = clip.encode_text_shared(&[phrase])?.remove(0);
        let scores = similarities(&text, &crops.embeddings);
        let prompt = Prompt { text_top_k: Some(k), ..Prompt::default() };
        Ok(ranked(&scores, &prompt).into_iter().map(|col| (crops.keep[col], scores[col])).collect())
    }

    /// The reference's crops (int-truncated adjusted box of the original image, black outside the mask,
    /// objects with mask area <= 100 skipped) through `clip`'s image encoder, once per CLIP model.
    fn crop_embeddings(&self, image: &RgbImage, clip: &Clip) -> Result<Arc<CropEmbeddings>> {
        if (image.width, image.height) != (self.width(), self.height()) {
            return Err(Error::invalid(
                "image",
                format!(
                    "{}x{} is not the segmented image ({}x{})",
                    image.width,
                    image.height,
                    self.width(),
                    self.height()
                ),
            ));
        }
        let mut slot = self.crops.lock().map_err(|_| Error::Runtime("a previous crop encoding panicked".into()))?;
        if let Some(c) = slot.as_ref().filter(|c| c.clip_id == clip.id()) {
            return Ok(c.clone());
        }
        let mut keep = Vec::new();
        let mut crops = Vec::new();
        for (i, d) in self.objects().iter().enumerate() {
            if d.mask.area() <= 100 {
                continue;
            }
            // Python's int() of each float coordinate: truncation toward zero (boxes are inside the image).
            let b = d.bbox.map(|v| v.trunc().max(0.0) as u32);
            let crop = preprocess::masked_crop(image, &d.mask, b)
                .ok_or_else(|| Error::invalid("segmentation", format!("object {i} has an empty box {:?}", d.bbox)))?;
            keep.push(i);
            crops.push(crop);
        }
        let refs: Vec<&RgbImage> = crops.iter().collect();
        let embeddings = if refs.is_empty() { Vec::new() } else { clip.encode_images(&refs)? };
        let c = Arc::new(CropEmbeddings { clip_id: clip.id(), keep, embeddings });
        *slot = Some(c.clone());
        Ok(c)
    }

    /// Box and point rules plus objects already chosen by text phrases.
    fn select_with(&self, prompt: &Prompt, text_hits: &[TextHit]) -> Result<Selection> {
        let mut chosen = vec![false; self.len()];
        for hit in text_hits {
            chosen[hit.object] = true;
        }
        if self.is_empty() {
            return Ok(Selection { indices: Vec::new(), reasons: Vec::new(), merged: None });
        }
        for b in &prompt.boxes {
            chosen[self.best_box_match(b)] = true;
        }
        let mut painted = None;
        let mut per_point: Vec<(usize, usize)> = Vec::new();
        if !prompt.points.is_empty() {
            match prompt.point_mode {
                PointMode::Reference => {
                    for (c, hit) in chosen.iter_mut().zip(self.point_hits(&prompt.points)) {
                        *c |= hit;
                    }
                }
                PointMode::Merge => painted = Some(self.merged_point_mask(&prompt.points)?),
                PointMode::PerPoint => {
                    per_point = self.per_point_hits(&prompt.points);
                    for &(_, object) in &per_point {
                        chosen[object] = true;
                    }
                }
            }
        }
        let ranked_order = prompt.ranks_texts() || prompt.point_mode == PointMode::PerPoint;
        let ascending = (0..self.len()).filter(|&i| chosen[i]);
        let indices: Vec<usize> = if ranked_order {
            let mut seen = vec![false; self.len()];
            text_hits
                .iter()
                .map(|h| h.object)
                .chain(per_point.iter().map(|&(_, object)| object))
                .chain(ascending)
                .filter(|&i| !std::mem::replace(&mut seen[i], true))
                .collect()
        } else {
            ascending.collect()
        };
        let reasons = indices
            .iter()
            .map(|&i| Reason {
                text: text_hits.iter().find(|h| h.object == i).map(|h| (prompt.texts[h.phrase].clone(), h.score)),
                point_index: per_point.iter().find(|&&(_, object)| object == i).map(|&(p, _)| p),
            })
            .collect();
        let merged = match painted {
            Some((m, painted)) => {
                let others = indices.iter().map(|&i| &self.objects()[i].mask);
                let mask = Mask::union(self.width(), self.height(), std::iter::once(&m).chain(others))?;
                let score = painted.iter().chain(&indices).map(|&i| self.objects()[i].score).fold(0.0f32, f32::max);
                Some((mask, score))
            }
            None => None,
        };
        Ok(Selection { indices, reasons, merged })
    }

    /// The reference's box rule: box corners truncated to integers and clipped to the image; IoU of the box
    /// area with each mask (`inter / (box_area + mask_area - inter)` in f32); first best mask wins. A NaN
    /// ratio (empty box over an empty-in-box mask with zero union) counts as the maximum, as `torch.argmax` does.
    fn best_box_match(&self, b: &BoxPrompt) -> usize {
        let (w, h) = (i64::from(self.width()), i64::from(self.height()));
        let x1 = trunc_i32(b.x1).clamp(0, w);
        let y1 = trunc_i32(b.y1).clamp(0, h);
        let x2 = trunc_i32(b.x2).clamp(0, w);
        let y2 = trunc_i32(b.y2).clamp(0, h);
        let box_area = (y2 - y1) * (x2 - x1);
        let mut best = (0usize, f32::NEG_INFINITY);
        for (k, d) in self.objects().iter().enumerate() {
            let inter = if x1 < x2 && y1 < y2 {
                d.mask.count_in_rect(x1 as u32, y1 as u32, x2 as u32, y2 as u32) as i64
            } else {
                0
            };
            let union = box_area + d.mask.area() as i64 - inter;
            let ratio = inter as f32 / union as f32;
            if ratio.is_nan() {
                return k;
            }
            if ratio > best.1 {
                best = (k, ratio);
            }
        }
        best.0
    }

    /// The reference's point rule for every mask.
    fn point_hits(&self, points: &[PointPrompt]) -> Vec<bool> {
        let coords: Vec<(u32, u32)> = points.iter().map(|p| self.clip_point(p)).collect();
        let all_background = points.iter().all(|p| p.label == PointLabel::Background);
        self.objects()
            .iter()
            .map(|d| {
                let mut fg = all_background;
                let mut bg = false;
                for (p, &(x, y)) in points.iter().zip(&coords) {
                    if d.mask.get(x, y) {
                        match p.label {
                            PointLabel::Foreground => fg = true,
                            PointLabel::Background => bg = true,
                        }
                    }
                }
                fg && !bg
            })
            .collect()
    }

    /// One object per click: (point index, object) for each foreground point, in order, whose highest-scoring
    /// mask (first in the segmentation's order among equal scores) contains it and none of the background points.
    fn per_point_hits(&self, points: &[PointPrompt]) -> Vec<(usize, usize)> {
        let coords: Vec<(u32, u32)> = points.iter().map(|p| self.clip_point(p)).collect();
        let background: Vec<(u32, u32)> =
            points.iter().zip(&coords).filter(|(p, _)| p.label == PointLabel::Background).map(|(_, &c)| c).collect();
        let allowed: Vec<bool> =
            self.objects().iter().map(|d| !background.iter().any(|&(x, y)| d.mask.get(x, y))).collect();
        let mut hits = Vec::new();
        for (k, (p, &(x, y))) in points.iter().zip(&coords).enumerate() {
            if p.label != PointLabel::Foreground {
                continue;
            }
            let mut best: Option<usize> = None;
            for (i, d) in self.objects().iter().enumerate() {
                if allowed[i] && d.mask.get(x, y) && best.is_none_or(|b| d.score > self.objects()[b].score) {
                    best = Some(i);
                }
            }
            hits.extend(best.map(|i| (k, i)));
        }
        hits
    }

    /// The FastSAM authors' `point_prompt`: one mask, painted largest mask first; also the objects painted in.
    fn merged_point_mask(&self, points: &[PointPrompt]) -> Result<(Mask, Vec<usize>)> {
        let (w, h) = (self.width(), self.height());
        let coords: Vec<(u32, u32)> = points.iter().map(|p| self.clip_point(p)).collect();
        let mut order: Vec<usize> = (0..self.len()).collect();
        // Python's sort is stable: equal areas keep their segmentation order.
        order.sort_by_key(|&i| std::cmp::Reverse(self.objects()[i].mask.area()));
        let mut canvas = vec![0u8; w as usize * h as usize];
        let mut painted = Vec::new();
        for i in order {
            let mask = &self.objects()[i].mask;
            for (p, &(x, y)) in points.iter().zip(&coords) {
                if mask.get(x, y) {
                    let value = u8::from(p.label == PointLabel::Foreground);
                    if value == 1 {
                        painted.push(i);
                    }
                    mask.for_each_run(|row, a, b| {
                        let base = row as usize * w as usize;
                        canvas[base + a as usize..base + b as usize].fill(value);
                    });
                }
            }
        }
        Ok((Mask::from_full(w, h, &canvas)?, painted))
    }

    /// Points truncated toward zero and clipped to the last row/column, as the reference does.
    fn clip_point(&self, p: &PointPrompt) -> (u32, u32) {
        let x = (p.x.trunc() as i64).clamp(0, i64::from(self.width()) - 1);
        let y = (p.y.trunc() as i64).clamp(0, i64::from(self.height()) - 1);
        (x as u32, y as u32)
    }

    /// The same objects, boxes and scores with every mask smoothed ([`crate::smooth::smooth`]: the FastSAM
    /// authors' `better_quality` close 3×3 / open 8×8); prompts on the result select over the smoothed masks.
    pub fn smoothed(&self) -> Result<Segmentation> {
        use rayon::prelude::*;
        let masks: Vec<Mask> =
            self.objects().par_iter().map(|d| crate::smooth::smooth(&d.mask)).collect::<Result<_>>()?;
        let items = self.objects().iter().zip(masks).map(|(d, mask)| Detection { mask, ..d.clone() }).collect();
        Ok(Segmentation::new(Detections { width: self.width(), height: self.height(), items }))
    }

    /// SA-1B-style annotations of every object.
    pub fn annotations(&self, file_name: &str) -> AnnotationFile {
        AnnotationFile::from_detections(file_name, &self.detections)
    }

    /// SA-1B-style annotations of a selection: the selected objects (ids renumbered from 0, as the reference's
    /// `result[idx]`), or the one merged mask scored by the best object it contains.
    pub fn selection_annotations(&self, selection: &Selection, file_name: &str) -> AnnotationFile {
        let mut file = AnnotationFile::from_detections(file_name, &self.selected_objects(selection));
        if selection.merged.is_none() {
            for (a, reason) in file.annotations.iter_mut().zip(&selection.reasons) {
                a.set_reason(reason);
            }
        }
        file
    }

    /// The objects a selection stands for, in its order: the selected objects; with a merged mask, that mask
    /// as the one object (its bounding box, the best score among the objects in it), none if it is empty.
    pub fn selected_objects(&self, selection: &Selection) -> Detections {
        let items = match &selection.merged {
            Some((mask, score)) => mask
                .bbox()
                .map(|[x1, y1, x2, y2]| {
                    let bbox = [x1 as f32, y1 as f32, x2 as f32, y2 as f32];
                    vec![Detection { bbox, raw_bbox: bbox, score: *score, class: 0, anchor: 0, mask: mask.clone() }]
                })
                .unwrap_or_default(),
            None => selection.indices.iter().map(|&i| self.detections.items[i].clone()).collect(),
        };
        Detections { width: self.width(), height: self.height(), items }
    }
}

/// `text @ crops^T` for one normalised text embedding.
fn similarities(text: &[f32], crops: &[Vec<f32>]) -> Vec<f32> {
    crops.iter().map(|c| c.iter().zip(text).map(|(a, b)| a * b).sum()).collect()
}

/// Columns of `scores` most similar first (ties in column order), at least the prompt's text threshold, at most
/// its top-k.
fn ranked(scores: &[f32], prompt: &Prompt) -> Vec<usize> {
    let mut order: Vec<usize> =
        (0..scores.len()).filter(|&c| prompt.text_threshold.is_none_or(|t| scores[c] >= t)).collect();
    // Stable: equal similarities keep the segmentation's order, so the first is `torch.argmax`'s pick.
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    order.truncate(prompt.text_top_k.unwrap_or(usize::MAX));
    order
}

/// `torch.argmax`: the first maximum.
fn first_argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// `torch.as_tensor(v, dtype=torch.int32)`: truncation toward zero; out-of-range values saturate here.
fn trunc_i32(v: f64) -> i64 {
    i64::from(v.trunc().clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32)
}
