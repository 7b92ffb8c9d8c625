//! COCO *results* over a batch of images, the format `pycocotools.coco.COCO(gt).loadRes(file)` and COCOeval
//! read: a JSON array of `{"image_id", "category_id": 1, "segmentation": RLE, "score", "bbox"}`.
//!
//! FastSAM is class-agnostic, so every result has `category_id` 1. The images (id, file name, size) go to a
//! separate list ([`CocoResults::images_json`]) because `loadRes` accepts only an array.
//!
//! Image ids: when every image's file stem is a distinct number (COCO's `000000000139.jpg` → 139) those
//! numbers are the ids, so results line up with a COCO ground-truth file; otherwise images are numbered
//! 1, 2, ... in the order given.

use serde::{Deserialize, Serialize};

use super::annotations::{AnnotationFile, Segmentation};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CocoResult {
    pub image_id: u64,
    pub category_id: u32,
    pub segmentation: Segmentation,
    pub score: f64,
    /// `[x, y, width, height]`.
    pub bbox: [f64; 4],
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CocoImage {
    pub id: u64,
    pub file_name: String,
    pub width: u32,
    pub height: u32,
}

/// Results collected image by image.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CocoResults {
    pub images: Vec<CocoImage>,
    pub results: Vec<CocoResult>,
}

impl CocoResults {
    /// Adds one image's annotations under `image_id`.
    pub fn add(&mut self, image_id: u64, file: &AnnotationFile) {
        let image = &file.image;
        self.images.push(CocoImage {
            id: image_id,
            file_name: image.file_name.clone(),
            width: image.width,
            height: image.height,
        });
        self.results.extend(file.annotations.iter().map(|a| CocoResult {
            image_id,
            category_id: 1,
            segmentation: a.segmentation.clone(),
            score: a.score,
            bbox: a.bbox,
        }));
    }

    /// The results array, sorted by image id (as given within an image).
    pub fn results_json(&self) -> Vec<u8> {
        let mut results: Vec<&CocoResult> = self.results.iter().collect();
        results.sort_by_key(|r| r.image_id);
        serde_json::to_vec(&results).unwrap_or_default()
    }

    /// `[{"id", "file_name", "width", "height"}]`, sorted by id.
    pub fn images_json(&self) -> Vec<u8> {
        let mut images: Vec<&CocoImage> = self.images.iter().collect();
        images.sort_by_key(|i| i.id);
        serde_json::to_vec(&images).unwrap_or_default()
    }
}

/// Ids for images with these file stems (see the module docs): the stems' numbers when all are distinct
/// numbers, else 1..=n in order.
pub fn image_ids<S: AsRef<str>>(stems: &[S]) -> Vec<u64> {
    let numbers: Option<Vec<u64>> = stems.iter().map(|s| s.as_ref().parse::<u64>().ok()).collect();
    if let Some(numbers) = numbers {
        let mut sorted = numbers.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() == numbers.len() {
            return numbers;
        }
    }
    (1..=stems.len() as u64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_stems_are_ids_unless_some_are_not_or_repeat() {
        assert_eq!(image_ids(&["000000000139", "000000018575"]), vec![139, 18575]);
        assert_eq!(image_ids(&["000000000139", "bus"]), vec![1, 2]);
        assert_eq!(image_ids(&["7", "007"]), vec![1, 2]);
        assert!(image_ids::<&str>(&[]).is_empty());
    }
}
