//! Ultralytics checkpoints (tiny models saved by tools/golden/weights.py the way the official files are):
//! every tensor and every module attribute against torch's own inventory.

#[path = "weights_common.rs"]
mod common;

use common::{attr_matches, check_modules, check_tensors, fixture, golden};
use fastsam::weights::{load_state_dict, Attr, Checkpoint};

fn load(stem: &str) -> Checkpoint {
    Checkpoint::load(fixture(&format!("{stem}.pt"))).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn segmentation_checkpoint_matches_torch_exactly() {
    let ckpt = load("seg_tiny");
    let inv = golden("seg_tiny.json");
    let tensors = ckpt.model.named_tensors();
    // The FastSAM-s shape has 417 tensors (shared/ENGINES.md); the width does not change the count.
    assert_eq!(tensors.len(), 417);
    check_tensors(tensors, &inv);
    check_modules(&ckpt.model, &inv);
}

#[test]
fn segmentation_checkpoint_metadata() {
    let ckpt = load("seg_tiny");
    let inv = golden("seg_tiny.json");
    let want = inv["meta"].as_object().unwrap();
    for (key, value) in want {
        let got = ckpt.meta.get(key).unwrap_or_else(|| panic!("meta {key} missing"));
        attr_matches(got, value).unwrap_or_else(|e| panic!("meta {key}: {e}"));
    }
    // numpy scalars (protocol 2: numpy.dtype + _codecs.encode bytes) become plain numbers.
    let metrics = ckpt.meta["train_metrics"].clone();
    let Attr::Dict(metrics) = metrics else { panic!("train_metrics is {metrics:?}") };
    assert_eq!(metrics[2], (Attr::Str("epochs".into()), Attr::Int(100)));
    assert!(!ckpt.meta.contains_key("model"), "the chosen model is not repeated in meta");
}

#[test]
fn segmentation_hyper_parameters_come_from_attributes() {
    let ckpt = load("seg_tiny");
    let m = &ckpt.model;
    assert_eq!(m.class, "ultralytics.nn.tasks.SegmentationModel");
    let seq = m.child("model").unwrap();
    assert_eq!(seq.children.len(), 23);

    let conv = m.get("model.0.conv").unwrap();
    assert_eq!(conv.kind(), "Conv2d");
    assert_eq!(conv.attr("stride").unwrap().as_i64s(), Some(vec![2, 2]));
    assert_eq!(conv.attr("padding").unwrap().as_i64s(), Some(vec![1, 1]));
    assert_eq!(conv.attr("groups").unwrap().as_i64(), Some(1));
    assert_eq!(conv.attr("kernel_size").unwrap().as_i64s(), Some(vec![3, 3]));
    let bn = m.get("model.0.bn").unwrap();
    assert_eq!(bn.attr("eps").unwrap().as_f64(), Some(0.001));
    assert_eq!(
        bn.tensors.keys().collect::<Vec<_>>(),
        ["bias", "num_batches_tracked", "running_mean", "running_var", "weight"]
    );

    let head = m.get("model.22").unwrap();
    assert_eq!(head.class, "ultralytics.nn.modules.head.Segment");
    assert_eq!(head.attr("nc").unwrap().as_i64(), Some(1));
    assert_eq!(head.attr("nm").unwrap().as_i64(), Some(32));
    assert_eq!(head.attr("npr").unwrap().as_i64(), Some(16));
    assert_eq!(head.attr("reg_max").unwrap().as_i64(), Some(16));
    let Some(Attr::Tensor(stride)) = head.attr("stride") else { panic!("Segment.stride is not a tensor") };
    assert_eq!(stride.data, [8.0, 16.0, 32.0]);
    assert_eq!(m.get("model.22.dfl.conv").unwrap().tensors["weight"].shape, [1, 16, 1, 1]);

    let Some(Attr::Dict(yaml)) = m.attr("yaml") else { panic!("model.yaml missing") };
    let width = yaml.iter().find(|(k, _)| k.as_str() == Some("width_multiple")).map(|(_, v)| v.as_f64());
    assert_eq!(width, Some(Some(1.0 / 16.0)));
    // Saved by ultralytics 8.0.x under the legacy module path, like the official FastSAM files.
    let Some(Attr::Object { class, state }) = m.attr("args") else { panic!("model.args missing") };
    assert_eq!(class, "ultralytics.yolo.utils.IterableSimpleNamespace");
    let Attr::Dict(args) = &**state else { panic!("args state is {state:?}") };
    assert!(args.contains(&(Attr::Str("imgsz".into()), Attr::Int(1024))));
}

#[test]
fn detection_checkpoint_uses_ema_when_model_is_none() {
    let ckpt = load("det_tiny");
    let inv = golden("det_tiny.json");
    check_tensors(ckpt.model.named_tensors(), &inv);
    check_modules(&ckpt.model, &inv);
    assert_eq!(ckpt.model.get("model.22").unwrap().attr("reg_max").unwrap().as_i64(), Some(4));
    assert_eq!(ckpt.meta["model"], Attr::None);
    assert_eq!(ckpt.meta["version"], Attr::Str(inv["meta"]["version"].as_str().unwrap().into()));
}

#[test]
fn classification_checkpoint_prefers_ema_over_model() {
    let ckpt = load("cls_tiny");
    let inv = golden("cls_tiny.json");
    assert_eq!(ckpt.model.class, "ultralytics.nn.tasks.ClassificationModel");
    check_tensors(ckpt.model.named_tensors(), &inv);
    check_modules(&ckpt.model, &inv);
    // The unused module is kept by class only.
    let Attr::Object { class, state } = &ckpt.meta["model"] else { panic!("meta model is {:?}", ckpt.meta["model"]) };
    assert_eq!(class, "torch.nn.modules.linear.Linear");
    assert_eq!(**state, Attr::None);
}

#[test]
fn from_bytes_and_state_dict_agree_with_load() {
    let path = fixture("seg_tiny.pt");
    let bytes = std::fs::read(&path).unwrap();
    let a = Checkpoint::load(&path).unwrap();
    let b = Checkpoint::from_bytes("seg_tiny.pt", &bytes).unwrap();
    assert_eq!(a.model, b.model);
    assert_eq!(a.meta, b.meta);
    let flat = load_state_dict(&path).unwrap();
    let named: Vec<(String, fastsam::Tensor)> =
        a.model.named_tensors().into_iter().map(|(k, t)| (k, t.clone())).collect();
    assert_eq!(flat.into_iter().collect::<Vec<_>>(), {
        let mut n = named;
        n.sort_by(|x, y| x.0.cmp(&y.0));
        n
    });
    assert_eq!(a.state_dict().len(), 417);
}
