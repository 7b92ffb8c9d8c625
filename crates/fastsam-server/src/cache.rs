//! The image cache: decoded images and their segmentations, least recently used first out, bounded by bytes
//! (not by count: one 40 MP photo with 300 masks weighs as much as hundreds of thumbnails).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use fastsam::mask::Mask;
use fastsam::{RgbImage, Segmentation};

/// One uploaded image, segmented once; smoothed at most once, on the first prompt that asks for it.
#[derive(Debug)]
pub struct CachedImage {
    pub file_name: String,
    pub image: RgbImage,
    /// The raw segmentation, as the model gave it.
    pub segmentation: Segmentation,
    /// The same objects with smoothed masks (`Segmentation::smoothed`), once a prompt asked for them.
    smoothed: OnceLock<Segmentation>,
    /// Held while smoothing, so concurrent prompts wait for the one smoothing instead of repeating it.
    smoothing: Mutex<()>,
}

impl CachedImage {
    pub fn new(file_name: String, image: RgbImage, segmentation: Segmentation) -> Self {
        CachedImage { file_name, image, segmentation, smoothed: OnceLock::new(), smoothing: Mutex::new(()) }
    }

    /// The segmentation prompts select over: the raw one, or (`smooth`) the smoothed one, computed on first use.
    /// After a first smoothing the entry weighs more: callers tell the cache ([`ImageCache::reweigh`]).
    pub fn segmentation(&self, smooth: bool) -> fastsam::Result<&Segmentation> {
        if !smooth {
            return Ok(&self.segmentation);
        }
        if let Some(s) = self.smoothed.get() {
            return Ok(s);
        }
        let _only_one = self.smoothing.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(s) = self.smoothed.get() {
            return Ok(s);
        }
        let smoothed = self.segmentation.smoothed()?;
        Ok(self.smoothed.get_or_init(|| smoothed))
    }

    /// What this entry costs the cache: RGB bytes plus each segmentation's masks (the smoothed one too, once
    /// made).
    pub fn bytes(&self) -> u64 {
        let smoothed = self.smoothed.get().map_or(0, segmentation_bytes);
        self.image.data.len() as u64 + segmentation_bytes(&self.segmentation) + smoothed
    }
}

/// Each mask's bit rows (masks store only their bounding box, 64-bit words per row) plus the per-object
/// bookkeeping.
fn segmentation_bytes(segmentation: &Segmentation) -> u64 {
    let per_object = std::mem::size_of::<fastsam::postprocess::Detection>() as u64;
    segmentation.objects().iter().map(|d| mask_bytes(&d.mask) + per_object).sum()
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
    /// The entry's weight as counted in `Inner::bytes` (it grows when the entry is smoothed).
    bytes: u64,
    last_used: u64,
}

impl Inner {
    /// Evicts least recently used entries until at most `budget` bytes are cached.
    fn evict_until(&mut self, budget: u64) {
        while self.bytes > budget {
            let Some(oldest) = self.entries.iter().min_by_key(|(_, s)| s.last_used).map(|(k, _)| k.clone()) else {
                break;
            };
            if let Some(evicted) = self.entries.remove(&oldest) {
                self.bytes -= evicted.bytes;
                tracing::debug!(id = %oldest, bytes = evicted.bytes, "evicted from the image cache");
            }
        }
    }
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
        let bytes = entry.bytes();
        if bytes > self.limit {
            return Err(TooLarge { bytes, limit: self.limit });
        }
        let mut inner = self.lock();
        if let Some(old) = inner.entries.remove(&id) {
            inner.bytes -= old.bytes;
        }
        inner.evict_until(self.limit.saturating_sub(bytes));
        inner.clock += 1;
        let last_used = inner.clock;
        inner.bytes += bytes;
        inner.entries.insert(id, Slot { entry, bytes, last_used });
        Ok(())
    }

    /// Counts what `entry` (cached under `id`) weighs now, after it grew (a smoothed segmentation), evicting
    /// other images least recently used first to stay within the limit. Nothing happens when `id` holds
    /// another entry (or none) by now.
    pub fn reweigh(&self, id: &str, entry: &Arc<CachedImage>) {
        let bytes = entry.bytes();
        let mut inner = self.lock();
        let Some(slot) = inner.entries.remove(id) else { return };
        if !Arc::ptr_eq(&slot.entry, entry) {
            inner.entries.insert(id.to_string(), slot);
            return;
        }
        inner.bytes -= slot.bytes;
        if bytes > self.limit {
            tracing::debug!(%id, bytes, "evicted from the image cache: larger than the cache once smoothed");
            return;
        }
        inner.evict_until(self.limit - bytes);
        inner.bytes += bytes;
        inner.entries.insert(id.to_string(), Slot { bytes, ..slot });
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
                inner.bytes -= slot.bytes;
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

    /// A 64x64 image with one 32x32 square mask.
    fn square_entry() -> Arc<CachedImage> {
        let (w, h) = (64u32, 64u32);
        let full: Vec<u8> =
            (0..w * h).map(|i| u8::from((16..48).contains(&(i % w)) && (16..48).contains(&(i / w)))).collect();
        let mask = Mask::from_full(w, h, &full).unwrap();
        let bbox = [16.0, 16.0, 48.0, 48.0];
        let d = fastsam::postprocess::Detection { bbox, raw_bbox: bbox, score: 0.9, class: 0, anchor: 0, mask };
        let image = RgbImage::new(w, h, vec![0; (w * h * 3) as usize]).unwrap();
        Arc::new(CachedImage::new(
            "sq".into(),
            image,
            Segmentation::new(Detections { width: w, height: h, items: vec![d] }),
        ))
    }

    #[test]
    fn smoothing_happens_once_and_the_cache_counts_it() {
        let sq = square_entry();
        let raw = sq.bytes();
        let probe = square_entry();
        probe.segmentation(true).unwrap();
        // Room for the smoothed entry and 20 bytes: not for the 30 bytes of "old" as well.
        let limit = probe.bytes() + 20;
        let cache = ImageCache::new(limit);
        cache.insert("old".into(), entry(10)).unwrap(); // 30 bytes, least recently used
        cache.insert("sq".into(), sq.clone()).unwrap();
        assert_eq!(cache.stats().bytes, raw + 30);
        let first: *const Segmentation = sq.segmentation(true).unwrap();
        let again: *const Segmentation = sq.segmentation(true).unwrap();
        assert_eq!(first, again, "the smoothed segmentation is made once and kept");
        assert!(!std::ptr::eq(first, sq.segmentation(false).unwrap()), "the raw one is kept beside it");
        // A square survives smoothing whole (shifted by the 8x8 open's anchor): same area, second copy counted.
        assert_eq!(sq.segmentation(true).unwrap().objects()[0].mask.area(), 32 * 32);
        assert!(sq.bytes() > raw);
        cache.reweigh("sq", &sq);
        assert_eq!(cache.stats(), CacheStats { images: 1, bytes: sq.bytes(), limit_bytes: limit });
        assert!(cache.get("old").is_none(), "the least recently used image made room");
        // Another entry under the id by now: left alone.
        cache.reweigh("sq", &square_entry());
        assert_eq!(cache.stats().bytes, sq.bytes());
    }

    #[test]
    fn refuses_an_entry_larger_than_the_cache() {
        let cache = ImageCache::new(10);
        assert_eq!(cache.insert("a".into(), entry(10)), Err(TooLarge { bytes: 30, limit: 10 }));
        assert!(cache.remove("a").eq(&false));
    }
}
