//! Parity with the reference (Ultralytics `FastSAM`) on the committed tiny fixtures: "segment everything" and
//! point/box prompts, against outputs the reference itself wrote (tools/fixtures/reference.py).
//!
//! Thresholds are the project's parity contract: same number of masks; every reference mask matched with
//! IoU >= 0.98 and mean IoU >= 0.995; boxes within 1 px; scores within 2e-3; identical prompt selections.
//!
//! Checkpoints run twice: with ONNX Runtime's convolution everywhere, and with every 3×3 stride-1 layer on the
//! Winograd operator (the default 32-channel threshold would take only the tiny fixtures' widest layers; this
//! run covers them all).

use std::path::{Path, PathBuf};

use fastsam::model::{ConvAlgorithm, EngineOptions};
use fastsam::output::annotations::AnnotationFile;
use fastsam::prompt::{BoxPrompt, PointLabel, PointPrompt, Prompt};
use fastsam::{FastSam, Segmentation};
use serde::Deserialize;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn shared_images() -> PathBuf {
    std::env::var_os("FASTSAM_SHARED").map_or_else(|| repo().join("../shared"), PathBuf::from).join("data/images")
}

/// Reference output directories with their models: tests/fixtures/reference/<model stem>/ for the checkpoint
/// `<model stem>.pt`, and `<model stem>-onnx/` for its Ultralytics export `<model stem>.onnx`
/// (tools/fixtures/export_onnx.py), which the reference ran through its own ONNX Runtime backend.
fn fixture_models() -> Vec<(PathBuf, PathBuf)> {
    let dir = repo().join("tests/fixtures/reference");
    let mut out: Vec<(PathBuf, PathBuf)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|p| {
            let stem = p.file_name().unwrap().to_string_lossy().into_owned();
            let model = match stem.strip_suffix("-onnx") {
                Some(stem) => format!("{stem}.onnx"),
                None => format!("{stem}.pt"),
            };
            (repo().join("tests/fixtures/fastsam").join(model), p)
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no reference outputs under {}", dir.display());
    out
}

fn reference_files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            let name = p.to_string_lossy();
            // Compressed files are read through `read_json`, which takes the uncompressed name.
            let name = name.strip_suffix(".gz").unwrap_or(&name);
            name.ends_with(suffix).then(|| PathBuf::from(name))
        })
        .collect();
    files.sort();
    files
}

/// Reads `path`, or `path.gz` when only the compressed file is committed.
fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> T {
    let gz = PathBuf::from(format!("{}.gz", path.display()));
    let text = if path.exists() {
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    } else {
        let mut text = String::new();
        let file = std::fs::File::open(&gz).unwrap_or_else(|e| panic!("{}: {e}", gz.display()));
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(file), &mut text).unwrap();
        text
    };
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn full_masks(file: &AnnotationFile) -> Vec<Vec<u8>> {
    file.annotations.iter().map(|a| a.rle().unwrap().decode().unwrap().to_full()).collect()
}

fn iou(a: &[u8], b: &[u8]) -> f64 {
    let (mut inter, mut union) = (0u64, 0u64);
    for (&x, &y) in a.iter().zip(b) {
        inter += u64::from(x & y);
        union += u64::from(x | y);
    }
    if union == 0 {
        1.0
    } else {
        inter as f64 / union as f64
    }
}

/// For every reference mask, the index of our mask it matches (same index unless the order differs).
fn match_masks(reference: &[Vec<u8>], ours: &[Vec<u8>]) -> (Vec<usize>, Vec<f64>) {
    let mut used = vec![false; ours.len()];
    let mut pairs = Vec::new();
    let mut ious = Vec::new();
    for (i, r) in reference.iter().enumerate() {
        let same = ours.get(i).filter(|_| !used[i]).map(|o| iou(r, o));
        let (j, v) = match same {
            Some(v) if v >= 0.98 => (i, v),
            _ => (0..ours.len())
                .filter(|&j| !used[j])
                .map(|j| (j, iou(r, &ours[j])))
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .unwrap_or((usize::MAX, 0.0)),
        };
        if j != usize::MAX {
            used[j] = true;
        }
        pairs.push(j);
        ious.push(v);
    }
    (pairs, ious)
}

#[derive(Deserialize)]
struct PromptFile {
    cases: Vec<PromptCase>,
}

#[derive(Deserialize)]
struct PromptCase {
    points: Option<Vec<[f64; 2]>>,
    labels: Option<Vec<i64>>,
    boxes: Option<Vec<[f64; 4]>>,
    selected: Vec<usize>,
}

impl PromptCase {
    fn prompt(&self) -> Prompt {
        let mut prompt = Prompt::default();
        if let Some(points) = &self.points {
            for (k, p) in points.iter().enumerate() {
                let label = self.labels.as_ref().map_or(1, |l| l[k]);
                let label = PointLabel::from_i64(label).unwrap();
                prompt.points.push(PointPrompt { x: p[0], y: p[1], label });
            }
        }
        for b in self.boxes.iter().flatten() {
            prompt.boxes.push(BoxPrompt { x1: b[0], y1: b[1], x2: b[2], y2: b[3] });
        }
        prompt
    }
}

