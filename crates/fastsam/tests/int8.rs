//! int8 inference (model/quantize.rs): the quantised graph's structure, that ONNX Runtime really runs it on
//! integer kernels, its fidelity to fp32 on a real image, the graph cache keyed by calibration set, the
//! reduced-range fallback for CPUs without VNNI, and that a session on another execution provider gets the
//! standard graph.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use fastsam::eval::fidelity;
use fastsam::model::onnx::{AttrValue, Model, TensorData};
use fastsam::model::quantize::{self, CalibrationSet, Int8Kernels, WeightRange};
use fastsam::model::{Calibration, ConvAlgorithm, EngineOptions, ExecutionProvider, GraphVariant, Precision, SegGraph};
use fastsam::weights::checkpoint::Checkpoint;
use fastsam::weights::ModelCache;
use fastsam::FastSam;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/fastsam").join(name)
}

/// `../shared/data/images/<name>`, or under `$FASTSAM_SHARED`.
fn image(name: &str) -> PathBuf {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::env::var_os("FASTSAM_SHARED")
        .map_or_else(|| repo.join("../shared"), PathBuf::from)
        .join("data/images")
        .join(name)
}

fn standard_graph(name: &str) -> SegGraph {
    SegGraph::from_module(&Checkpoint::load(fixture(name)).unwrap().model).unwrap()
}

fn options() -> EngineOptions {
    EngineOptions { intra_threads: Some(2), ..Default::default() }
}

fn int8_options(calibration: Calibration) -> EngineOptions {
    EngineOptions { precision: Precision::Int8(calibration), ..options() }
}

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fastsam-int8-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn initializer<'m>(model: &'m Model, name: &str) -> &'m TensorData {
    &model.graph.initializers.iter().find(|t| t.name == name).unwrap_or_else(|| panic!("no initializer {name}")).data
}

fn scalar_f32(model: &Model, name: &str) -> f32 {
    match initializer(model, name) {
        TensorData::F32(v) if v.len() == 1 => v[0],
        other => panic!("{name}: {other:?}"),
    }
}

