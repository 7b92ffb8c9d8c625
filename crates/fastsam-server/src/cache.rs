//! The image cache: decoded images and their segmentations, least recently used first out, bounded by bytes
//! (not by count: one 40 MP photo with 300 masks weighs as much as hundreds of thumbnails).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use fastsam::mask::Mask;
use fastsam::{RgbImage, Segmentation};

/// One uploaded image, segmented once.
#[derive(Debug)]
pub struct CachedImage {
    pub file_name: String,
    pub image: RgbImage,
    pub segmentation: Segmentation,
    /// What this entry costs the cache (see [`CachedImage::weigh`]).
    pub bytes: u64,
}

impl CachedImage {
    pub fn new(file_name: String, image: RgbImage, segmentation: Segmentation) -> Self {
        let bytes = Self::weigh(&image, &segmentation);
        CachedImage { file_name, image, segmentation, bytes }
    }

    /// RGB bytes plus each mask's bit rows (masks store only their bounding box, 64-bit words per row) plus
    /// the per-object bookkeeping.
    fn weigh(image: &RgbImage, segmentation: &Segmentation) -> u64 {
        let per_object = std::mem::size_of::<fastsam::postprocess::Detection>() as u64;
        let masks: u64 = segmentation.objects().iter().map(|d| mask_bytes(&d.mask) + per_object).sum();
        image.data.len() as u64 + masks
    }
}

fn mask_bytes(mask: &Mask) -> u64 {
    match mask.bbox() {
        Some([x0, y0, x1, y1]) => u64::from(x1 - x0).div_ceil(64) * 8 * u64::from(y1 - y0),
        None => 0,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct CacheStats {
    pub images: usize,
    pub bytes: u64,
    pub limit_bytes: u64,
}

/// Handing out `Arc`s lets a request keep using an image that another request evicts meanwhile; the memory
/// then lives until that request ends, which the bounded worker pool and request timeout keep short.
#[derive(Debug)]
pub struct ImageCache {
    limit: u64,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<String, Slot>,
    clock: u64,
    bytes: u64,
}

#[derive(Debug)]
struct Slot {
    entry: Arc<CachedImage>,
    last_used: u64,
}

/// The entry alone is larger than the whole cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge {
    pub bytes: u64,
    pub limit: u64,
}

impl ImageCache {
    pub fn new(limit: u64) -> Self {
        ImageCache { limit, inner: Mutex::new(Inner::default()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic elsewhere cannot leave the map half-updated (every update is a few plain statements).
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds `entry` under `id`, evicting least recently used images until it fits.
    pub fn insert(&self, id: String, entry: Arc<CachedImage>) -> Result<(), TooLarge> {
        if entry.bytes > self.limit {
            return Err(TooLarge { bytes: entry.bytes, limit: self.limit });
        }
        let mut inner = self.lock();
        if let Some(old) = inner.entries.remove(&id) {
            inner.bytes -= old.entry.bytes;
        }
        while inner.bytes + entry.bytes > self.limit {
            let Some(oldest) = inner.entries.iter().min_by_key(|(_, s)| s.last_used).map(|(k, _)| k.clone()) else {
                break;
            };
            if let Some(evicted) = inner.entries.remove(&oldest) {
                inner.bytes -= evicted.entry.bytes;
                tracing::debug!(id = %oldest, bytes = evicted.entry.bytes, "evicted from the image cache");
            }
        }
        inner.clock += 1;
        let last_used = inner.clock;
        inner.bytes += entry.bytes;
        inner.entries.insert(id, Slot { entry, last_used });
        Ok(())
    }

    pub fn get(&self, id: &str) -> Option<Arc<CachedImage>> {
        let mut inner = self.lock();
        inner.clock += 1;
        let now = inner.clock;
        let slot = inner.entries.get_mut(id)?;
        slot.last_used = now;
        Some(slot.entry.clone())
    }

    pub fn remove(&self, id: &str) -> bool {
        let mut inner = self.lock();
        match inner.entries.remove(id) {
            Some(slot) => {
                inner.bytes -= slot.entry.bytes;
                true
            }
            None => false,
        }
    }

    pub fn stats(&self) -> CacheStats {
        let inner = self.lock();
        CacheStats { images: inner.entries.len(), bytes: inner.bytes, limit_bytes: self.limit }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fastsam::postprocess::Detections;

    fn entry(pixels: u32) -> Arc<CachedImage> {
        let image = RgbImage::new(pixels, 1, vec![0; pixels as usize * 3]).unwrap();
        let seg = Segmentation::new(Detections { width: pixels, height: 1, items: Vec::new() });
        Arc::new(CachedImage::new("x".into(), image, seg))
    }

    #[test]
    fn evicts_least_recently_used_to_stay_within_bytes() {
        let cache = ImageCache::new(100);
        cache.insert("a".into(), entry(10)).unwrap(); // 30 bytes
        cache.insert("b".into(), entry(10)).unwrap();
        cache.insert("c".into(), entry(10)).unwrap();
        assert!(cache.get("a").is_some()); // a is now the most recent
        cache.insert("d".into(), entry(10)).unwrap();
        assert!(cache.get("b").is_none(), "b was the least recently used");
        assert!(cache.get("a").is_some() && cache.get("c").is_some() && cache.get("d").is_some());
        assert_eq!(cache.stats(), CacheStats { images: 3, bytes: 90, limit_bytes: 100 });
    }

    #[test]
    fn refuses_an_entry_larger_than_the_cache() {
        let cache = ImageCache::new(10);
        assert_eq!(cache.insert("a".into(), entry(10)), Err(TooLarge { bytes: 30, limit: 10 }));
        assert!(cache.remove("a").eq(&false));
    }
}