struct Checked {
    seg: Segmentation,
    pairs: Vec<usize>,
}

fn check_everything(model: &FastSam, reference_path: &Path) -> Checked {
    let reference: AnnotationFile = read_json(reference_path);
    let image_path = shared_images().join(&reference.image.file_name);
    let image = fastsam::image::open(&image_path, &Default::default()).unwrap();
    let seg = model.segment(&image).unwrap();
    let ours = seg.annotations(&reference.image.file_name);
    let name = reference_path.display();

    assert_eq!((ours.image.width, ours.image.height), (reference.image.width, reference.image.height), "{name}");
    assert_eq!(ours.annotations.len(), reference.annotations.len(), "{name}: mask count");
    let (pairs, ious) = match_masks(&full_masks(&reference), &full_masks(&ours));
    let min = ious.iter().copied().fold(1.0, f64::min);
    let mean = ious.iter().sum::<f64>() / ious.len().max(1) as f64;
    assert!(min >= 0.98, "{name}: worst mask IoU {min}");
    assert!(mean >= 0.995, "{name}: mean mask IoU {mean}");
    for (r, &j) in reference.annotations.iter().zip(&pairs) {
        let o = &ours.annotations[j];
        for (a, b) in r.bbox.iter().zip(&o.bbox) {
            assert!((a - b).abs() <= 1.0, "{name}: annotation {} bbox {:?} vs {:?}", r.id, r.bbox, o.bbox);
        }
        assert!((r.score - o.score).abs() <= 2e-3, "{name}: annotation {} score {} vs {}", r.id, r.score, o.score);
    }
    eprintln!("{name}: {} masks, min IoU {min:.5}, mean IoU {mean:.6}", ours.annotations.len());
    Checked { seg, pairs }
}

fn check_prompts(checked: &Checked, prompts_path: &Path) -> usize {
    let file: PromptFile = read_json(prompts_path);
    assert!(file.cases.len() >= 50, "{}: only {} prompt cases", prompts_path.display(), file.cases.len());
    for (k, case) in file.cases.iter().enumerate() {
        let selection = checked.seg.select(&case.prompt()).unwrap();
        let mut expected: Vec<usize> = case.selected.iter().map(|&i| checked.pairs[i]).collect();
        expected.sort_unstable();
        assert_eq!(
            selection.indices,
            expected,
            "{} case {k}: points {:?} labels {:?} boxes {:?}",
            prompts_path.display(),
            case.points,
            case.labels,
            case.boxes
        );
    }
    file.cases.len()
}

#[test]
fn everything_and_prompts_match_the_reference_on_tiny_fixtures() {
    for (checkpoint, dir) in fixture_models() {
        let convs: &[ConvAlgorithm] = match checkpoint.extension().and_then(|e| e.to_str()) {
            Some("pt") => &[ConvAlgorithm::Direct, ConvAlgorithm::Winograd { min_channels: 1 }],
            _ => &[ConvAlgorithm::default()],
        };
        for &conv in convs {
            let options = EngineOptions { conv, ..Default::default() };
            let model =
                FastSam::load_with(&checkpoint, &options).unwrap_or_else(|e| panic!("{}: {e}", checkpoint.display()));
            let everything = reference_files(&dir, ".everything.json");
            assert!(everything.len() >= 9, "{}: expected every test image", dir.display());
            let mut cases = 0;
            for path in everything {
                let checked = check_everything(&model, &path);
                let prompts = PathBuf::from(path.to_string_lossy().replace(".everything.json", ".prompts.json"));
                if prompts.exists() || prompts.with_extension("json.gz").exists() {
                    cases += check_prompts(&checked, &prompts);
                }
            }
            eprintln!("{} ({conv:?}): {cases} prompt cases identical", checkpoint.display());
        }
    }
}

/// The legacy-format fixture (old `ultralytics.yolo.utils` module path, as ultralytics 8.0.x saved the official
/// files) holds the same network as the current-format one, so it must load and give the same masks.
#[test]
fn legacy_format_checkpoint_segments_like_the_current_one() {
    let fixtures = repo().join("tests/fixtures/fastsam");
    let current = FastSam::load(fixtures.join("fastsam-s-tiny.pt")).unwrap();
    let legacy = FastSam::load(fixtures.join("fastsam-s-tiny-legacy.pt")).unwrap();
    let image = fastsam::image::open(shared_images().join("bus.jpg"), &Default::default()).unwrap();
    let (a, b) = (current.segment(&image).unwrap(), legacy.segment(&image).unwrap());
    assert!(!a.is_empty());
    assert_eq!(a.annotations("bus.jpg"), b.annotations("bus.jpg"));
}
