//! Hostile files must not make the decoders allocate what their headers claim: every allocation made while
//! decoding is recorded by a counting allocator (lazily zeroed pages would hide a huge `calloc` from RSS checks).

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Largest;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only records the largest size asked for.
unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Largest = Largest;

/// A fuzzer-found WebP (image_decode, 2026-11-25) whose EXIF chunk claims ~3 GB: image-webp's
/// `exif_metadata` allocated that much before reading. The decoder must answer with at most a few MB.
#[test]
fn webp_exif_chunk_size_is_not_trusted() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/hostile/webp_exif_claims_3gib.webp");
    let bytes = std::fs::read(&path).unwrap();
    LARGEST.store(0, Ordering::Relaxed);
    let result = fastsam::image::decode(&bytes, "fuzz.webp", &fastsam::image::DecodeLimits::default());
    let largest = LARGEST.load(Ordering::Relaxed);
    assert!(largest < 64 << 20, "largest allocation {largest} B for a {}-byte file ({result:?})", bytes.len());
}
