//! A COCO instances file (`instances_val2017.json`) and COCO results (`[{"image_id", "category_id",
//! "segmentation", "score", "bbox"}]`), read as pycocotools' `COCO` and `COCO.loadRes` read them, with every
//! mask turned into an RLE as `COCO.annToRLE` does: polygons through `rleFrPoly` and merged, uncompressed RLE
//! taken with its own `size`, compressed RLE as it is.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use super::overlap;
use super::polygon::{box_to_rle, polygon_to_rle};
use crate::output::coco::CocoResult;
use crate::output::rle::Rle;
use crate::{Error, Result};

#[derive(Debug, Clone, PartialEq)]
pub struct EvalImage {
    pub id: u64,
    pub file_name: String,
    pub width: u32,
    pub height: u32,
}

/// One ground-truth object.
#[derive(Debug, Clone)]
pub struct GroundTruthObject {
    pub id: f64,
    pub image_id: u64,
    pub category_id: i64,
    /// The file's `area` (what COCOeval's area ranges use), not the mask's.
    pub area: f64,
    /// `[x, y, w, h]` as given.
    pub bbox: [f64; 4],
    pub iscrowd: bool,
    pub rle: Rle,
}

/// A COCO instances file.
#[derive(Debug, Clone)]
pub struct GroundTruth {
    /// Sorted by id.
    pub images: Vec<EvalImage>,
    /// Sorted.
    pub category_ids: Vec<i64>,
    /// In file order.
    pub objects: Vec<GroundTruthObject>,
}

/// One detection as COCOeval sees it after `loadRes`.
#[derive(Debug, Clone)]
pub struct EvalDetection {
    pub image_id: u64,
    pub category_id: i64,
    pub score: f64,
    pub bbox: [f64; 4],
    /// `loadRes`: the box's `w * h` when results carry boxes, else the mask's pixel count.
    pub area: f64,
    pub rle: Rle,
}

fn bad(what: &str, why: impl Into<String>) -> Error {
    Error::invalid("COCO file", format!("{what}: {}", why.into()))
}

fn read_json(path: &Path) -> Result<Value> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    serde_json::from_slice(&bytes).map_err(|e| bad(&path.display().to_string(), format!("not JSON: {e}")))
}

fn number(v: &Value, key: &str, what: &str) -> Result<f64> {
    v.get(key).and_then(Value::as_f64).ok_or_else(|| bad(what, format!("\"{key}\" is missing or not a number")))
}

fn integer(v: &Value, key: &str, what: &str) -> Result<i64> {
    v.get(key)
        .and_then(|x| x.as_i64().or_else(|| x.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)))
        .ok_or_else(|| bad(what, format!("\"{key}\" is missing or not an integer")))
}

fn bbox_of(v: &Value, what: &str) -> Result<[f64; 4]> {
    let list = v.get("bbox").and_then(Value::as_array).ok_or_else(|| bad(what, "\"bbox\" is missing"))?;
    let nums: Option<Vec<f64>> = list.iter().map(Value::as_f64).collect();
    match nums.as_deref() {
        Some(&[x, y, w, h]) => Ok([x, y, w, h]),
        _ => Err(bad(what, "\"bbox\" is not [x, y, w, h]")),
    }
}

/// `COCO.annToRLE` of a `segmentation` value on an image of `height`×`width`.
fn segmentation_rle(seg: &Value, height: u32, width: u32, what: &str) -> Result<Rle> {
    match seg {
        Value::Array(polygons) => {
            // pycocotools decides by the first polygon: 4 numbers would be boxes (and fail), fewer are refused.
            let first_len = polygons.first().and_then(Value::as_array).map(Vec::len);
            if first_len.is_none_or(|n| n <= 4) {
                return Err(bad(what, "a polygon needs at least 3 points (6 numbers)"));
            }
            let mut parts = Vec::with_capacity(polygons.len());
            for p in polygons {
                let xy: Option<Vec<f64>> = p.as_array().and_then(|a| a.iter().map(Value::as_f64).collect());
                let xy = xy.ok_or_else(|| bad(what, "a polygon is not a list of numbers"))?;
                parts.push(polygon_to_rle(&xy, height, width));
            }
            Ok(overlap::union(&parts))
        }
        Value::Object(map) => {
            let size = map.get("size").and_then(Value::as_array).and_then(|s| match s.as_slice() {
                [h, w] => Some((h.as_u64()? as u32, w.as_u64()? as u32)),
                _ => None,
            });
            let (h, w) = size.ok_or_else(|| bad(what, "RLE \"size\" is not [height, width]"))?;
            let rle = match map.get("counts") {
                Some(Value::String(s)) => Rle::from_string(h, w, s)?,
                Some(Value::Array(c)) => {
                    let counts: Option<Vec<u32>> =
                        c.iter().map(|x| x.as_u64().and_then(|n| u32::try_from(n).ok())).collect();
                    Rle { height: h, width: w, counts: counts.ok_or_else(|| bad(what, "RLE counts"))? }
                }
                _ => return Err(bad(what, "RLE \"counts\" is missing")),
            };
            let total: u64 = rle.counts.iter().map(|&c| u64::from(c)).sum();
            if total != u64::from(h) * u64::from(w) {
                return Err(bad(what, format!("RLE counts cover {total} pixels of a {w}x{h} image")));
            }
            Ok(rle)
        }
        _ => Err(bad(what, "\"segmentation\" is neither polygons nor RLE")),
    }
}