#[test]
fn quantised_graph_keeps_the_head_outputs_in_fp32_and_everything_else_in_qdq_form() {
    for name in ["fastsam-s-tiny.pt", "fastsam-x-tiny.pt"] {
        let graph = standard_graph(name);
        let set = CalibrationSet::load(&Calibration::Builtin).unwrap();
        let (model, report) = quantize::quantize(&graph, &set, WeightRange::Full, &options()).unwrap();
        let nodes = &model.graph.nodes;
        let producer: HashMap<&str, &fastsam::model::onnx::Node> =
            nodes.iter().flat_map(|n| n.outputs.iter().map(move |o| (o.as_str(), n))).collect();
        let convs: Vec<_> = nodes.iter().filter(|n| n.op_type == "Conv" || n.op_type == "ConvTranspose").collect();

        // fp32: exactly the last convolution of each head branch (boxes, classes, mask coefficients, per level);
        // the prototypes run in int8 to the end.
        let fp32: Vec<&str> = convs
            .iter()
            .filter(|n| producer.get(n.inputs[1].as_str()).is_none_or(|p| p.op_type != "DequantizeLinear"))
            .map(|n| n.name.as_str())
            .collect();
        let levels = graph.head.strides.len();
        assert_eq!(fp32.len(), 3 * levels, "{name}: {fp32:?}");
        assert_eq!((report.fp32_convs, report.int8_convs), (fp32.len(), convs.len() - fp32.len()));
        for branch in ["cv2", "cv3", "cv4"] {
            for level in 0..levels {
                assert!(fp32.iter().any(|n| n.ends_with(&format!("{branch}.{level}.2"))), "{name}: {branch}.{level}");
            }
        }
        assert!(convs.iter().any(|n| n.name.contains("proto.cv3")) && !fp32.iter().any(|n| n.contains("proto")));
        let proto_out = producer[fastsam::model::yolov8_seg::PROTO];
        assert_eq!(
            producer[proto_out.inputs[0].as_str()].op_type,
            "DequantizeLinear",
            "{name}: prototypes dequantised last"
        );
        // The 2×2 upsampler is a 1×1 convolution to 4 phases per channel and a DepthToSpace.
        assert!(nodes.iter().all(|n| n.op_type != "ConvTranspose"), "{name}");
        let d2s: Vec<_> = nodes.iter().filter(|n| n.op_type == "DepthToSpace").collect();
        assert_eq!(d2s.len(), 1, "{name}");
        assert!(d2s[0].attrs.contains(&("blocksize".to_string(), AttrValue::Int(2))));
        assert_eq!(report.calibration_inputs, 4);

        for conv in &convs {
            // Every convolution reads its input through a DequantizeLinear...
            assert_eq!(producer[conv.inputs[0].as_str()].op_type, "DequantizeLinear", "{}", conv.name);
            let w = producer.get(conv.inputs[1].as_str());
            if fp32.contains(&conv.name.as_str()) {
                continue;
            }
            // ...the quantised ones their weight from int8 with a scale per output channel (Conv) and zero
            // zero points, and their bias from int32 scaled by input scale × weight scale.
            let w = w.unwrap();
            let TensorData::I8(q) = initializer(&model, &w.inputs[0]) else { panic!("{}: weight not int8", conv.name) };
            assert!(q.iter().any(|&v| v.unsigned_abs() == 127), "{}: full range used", conv.name);
            let TensorData::F32(scales) = initializer(&model, &w.inputs[1]) else { panic!() };
            let TensorData::I8(zeros) = initializer(&model, &w.inputs[2]) else { panic!() };
            assert!(zeros.iter().all(|&z| z == 0));
            if conv.op_type == "Conv" {
                assert_eq!(w.attrs, vec![("axis".to_string(), AttrValue::Int(0))]);
                assert!(scales.len() > 1, "{}: per-channel scales", conv.name);
            }
            let x_scale = scalar_f32(&model, &producer[conv.inputs[0].as_str()].inputs[1]);
            let b = producer[conv.inputs[2].as_str()];
            assert!(matches!(initializer(&model, &b.inputs[0]), TensorData::I32(_)), "{}: int32 bias", conv.name);
            let TensorData::F32(b_scales) = initializer(&model, &b.inputs[1]) else { panic!() };
            let per_channel = scales.len() > 1;
            for (c, s) in b_scales.iter().enumerate() {
                let w_scale = scales[if per_channel { c } else { 0 }];
                assert!((s - x_scale * w_scale).abs() <= 1e-6 * s.abs(), "{}: bias scale", conv.name);
            }
        }

        // Q/DQ pairs share one scale and zero point; range-preserving ops keep their input's.
        for n in nodes.iter().filter(|n| n.op_type == "QuantizeLinear") {
            let source = producer.get(n.inputs[0].as_str());
            if let Some(op) =
                source.filter(|p| ["MaxPool", "Resize", "Split", "DepthToSpace"].contains(&p.op_type.as_str()))
            {
                let input_q = producer[op.inputs[0].as_str()];
                assert_eq!(input_q.op_type, "DequantizeLinear");
                assert_eq!(scalar_f32(&model, &n.inputs[1]), scalar_f32(&model, &input_q.inputs[1]), "{}", op.name);
            }
        }
        // The graph input's pixels in [0, 1] are exact on 1/255 steps.
        let input_q = nodes.iter().find(|n| n.op_type == "QuantizeLinear" && n.inputs[0] == "images").unwrap();
        assert_eq!(scalar_f32(&model, &input_q.inputs[1]), 1.0 / 255.0);

        // Outputs untouched, no custom operators.
        assert_eq!(model.graph.outputs, graph.model.graph.outputs);
        assert!(nodes.iter().all(|n| n.domain.is_empty()) && model.custom_domains.is_empty());
    }
}

#[test]
fn onnx_runtime_runs_the_quantised_graph_on_integer_kernels() {
    let graph = standard_graph("fastsam-s-tiny.pt");
    let set = CalibrationSet::load(&Calibration::Builtin).unwrap();
    let (model, report) = quantize::quantize(&graph, &set, WeightRange::Full, &options()).unwrap();
    let dir = scratch("optimised");
    let optimised = dir.join("optimised.onnx");
    let opts = EngineOptions { optimized_model_path: Some(optimised.clone()), ..options() };
    fastsam::model::Engine::from_bytes(&model.encode(), &opts).unwrap();
    let bytes = std::fs::read(&optimised).unwrap();
    let count = |op: &[u8]| bytes.windows(op.len()).filter(|w| *w == op).count();
    // Every quantised convolution is fused; the upsampler's DepthToSpace runs on the integers (no float
    // dequantise/quantise left around it: the only DequantizeLinear nodes feed the fp32 head convolutions
    // and the prototype output).
    let fused = count(b"QLinearConv");
    assert!(fused >= report.int8_convs, "{fused} QLinearConv for {} int8 convolutions", report.int8_convs);
    assert!(count(b"DepthToSpace") > 0);
    assert!(count(b"DequantizeLinear") <= report.fp32_convs + 1, "{} DequantizeLinear", count(b"DequantizeLinear"));
    assert!(count(b"QLinearSigmoid") > 0 && count(b"QLinearMul") > 0 && count(b"QLinearAdd") > 0);
}

