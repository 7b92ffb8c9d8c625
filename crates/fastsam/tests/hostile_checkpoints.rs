//! Hostile and broken checkpoints through the user-facing loader (`FastSam::load`): each is refused with one
//! line naming the file and the problem, nothing in it runs, and no size claimed by the file is trusted.
//! Crafted files: tests/fixtures/hostile (tools/golden/hostile.py); damaged ones shared with weights_hostile.rs:
//! tests/fixtures/golden/weights.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use fastsam::weights::{load_state_dict, Checkpoint};
use fastsam::FastSam;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn hostile(name: &str) -> PathBuf {
    repo().join("tests/fixtures/hostile").join(name)
}

fn golden(path: &str) -> PathBuf {
    repo().join("tests/fixtures/golden").join(path)
}

/// The error `FastSam::load` gives, checked to be one line naming the file.
fn load_error(path: &Path) -> String {
    let msg = match FastSam::load(path) {
        Ok(_) => panic!("{}: loaded", path.display()),
        Err(e) => e.to_string(),
    };
    let file = path.file_name().unwrap().to_string_lossy();
    assert!(msg.contains(file.as_ref()), "{file}: message does not name the file: {msg}");
    assert!(!msg.contains('\n'), "{file}: multi-line message: {msg}");
    msg
}

const EVIL: [(&str, &str); 6] = [
    ("posix_system", "posix.system"),
    ("os_system", "os.system"),
    ("subprocess_Popen", "subprocess.Popen"),
    ("subprocess_check_output", "subprocess.check_output"),
    ("builtins_eval", "builtins.eval"),
    ("builtins_exec", "builtins.exec"),
];

#[test]
fn code_execution_pickles_are_refused_by_name_and_never_run() {
    let marker = Path::new("/tmp/pwned");
    let _ = std::fs::remove_file(marker);
    assert!(!marker.exists(), "cannot clear {}", marker.display());
    let mut files: Vec<(PathBuf, &str)> = Vec::new();
    for (stem, global) in EVIL {
        // GLOBAL (protocol 2) and STACK_GLOBAL (protocol 4).
        for proto in [2, 4] {
            files.push((hostile(&format!("evil_{stem}_p{proto}.pt")), global));
        }
    }
    files.push((golden("weights/evil_system.pt"), "posix.system"));
    files.push((golden("weights/evil_eval_p4.pt"), "builtins.eval"));
    for (path, global) in &files {
        let want = format!("pickle imports {global}, which a checkpoint never needs; refusing to load");
        let msg = load_error(path);
        assert!(msg.contains(&want), "{}: {msg}", path.display());
        assert!(Checkpoint::load(path).unwrap_err().to_string().contains(&want));
        assert!(load_state_dict(path).unwrap_err().to_string().contains(&want));
    }
    assert!(!marker.exists(), "loading a malicious checkpoint created {}", marker.display());
}

#[test]
fn claimed_sizes_beyond_the_archive_fail_before_allocating() {
    // 2^36 float32 elements (256 GiB) claimed by a 662-byte file; an allocation that size would abort the test.
    let msg = load_state_dict(hostile("huge_numel.pt")).unwrap_err().to_string();
    assert!(msg.contains("w: tensor of shape [68719476736] is larger than the archive could hold"), "{msg}");
    assert!(load_error(&hostile("huge_numel.pt")).contains("no model in checkpoint (its keys: w)"));
    let msg = load_error(&hostile("bomb_claims_4gib.pt"));
    assert!(msg.contains("data.pkl claims 4294967280 bytes, more than the whole archive"), "{msg}");
    let msg = load_error(&golden("weights/short_storage.pt"));
    assert!(msg.contains("no model in checkpoint"), "{msg}");
}

#[test]
fn zip_bombs_are_refused_without_inflating() {
    let msg = load_error(&hostile("bomb_deflated_pkl.pt"));
    assert!(msg.contains("data.pkl is compressed") && msg.contains("refusing"), "{msg}");
    let msg = load_state_dict(hostile("bomb_deflated_storage.pt")).unwrap_err().to_string();
    assert!(msg.contains("storage data/0 is compressed"), "{msg}");
    let msg = load_error(&golden("weights/compressed_storage.pt"));
    assert!(msg.contains("no model in checkpoint"), "{msg}");
}

#[test]
fn damaged_archives_are_refused() {
    for (file, reason) in [
        ("weights/truncated.pt", "truncated or damaged zip archive"),
        ("weights/no_data_pkl.pt", "no <name>/data.pkl"),
        ("weights/no_model.pt", "no model in checkpoint"),
        ("weights/model_not_module.pt", "model is not an nn.Module"),
    ] {
        let msg = load_error(&golden(file));
        assert!(msg.contains(reason), "{file}: {msg}");
    }
    // Wrong dtypes and byte order, read as a state dict (they hold {'w': tensor}, not a model).
    for (file, reason) in [
        ("weights/complex_dtype.pt", "unsupported dtype: torch.ComplexFloatStorage"),
        ("weights/big_endian.pt", "only little-endian checkpoints are supported"),
    ] {
        let msg = load_state_dict(golden(file)).unwrap_err().to_string();
        assert!(msg.contains(reason) && !msg.contains('\n'), "{file}: {msg}");
    }
    let dir = scratch("damaged");
    let empty = dir.join("empty.pt");
    std::fs::write(&empty, b"").unwrap();
    assert!(load_error(&empty).contains("not a model file"));
    let jpeg = dir.join("photo.pt");
    std::fs::write(&jpeg, b"\xff\xd8\xff\xe0\0\x10JFIF\0").unwrap();
    assert!(load_error(&jpeg).contains("not a model file"));
}

/// A valid FastSAM-shaped checkpoint with one tensor's storage deleted from the archive.
#[test]
fn a_missing_tensor_is_named() {
    let src = golden("graph/seg_s.pt");
    let dir = scratch("missing");
    let out = dir.join("seg_missing.pt");
    let dropped = copy_zip_without(&src, &out, "/data/3");
    let msg = load_error(&out);
    assert!(msg.contains("storage data/3 is missing"), "dropped {dropped}: {msg}");
}

#[test]
fn models_that_are_not_fastsam_are_named() {
    for (file, reason) in [
        ("weights/det_tiny.pt", "detection model"),
        ("graph/detect.pt", "detection model"),
        ("weights/cls_tiny.pt", "classification model"),
        ("graph/classify.pt", "classification model"),
        // CLIP's official checkpoints are TorchScript archives.
        ("weights/clip_tiny.pt", "is a TorchScript archive, not a torch.save checkpoint"),
    ] {
        let msg = load_error(&golden(file));
        assert!(msg.contains(reason), "{file}: {msg}");
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fastsam-hostile-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Copies a zip archive without the entry whose name ends in `suffix`; returns that entry's name.
fn copy_zip_without(src: &Path, out: &Path, suffix: &str) -> String {
    let mut zin = zip::ZipArchive::new(std::fs::File::open(src).unwrap()).unwrap();
    let mut zout = zip::ZipWriter::new(std::fs::File::create(out).unwrap());
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut dropped = None;
    for i in 0..zin.len() {
        let mut entry = zin.by_index(i).unwrap();
        let name = entry.name().to_string();
        if name.ends_with(suffix) {
            dropped = Some(name);
            continue;
        }
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        zout.start_file(name, options).unwrap();
        zout.write_all(&data).unwrap();
    }
    zout.finish().unwrap();
    dropped.unwrap_or_else(|| panic!("{}: no entry ending in {suffix}", src.display()))
}
