//! Developer tools, ignored by default (they need a full-size checkpoint from `tools/golden/graph.py full s`):
//!
//! - `dump_onnx`: writes the graph built from `$FASTSAM_GRAPH_CKPT` (default `.cache/graph/fastsam-s-random.pt`)
//!   next to it as `.onnx`, for `tools/golden/graph.py check|bench`.
//! - `forward_time`: session creation and median forward time at 1024×1024 (`$FASTSAM_THREADS`, default 2).
//! - `full_size_parity`: preds/proto against the reference forward that `graph.py full s` stored next to the
//!   checkpoint (the test image letterboxed to 1024).
//!
//! `cargo test --release -p fastsam --test graph_bench -- --ignored --nocapture`

use std::path::PathBuf;
use std::time::Instant;

use fastsam::model::{EngineOptions, SegGraph, SegModel};
use fastsam::weights::checkpoint::Checkpoint;
use fastsam::Tensor;

fn checkpoint() -> PathBuf {
    std::env::var_os("FASTSAM_GRAPH_CKPT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.cache/graph/fastsam-s-random.pt"))
}

fn graph() -> SegGraph {
    let t = Instant::now();
    let ckpt = Checkpoint::load(checkpoint()).expect("checkpoint (make it with tools/golden/graph.py full s)");
    println!("checkpoint read: {:.0} ms", t.elapsed().as_secs_f64() * 1e3);
    let t = Instant::now();
    let graph = SegGraph::from_module(&ckpt.model).expect("graph builds");
    println!("graph built: {:.0} ms", t.elapsed().as_secs_f64() * 1e3);
    graph
}

#[test]
#[ignore]
fn dump_onnx() {
    let path = checkpoint().with_extension("onnx");
    std::fs::write(&path, graph().onnx_bytes()).unwrap();
    println!("wrote {}", path.display());
}

#[test]
#[ignore]
fn forward_time() {
    let graph = graph();
    let threads = std::env::var("FASTSAM_THREADS").ok().and_then(|t| t.parse().ok()).unwrap_or(2);
    let options = EngineOptions { intra_threads: Some(threads), optimized_model_path: None, ..Default::default() };
    let t = Instant::now();
    fastsam::model::runtime::init().unwrap();
    println!("ONNX Runtime library load: {:.0} ms", t.elapsed().as_secs_f64() * 1e3);
    let t = Instant::now();
    let bytes = graph.onnx_bytes();
    println!("ONNX encoding: {:.0} ms ({} bytes)", t.elapsed().as_secs_f64() * 1e3, bytes.len());
    let t = Instant::now();
    drop(fastsam::model::Engine::from_bytes(&bytes, &options).unwrap());
    println!("session creation from bytes: {:.0} ms", t.elapsed().as_secs_f64() * 1e3);
    let t = Instant::now();
    let model = SegModel::from_graph(&graph, &options).unwrap();
    println!("SegModel::from_graph (encode + session): {:.0} ms", t.elapsed().as_secs_f64() * 1e3);
    let raw = Tensor::new(vec![1, graph.head.raw_channels(), 21504], vec![0.1; graph.head.raw_channels() * 21504]);
    let t = Instant::now();
    for _ in 0..10 {
        fastsam::model::decode::decode(&raw, &graph.head, 1024, 1024).unwrap();
    }
    println!("head decoding at 1024x1024: {:.2} ms", t.elapsed().as_secs_f64() * 1e2);
    let x = Tensor::new(vec![1, 3, 1024, 1024], (0..3 * 1024 * 1024).map(|i| (i % 251) as f32 / 251.0).collect());
    let mut times = Vec::new();
    for _ in 0..6 {
        let t = Instant::now();
        let out = model.run(&x).unwrap();
        times.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(out.preds.shape, vec![1, 37, 21504]);
    }
    times.remove(0);
    times.sort_by(f64::total_cmp);
    println!(
        "forward (incl. decode) at 1024x1024, {threads} threads: median {:.0} ms, runs {times:.0?}",
        times[times.len() / 2]
    );
}

fn read_f32(path: PathBuf) -> Vec<f32> {
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

#[test]
#[ignore]
fn full_size_parity() {
    let stem = checkpoint().with_extension("");
    let sibling = |ext: &str| PathBuf::from(format!("{}.{ext}", stem.display()));
    let shapes: serde_json::Value = serde_json::from_slice(&std::fs::read(sibling("json")).unwrap()).unwrap();
    let dims = |k: &str| -> Vec<usize> {
        shapes[k].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect()
    };
    let bytes = std::fs::read(sibling("input.u8")).unwrap();
    let x = Tensor::new(dims("input"), bytes.iter().map(|&b| f32::from(b) / 255.0).collect());
    let model = SegModel::from_graph(&graph(), &EngineOptions::default()).unwrap();
    let t = Instant::now();
    let out = model.run(&x).unwrap();
    println!("forward {:?}: {:.0} ms", x.shape, t.elapsed().as_secs_f64() * 1e3);
    for (name, got, want_shape, want) in [
        ("preds", &out.preds, dims("preds"), read_f32(sibling("preds.f32"))),
        ("proto", &out.proto, dims("proto"), read_f32(sibling("proto.f32"))),
    ] {
        assert_eq!(got.shape, want_shape, "{name}");
        let (mut worst, mut at) = (0.0f32, 0);
        for (i, (a, b)) in got.data.iter().zip(&want).enumerate() {
            let d = (a - b).abs() / (1.0 + b.abs());
            if d > worst {
                (worst, at) = (d, i);
            }
        }
        println!("{name}: max relative diff {worst:e} at {at} ({} vs {})", got.data[at], want[at]);
        assert!(worst < 1e-4, "{name}");
    }
}

#[test]
#[ignore]
fn optimized_model_cold_start() {
    let graph = graph();
    let bytes = graph.onnx_bytes();
    fastsam::model::runtime::init().unwrap();
    let optimized = checkpoint().with_extension("opt.onnx");
    let options =
        EngineOptions { intra_threads: Some(2), optimized_model_path: Some(optimized.clone()), ..Default::default() };
    let t = Instant::now();
    drop(fastsam::model::Engine::from_bytes(&bytes, &options).unwrap());
    println!("session creation while saving the optimised model: {:.0} ms", t.elapsed().as_secs_f64() * 1e3);
    let options = EngineOptions { intra_threads: Some(2), optimized_model_path: None, ..Default::default() };
    for _ in 0..2 {
        let t = Instant::now();
        drop(fastsam::model::Engine::from_bytes(&bytes, &options).unwrap());
        println!("session creation from the built graph: {:.0} ms", t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        drop(fastsam::model::Engine::from_file(&optimized, &options).unwrap());
        println!("session creation from the saved optimised model: {:.0} ms", t.elapsed().as_secs_f64() * 1e3);
    }
}