/// Root-mean-square difference of two equal-length slices relative to the first's RMS.
fn relative_error(x: &[f32], y: &[f32]) -> f32 {
    let rms = |v: &mut dyn Iterator<Item = f32>| (v.map(|d| d * d).sum::<f32>() / x.len() as f32).sqrt();
    rms(&mut x.iter().zip(y).map(|(p, q)| p - q)) / rms(&mut x.iter().copied())
}

#[test]
fn int8_outputs_follow_fp32_on_a_real_image() {
    let img = fastsam::image::open(image("dogs.jpg"), &Default::default()).unwrap();
    let fp32 = FastSam::load_with(fixture("fastsam-s-tiny.pt"), &options()).unwrap();
    let int8 = FastSam::load_with(fixture("fastsam-s-tiny.pt"), &int8_options(Calibration::Builtin)).unwrap();

    // The network outputs: box centres to well under 1 %, scores and prototypes to the few tens of percent
    // that ~80 chained 8-bit roundings leave in a random-weight network (README "int8").
    let input = fp32.letterbox(&img).unwrap().to_tensor(&img).unwrap();
    let (a, b) = (fp32.model().run(&input).unwrap(), int8.model().run(&input).unwrap());
    let anchors = a.preds.shape[2];
    let channel = |t: &fastsam::Tensor, c: usize| t.data[c * anchors..(c + 1) * anchors].to_vec();
    let box_x = relative_error(&channel(&a.preds, 0), &channel(&b.preds, 0));
    let score = relative_error(&channel(&a.preds, 4), &channel(&b.preds, 4));
    let proto = relative_error(&a.proto.data, &b.proto.data);
    assert!(box_x < 0.02 && score < 0.5 && proto < 0.5, "box x {box_x}, score {score}, proto {proto}");

    // The masks: matched one to one, most keep a recognisable match.
    let (sa, sb) = (fp32.segment(&img).unwrap(), int8.segment(&img).unwrap());
    let f = fidelity::compare(&sa, &sb);
    assert!(sa.len() >= 10, "fp32 finds {} masks", sa.len());
    assert!(f.mean_iou >= 0.35 && 5 * f.matched_pairs >= 2 * sa.len() && f.max_score_diff < 0.3, "{f:?}");

    // The comparison is exact on identical inputs, and the chaos control moves masks without quantisation.
    let same = fidelity::compare(&sa, &sa);
    assert_eq!((same.matched_iou_095, same.mean_iou, same.max_score_diff), (sa.len(), 1.0, 0.0));
    let jittered = fidelity::jittered(&img, 7);
    assert!(jittered.data.iter().zip(&img.data).all(|(p, q)| p.abs_diff(*q) == 1));
    let control = fidelity::compare(&sa, &fp32.segment(&jittered).unwrap());
    assert!(control.mean_iou < 1.0 && control.mean_iou > f.mean_iou, "{control:?}");
}

