//! The YOLOv8-seg graph built from checkpoints (and Ultralytics ONNX exports) against the reference's forward
//! pass (Ultralytics AutoBackend, fused, fp32) on tiny random FastSAM-shaped models.
//! Fixtures: tests/fixtures/golden/graph, made by tools/golden/graph.py.

use std::path::{Path, PathBuf};

use fastsam::model::SegModel;
use fastsam::{Error, Tensor};
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/golden/graph")
}

fn golden() -> Value {
    let text = std::fs::read_to_string(fixtures().join("golden.json")).expect("golden.json");
    serde_json::from_str(&text).expect("golden.json parses")
}

fn shape(v: &Value) -> Vec<usize> {
    v.as_array().expect("shape").iter().map(|d| d.as_u64().expect("dim") as usize).collect()
}

fn read_f32(name: &str) -> Vec<f32> {
    let bytes = std::fs::read(fixtures().join(name)).expect(name);
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

/// The letterboxed image stored as RGB CHW bytes, made into the network input as the predictor does (`/ 255`).
fn input(meta: &Value) -> Tensor {
    let mut dims = vec![1];
    dims.extend(shape(&meta["shape"]));
    let bytes = std::fs::read(fixtures().join(meta["file"].as_str().unwrap())).unwrap();
    Tensor::new(dims, bytes.iter().map(|&b| f32::from(b) / 255.0).collect())
}

/// Largest |a - b| / (1 + |b|) (relative for large values, absolute near zero).
fn max_rel_diff(actual: &[f32], expected: &[f32]) -> f32 {
    assert_eq!(actual.len(), expected.len());
    actual.iter().zip(expected).map(|(a, b)| (a - b).abs() / (1.0 + b.abs())).fold(0.0, f32::max)
}

fn check_model(name: &str) {
    let golden = golden();
    let entry = &golden["models"][name];
    let model = SegModel::load(fixtures().join(entry["checkpoint"].as_str().unwrap())).expect("model loads");
    let x = input(&golden[entry["input"].as_str().unwrap()]);
    let out = model.run(&x).expect("model runs");

    let preds = &entry["preds"];
    assert_eq!(out.preds.shape, shape(&preds["shape"]), "{name}: preds shape");
    let d = max_rel_diff(&out.preds.data, &read_f32(preds["file"].as_str().unwrap()));
    println!("{name}: preds max relative diff {d:e}");
    assert!(d < 1e-5, "{name}: preds differ from the reference by {d:e}");

    let proto = &entry["proto"];
    assert_eq!(out.proto.shape, shape(&proto["shape"]), "{name}: proto shape");
    let step = proto["step"].as_u64().unwrap() as usize;
    let sampled: Vec<f32> = out.proto.data.iter().step_by(step).copied().collect();
    let d = max_rel_diff(&sampled, &read_f32(proto["file"].as_str().unwrap()));
    println!("{name}: proto (sampled) max relative diff {d:e}");
    assert!(d < 1e-5, "{name}: proto differs from the reference by {d:e}");
    let plane = out.proto.shape[2] * out.proto.shape[3];
    for (c, chan) in out.proto.data.chunks_exact(plane).enumerate() {
        let sum: f64 = chan.iter().map(|&v| f64::from(v)).sum();
        let abs_sum: f64 = chan.iter().map(|&v| f64::from(v).abs()).sum();
        let (want, want_abs) =
            (proto["channel_sum"][c].as_f64().unwrap(), proto["channel_abs_sum"][c].as_f64().unwrap());
        assert!(
            (sum - want).abs() <= 1e-5 * want_abs.max(1.0),
            "{name}: proto channel {c} sums to {sum}, reference {want}"
        );
        assert!(
            (abs_sum - want_abs).abs() <= 1e-5 * want_abs.max(1.0),
            "{name}: proto channel {c} |sum| {abs_sum}, reference {want_abs}"
        );
    }
}

#[test]
fn fastsam_s_topology_matches_the_reference_forward() {
    check_model("seg_s");
}

#[test]
fn fastsam_x_depth_with_other_head_sizes_matches_the_reference_forward() {
    check_model("seg_x");
}

#[test]
fn ultralytics_onnx_export_runs_as_is() {
    check_model("seg_export");
    let golden = golden();
    let model =
        SegModel::load(fixtures().join(golden["models"]["seg_export"]["checkpoint"].as_str().unwrap())).unwrap();
    let side = shape(&golden["input_square"]["shape"])[1];
    assert_eq!(model.fixed_input(), Some((side, side)));
    assert_eq!(model.stride(), 32);
}

#[test]
fn checkpoint_models_take_any_multiple_of_the_stride() {
    let model = SegModel::load(fixtures().join("seg_s.pt")).unwrap();
    assert_eq!(model.fixed_input(), None);
    assert_eq!(model.stride(), 32);
    let layout = model.head_layout().unwrap();
    assert_eq!((layout.nc, layout.nm, layout.reg_max), (1, 32, 16));
    assert_eq!(layout.strides, vec![8.0, 16.0, 32.0]);
    let out = model.run(&Tensor::new(vec![1, 3, 64, 96], vec![0.5; 3 * 64 * 96])).unwrap();
    assert_eq!(out.preds.shape, vec![1, 37, 8 * 12 + 4 * 6 + 2 * 3]);
    assert_eq!(out.proto.shape, vec![1, 32, 16, 24]);
    let err = model.run(&Tensor::new(vec![1, 3, 64, 90], vec![0.5; 3 * 64 * 90])).unwrap_err();
    assert!(err.to_string().contains("multiple of the stride 32"), "{err}");
}

fn load_error(file: &str) -> String {
    let err = SegModel::load(fixtures().join(file)).expect_err("must be refused");
    assert!(matches!(err, Error::Checkpoint { .. }), "{file}: unexpected error kind {err:?}");
    err.to_string()
}

#[test]
fn detection_and_classification_models_are_refused_by_name() {
    let err = load_error("detect.pt");
    assert!(err.contains("this is a detection model, not a segmentation model"), "{err}");
    assert!(err.contains("FastSAM needs a Segment head"), "{err}");
    let err = load_error("detect.onnx");
    assert!(err.contains("this is a detection model"), "{err}");
    let err = load_error("classify.pt");
    assert!(err.contains("this is a classification model, not a segmentation model"), "{err}");
}

#[test]
fn files_that_are_no_model_are_refused() {
    let err = load_error("golden.json");
    assert!(err.contains("not a model file"), "{err}");
    assert!(err.contains("golden.json"), "{err}");
    let missing = SegModel::load(fixtures().join("no-such-file.pt")).unwrap_err();
    assert!(matches!(missing, Error::Io { .. }), "{missing:?}");
}
