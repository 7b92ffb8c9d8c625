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

/// Four convolutions of which only the wide 3×3 stride-1 one may go to the Winograd operator: a strided one, a
/// 1×1 one and a narrow one stay standard `Conv`s.
fn mixed_conv_graph() -> fastsam::model::onnx::Model {
    let mut seed = 1u64;
    let mut rnd = |n: usize| -> Vec<f32> {
        (0..n)
            .map(|_| {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((seed >> 40) as f32 / (1u64 << 24) as f32) - 0.5
            })
            .collect()
    };
    let mut g = GraphBuilder::new("mixed");
    let x = g.input("x", vec![Dim::Fixed(1), Dim::Fixed(8), Dim::param("h"), Dim::param("w")]);
    let same = Conv2d { padding: [1, 1], ..Conv2d::default() };
    let wide = g.conv("wide", &x, &Tensor::new(vec![8, 8, 3, 3], rnd(576)), Some(&Tensor::new(vec![8], rnd(8))), same);
    let strided = Conv2d { stride: [2, 2], ..same };
    let s = g.conv("strided", &wide, &Tensor::new(vec![8, 8, 3, 3], rnd(576)), None, strided);
    let p = g.conv("pointwise", &s, &Tensor::new(vec![8, 8, 1, 1], rnd(64)), None, Conv2d::default());
    let narrow = g.conv("narrow", &p, &Tensor::new(vec![4, 8, 3, 3], rnd(288)), None, same);
    let y = g.silu("act", &narrow);
    g.output(&y, "y", vec![Dim::Fixed(1), Dim::Fixed(4), Dim::param("h2"), Dim::param("w2")]);
    g.finish("test")
}

#[test]
fn winograd_rewrite_takes_only_eligible_convolutions_and_matches_direct() {
    use fastsam::model::winograd_op::{self, DOMAIN, OP};
    let direct = mixed_conv_graph();
    let mut rewritten = direct.clone();
    assert_eq!(winograd_op::rewrite(&mut rewritten, 8), 1, "only `wide` is 3×3, stride 1 and ≥ 8 channels");
    let node = |m: &fastsam::model::onnx::Model, name: &str| m.graph.nodes.iter().find(|n| n.name == name).cloned();
    let wide = node(&rewritten, "wide").unwrap();
    assert_eq!((wide.op_type.as_str(), wide.domain.as_str()), (OP, DOMAIN));
    for name in ["strided", "pointwise", "narrow"] {
        assert_eq!(node(&rewritten, name), node(&direct, name), "{name}");
    }
    assert_eq!(winograd_op::rewrite(&mut direct.clone(), 9), 0, "a threshold above the width rewrites nothing");

    let options = EngineOptions { intra_threads: Some(2), ..Default::default() };
    let a = Engine::from_bytes(&direct.encode(), &options).unwrap();
    let b = Engine::from_bytes(&rewritten.encode(), &options).unwrap();
    for (h, w) in [(1, 1), (9, 14), (33, 20)] {
        let x = Tensor::new(vec![1, 8, h, w], (0..8 * h * w).map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0).collect());
        let (ya, yb) = (&a.run(&[&x]).unwrap()[0], &b.run(&[&x]).unwrap()[0]);
        assert_eq!(ya.shape, yb.shape);
        let scale = ya.data.iter().fold(0f32, |m, v| m.max(v.abs()));
        for (p, q) in ya.data.iter().zip(&yb.data) {
            assert!((p - q).abs() <= 1e-5 * scale.max(1.0), "{h}×{w}: {p} vs {q}");
        }
    }
}