#[test]
fn quantised_graphs_are_cached_per_checkpoint_and_calibration_set() {
    let dir = scratch("cache");
    let cache = ModelCache::new(dir.join("cache"), None);
    let checkpoint = fixture("fastsam-s-tiny.pt");
    let graphs = |cache_dir: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(cache_dir.join("cache/graphs"))
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        v.retain(|n| n.ends_with(".onnx"));
        v.sort();
        v
    };

    let builtin = int8_options(Calibration::Builtin);
    cache.load_model(&checkpoint, &builtin).unwrap();
    let first = graphs(&dir);
    assert_eq!(first.len(), 1);
    assert!(first[0].contains(".int8-"), "{first:?}");
    let path = cache.graph_path(
        &fastsam::weights::download::sha256_file(&checkpoint).unwrap(),
        &GraphVariant::for_options(&builtin).unwrap(),
    );
    let built = std::fs::metadata(&path).unwrap().modified().unwrap();
    cache.load_model(&checkpoint, &builtin).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), built, "the cached int8 graph was rebuilt");

    // The user's own images make a graph of their own; so does fp32.
    let images = dir.join("calibration");
    std::fs::create_dir_all(&images).unwrap();
    std::fs::copy(image("dogs.jpg"), images.join("dogs.jpg")).unwrap();
    std::fs::write(images.join("notes.txt"), "not an image").unwrap();
    cache.load_model(&checkpoint, &int8_options(Calibration::Dir(images.clone()))).unwrap();
    cache.load_model(&checkpoint, &options()).unwrap();
    assert_eq!(graphs(&dir).len(), 3, "{:?}", graphs(&dir));

    // A folder with no images is a clear error, not an uncalibrated graph.
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let err = cache.load_model(&checkpoint, &int8_options(Calibration::Dir(empty))).unwrap_err().to_string();
    assert!(err.contains("no image files"), "{err}");
    let err = cache.load_model(&checkpoint, &int8_options(Calibration::Dir(dir.join("missing")))).unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
}

#[test]
fn cpus_without_vnni_get_seven_bit_weights() {
    assert_eq!(WeightRange::for_kernels(Int8Kernels::X86WithoutVnni), WeightRange::Reduced);
    for fast in [Int8Kernels::Avx512Vnni, Int8Kernels::AvxVnni, Int8Kernels::ArmDotProd] {
        assert_eq!(WeightRange::for_kernels(fast), WeightRange::Full);
        assert!(fast.fast());
    }
    assert!(!Int8Kernels::X86WithoutVnni.fast() && !Int8Kernels::Other.fast());

    let graph = standard_graph("fastsam-s-tiny.pt");
    let set = CalibrationSet::load(&Calibration::Builtin).unwrap();
    let (model, _) = quantize::quantize(&graph, &set, WeightRange::Reduced, &options()).unwrap();
    let weights: Vec<&Vec<i8>> = model
        .graph
        .initializers
        .iter()
        .filter_map(|t| match &t.data {
            TensorData::I8(v) if t.name.ends_with(".int8") => Some(v),
            _ => None,
        })
        .collect();
    assert!(!weights.is_empty());
    let max = weights.iter().flat_map(|w| w.iter()).map(|v| v.unsigned_abs()).max().unwrap();
    assert_eq!(max, WeightRange::Reduced.max_step() as u8);
    assert_ne!(set.id(WeightRange::Reduced), set.id(WeightRange::Full));
}

#[test]
fn other_execution_providers_get_the_standard_graph() {
    let cpu = options();
    let cuda = EngineOptions { provider: ExecutionProvider::Cuda, ..options() };
    assert_eq!(cpu.graph_conv(), ConvAlgorithm::default());
    assert_eq!(cuda.graph_conv(), ConvAlgorithm::Direct);
    assert_eq!(int8_options(Calibration::Builtin).graph_conv(), ConvAlgorithm::Direct);

    let uses_custom_ops = |options: &EngineOptions| {
        let graph = GraphVariant::for_options(options).unwrap().prepare(standard_graph("fastsam-s-tiny.pt"), options);
        let model = graph.unwrap().model;
        model.graph.nodes.iter().any(|n| !n.domain.is_empty()) || !model.custom_domains.is_empty()
    };
    assert!(uses_custom_ops(&cpu), "the CPU graph uses the Winograd operator");
    assert!(!uses_custom_ops(&cuda), "a CUDA session must get standard ONNX");
    assert_eq!(GraphVariant::for_options(&cuda).unwrap().key(), "", "and shares the standard graph's cache entry");

    if !cfg!(feature = "cuda") {
        let err = FastSam::load_with(fixture("fastsam-s-tiny.pt"), &cuda).unwrap_err().to_string();
        assert!(err.contains("--features cuda"), "{err}");
    }
}

#[test]
fn int8_of_an_onnx_export_is_refused_clearly() {
    let err = FastSam::load_with(fixture("fastsam-s-tiny.onnx"), &int8_options(Calibration::Builtin))
        .unwrap_err()
        .to_string();
    assert!(err.contains("int8") && err.contains(".pt"), "{err}");
}
