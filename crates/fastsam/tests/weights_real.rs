//! Real-shaped FastSAM checkpoints, when present: `tests/fixtures/fastsam/*.pt` (random-weight FastSAM-s/x
//! shapes produced by the fixtures tooling) and any file named by `FASTSAM_CHECKPOINT` (e.g. the official
//! FastSAM-x.pt). Every tensor must be found: 417 for the depth-0.33 (s) shape, 657 for depth 1.0 (x).

#[path = "weights_common.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::time::Instant;

use fastsam::weights::{Attr, Checkpoint};

fn expected_tensor_count(ckpt: &Checkpoint) -> Option<usize> {
    let Some(Attr::Dict(yaml)) = ckpt.model.attr("yaml") else {
        return None;
    };
    let depth = yaml.iter().find(|(k, _)| k.as_str() == Some("depth_multiple"))?.1.as_f64()?;
    match depth {
        d if (d - 0.33).abs() < 1e-9 => Some(417),
        d if (d - 1.0).abs() < 1e-9 => Some(657),
        _ => None,
    }
}

fn check(path: &Path) {
    let start = Instant::now();
    let ckpt = Checkpoint::load(path).unwrap_or_else(|e| panic!("{e}"));
    let elapsed = start.elapsed();
    let tensors = ckpt.model.named_tensors();
    let params: usize = tensors.iter().map(|(_, t)| t.numel()).sum();
    eprintln!("{}: {} tensors, {params} values, loaded in {elapsed:.2?}", path.display(), tensors.len());
    assert_eq!(ckpt.model.kind(), "SegmentationModel", "{}", path.display());
    if let Some(n) = expected_tensor_count(&ckpt) {
        assert_eq!(tensors.len(), n, "{}", path.display());
    }
    let head = ckpt.model.get("model.22").expect("model.22 (Segment) missing");
    assert_eq!(head.attr("nc").and_then(Attr::as_i64), Some(1));
    assert_eq!(head.attr("nm").and_then(Attr::as_i64), Some(32));
    assert!(tensors.iter().all(|(_, t)| t.data.iter().all(|v| v.is_finite())));
}

#[test]
fn real_shaped_fastsam_checkpoints() {
    let dir = common::repo().join("tests/fixtures/fastsam");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|e| e == "pt")).collect()
        })
        .unwrap_or_default();
    files.extend(std::env::var_os("FASTSAM_CHECKPOINT").map(PathBuf::from));
    if files.is_empty() {
        eprintln!("no real-shaped checkpoints in {} and FASTSAM_CHECKPOINT unset; nothing to check", dir.display());
    }
    for f in files {
        check(&f);
    }
}
