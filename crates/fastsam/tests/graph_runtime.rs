//! ONNX Runtime discovery and the `Engine` wrapper on small hand-built graphs.

use fastsam::model::onnx::{Conv2d, Dim, GraphBuilder};
use fastsam::model::runtime::{self, Engine, EngineOptions};
use fastsam::Tensor;

#[test]
fn onnx_runtime_is_found_and_loaded() {
    let path = runtime::init().expect("ONNX Runtime loads (run tools/setup-ort.sh or install onnxruntime)");
    assert!(path.exists(), "{}", path.display());
    assert!(!runtime::library_candidates().is_empty());
}

/// 1×1 convolution (w = [[2], [-1]], b = [1, 0.5]) followed by SiLU, with dynamic spatial size.
fn small_graph() -> Vec<u8> {
    let mut g = GraphBuilder::new("small");
    let x = g.input("x", vec![Dim::Fixed(1), Dim::Fixed(1), Dim::param("h"), Dim::param("w")]);
    let w = Tensor::new(vec![2, 1, 1, 1], vec![2.0, -1.0]);
    let b = Tensor::new(vec![2], vec![1.0, 0.5]);
    let y = g.conv("conv", &x, &w, Some(&b), Conv2d::default());
    let y = g.silu("act", &y);
    g.output(&y, "y", vec![Dim::Fixed(1), Dim::Fixed(2), Dim::param("h"), Dim::param("w")]);
    g.finish("test").encode()
}

#[test]
fn engine_runs_a_built_graph_with_dynamic_sizes() {
    let engine =
        Engine::from_bytes(&small_graph(), &EngineOptions { intra_threads: Some(1), ..Default::default() }).unwrap();
    assert_eq!(engine.inputs()[0].name, "x");
    assert_eq!(engine.inputs()[0].shape, vec![Some(1), Some(1), None, None]);
    assert_eq!(engine.outputs()[0].name, "y");
    let silu = |v: f32| v / (1.0 + (-v).exp());
    for (h, w) in [(1, 3), (2, 2)] {
        let xs: Vec<f32> = (0..h * w).map(|i| i as f32 - 1.0).collect();
        let out = engine.run(&[&Tensor::new(vec![1, 1, h, w], xs.clone())]).unwrap();
        assert_eq!(out[0].shape, vec![1, 2, h, w]);
        let want: Vec<f32> =
            xs.iter().map(|&v| silu(2.0 * v + 1.0)).chain(xs.iter().map(|&v| silu(-v + 0.5))).collect();
        for (a, b) in out[0].data.iter().zip(&want) {
            assert!((a - b).abs() <= 1e-6 * (1.0 + b.abs()), "{a} vs {b}");
        }
    }
}

#[test]
fn engine_reports_bad_inputs_and_bad_models() {
    let engine = Engine::from_bytes(&small_graph(), &EngineOptions::default()).unwrap();
    let err = engine.run(&[]).unwrap_err().to_string();
    assert!(err.contains("takes 1 inputs, 0 given"), "{err}");
    let err = engine.run(&[&Tensor::new(vec![1, 2, 1, 1], vec![0.0; 2])]).unwrap_err().to_string();
    assert!(err.contains("inference failed"), "{err}");
    let err = Engine::from_bytes(b"definitely not onnx", &EngineOptions::default()).unwrap_err().to_string();
    assert!(err.contains("cannot create a session"), "{err}");
}
