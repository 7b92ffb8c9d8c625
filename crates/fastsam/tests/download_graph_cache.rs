//! `ModelCache::load_model`: the graph built from a checkpoint is cached under
//! `<cache>/graphs/<sha256>.onnx` and a later load from the cache gives the same network outputs as the
//! reference's forward pass (tests/fixtures/golden/graph, made by tools/golden/graph.py). A damaged cache entry is
//! rebuilt.

use std::path::PathBuf;

use fastsam::model::{EngineOptions, GraphVariant};
use fastsam::weights::ModelCache;
use fastsam::Tensor;

const SEG_S_SHA256: &str = "f9b728c948adb97363ef18b3ef1973650bb2678c02996117110e4e6656a5dc91";

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/golden/graph")
}

fn f32s(name: &str) -> Vec<f32> {
    let bytes = std::fs::read(golden_dir().join(name)).unwrap();
    bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

/// The golden input image (u8 CHW) as the network's `(1, 3, H, W)` tensor, and the reference's predictions.
fn golden() -> (Tensor, Vec<f32>) {
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(golden_dir().join("golden.json")).unwrap()).unwrap();
    let chw: Vec<usize> = serde_json::from_value(json["input"]["shape"].clone()).unwrap();
    let shape = [vec![1], chw].concat();
    let pixels = std::fs::read(golden_dir().join("input.u8")).unwrap();
    let input = Tensor::new(shape, pixels.iter().map(|&p| f32::from(p) / 255.0).collect());
    (input, f32s("seg_s.preds.f32"))
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn graph_is_cached_by_checkpoint_hash_and_reused() {
    let dir = std::env::temp_dir().join(format!("fastsam-graph-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cache = ModelCache::new(&dir, None);
    let checkpoint = golden_dir().join("seg_s.pt");
    let options = EngineOptions { intra_threads: Some(1), ..Default::default() };
    let (input, preds) = golden();

    let cold = cache.load_model(&checkpoint, &options).unwrap();
    let graph = cache.graph_path(SEG_S_SHA256, &GraphVariant::for_options(&options).unwrap());
    assert!(graph.is_file() && graph.with_extension("head.json").is_file());
    let built = std::fs::metadata(&graph).unwrap().modified().unwrap();

    let warm = cache.load_model(&checkpoint, &options).unwrap();
    assert_eq!(std::fs::metadata(&graph).unwrap().modified().unwrap(), built, "warm start rebuilt the graph");
    assert_eq!(warm.stride(), cold.stride());
    for model in [&cold, &warm] {
        let out = model.run(&input).unwrap();
        assert!(max_diff(&out.preds.data, &preds) < 1e-4, "{}", max_diff(&out.preds.data, &preds));
    }

    std::fs::write(&graph, b"not onnx").unwrap();
    let rebuilt = cache.load_model(&checkpoint, &options).unwrap();
    assert!(std::fs::metadata(&graph).unwrap().len() > 1000, "damaged entry replaced");
    assert!(max_diff(&rebuilt.run(&input).unwrap().preds.data, &preds) < 1e-4);
}