impl GroundTruth {
    pub fn load(path: impl AsRef<Path>) -> Result<GroundTruth> {
        let path = path.as_ref();
        Self::from_json(&read_json(path)?).map_err(|e| match e {
            Error::Invalid { what, reason } => Error::Invalid { what, reason: format!("{}: {reason}", path.display()) },
            e => e,
        })
    }

    pub fn from_json(json: &Value) -> Result<GroundTruth> {
        let list = |key: &str| {
            json.get(key).and_then(Value::as_array).ok_or_else(|| bad("instances", format!("no \"{key}\" list")))
        };
        let mut images = Vec::new();
        for im in list("images")? {
            let id = integer(im, "id", "an image")?;
            let what = format!("image {id}");
            let dim = |k| u32::try_from(integer(im, k, &what)?).map_err(|_| bad(&what, format!("bad {k}")));
            images.push(EvalImage {
                id: u64::try_from(id).map_err(|_| bad(&what, "negative id"))?,
                file_name: im.get("file_name").and_then(Value::as_str).unwrap_or_default().to_string(),
                width: dim("width")?,
                height: dim("height")?,
            });
        }
        images.sort_by_key(|i| i.id);
        if let Some(w) = images.windows(2).find(|w| w[0].id == w[1].id) {
            return Err(bad("images", format!("image id {} appears twice", w[0].id)));
        }
        let mut category_ids: Vec<i64> =
            list("categories")?.iter().map(|c| integer(c, "id", "a category")).collect::<Result<_>>()?;
        category_ids.sort_unstable();
        category_ids.dedup();
        let index: HashMap<u64, usize> = images.iter().enumerate().map(|(i, im)| (im.id, i)).collect();
        let mut objects = Vec::new();
        for a in list("annotations")? {
            let id = number(a, "id", "an annotation")?;
            let what = format!("annotation {id}");
            let image_id = integer(a, "image_id", &what)?;
            let image = u64::try_from(image_id)
                .ok()
                .and_then(|i| index.get(&i))
                .map(|&i| &images[i])
                .ok_or_else(|| bad(&what, format!("image_id {image_id} is not in \"images\"")))?;
            let seg = a.get("segmentation").ok_or_else(|| bad(&what, "no \"segmentation\""))?;
            objects.push(GroundTruthObject {
                id,
                image_id: image.id,
                category_id: integer(a, "category_id", &what)?,
                area: number(a, "area", &what)?,
                bbox: bbox_of(a, &what)?,
                iscrowd: a
                    .get("iscrowd")
                    .is_some_and(|c| c.as_f64().is_some_and(|c| c != 0.0) || c == &Value::Bool(true)),
                rle: segmentation_rle(seg, image.height, image.width, &what)?,
            });
        }
        Ok(GroundTruth { images, category_ids, objects })
    }

    pub fn image(&self, id: u64) -> Option<&EvalImage> {
        self.images.binary_search_by_key(&id, |i| i.id).ok().map(|i| &self.images[i])
    }

    /// Detections from results in memory (what `fastsam eval` writes with `--detections`), read as
    /// `COCO.loadRes` reads the same JSON.
    pub fn detections_from_results(&self, results: &[CocoResult]) -> Result<Vec<EvalDetection>> {
        let json = serde_json::to_value(results).map_err(|e| bad("results", e.to_string()))?;
        self.detections_from_json(&json)
    }

    /// Detections from a COCO results file (`loadRes`).
    pub fn load_detections(&self, path: impl AsRef<Path>) -> Result<Vec<EvalDetection>> {
        self.detections_from_json(&read_json(path.as_ref())?)
    }

    /// `loadRes` semantics: whether the first result has a (non-empty) box decides for all of them: with boxes,
    /// `area = w * h` and a missing segmentation is the box's polygon; without, area and box come from the mask.
    pub fn detections_from_json(&self, json: &Value) -> Result<Vec<EvalDetection>> {
        let list = json.as_array().ok_or_else(|| bad("results", "not an array of objects"))?;
        let with_boxes =
            list.first().and_then(|r| r.get("bbox")).and_then(Value::as_array).is_some_and(|b| !b.is_empty());
        let mut out = Vec::with_capacity(list.len());
        for (n, r) in list.iter().enumerate() {
            let what = format!("result {n}");
            let image_id = integer(r, "image_id", &what)?;
            let image = u64::try_from(image_id)
                .ok()
                .and_then(|i| self.image(i))
                .ok_or_else(|| bad(&what, format!("image_id {image_id} is not in the ground truth's images")))?;
            let seg = r.get("segmentation");
            let (rle, bbox, area) = if with_boxes {
                let bbox = bbox_of(r, &what)?;
                let rle = match seg {
                    Some(s) => segmentation_rle(s, image.height, image.width, &what)?,
                    None => box_to_rle(bbox, image.height, image.width),
                };
                (rle, bbox, bbox[2] * bbox[3])
            } else {
                let s = seg.ok_or_else(|| bad(&what, "neither \"bbox\" nor \"segmentation\""))?;
                let rle = segmentation_rle(s, image.height, image.width, &what)?;
                let bbox = match r.get("bbox") {
                    Some(_) => bbox_of(r, &what)?,
                    None => rle.to_bbox(),
                };
                let area = rle.area() as f64;
                (rle, bbox, area)
            };
            out.push(EvalDetection {
                image_id: image.id,
                category_id: integer(r, "category_id", &what)?,
                score: number(r, "score", &what)?,
                bbox,
                area,
                rle,
            });
        }
        Ok(out)
    }
}
