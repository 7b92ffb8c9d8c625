//! The `fastsam` binary on hostile input: non-zero exit, exactly one stderr line starting "error:", no panic,
//! and a crafted pickle never runs its command. Files: tests/fixtures/hostile and tests/fixtures/golden.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn image() -> PathBuf {
    repo().join("tests/fixtures/golden/image/synthetic/s420.jpg")
}

fn seg_model() -> PathBuf {
    repo().join("tests/fixtures/golden/graph/seg_s.pt")
}

/// Runs `fastsam segment IMAGE --model MODEL EXTRA...` and returns its one-line error.
fn refused(image: &Path, model: &Path, extra: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_fastsam"))
        .arg("segment")
        .arg(image)
        .arg("--model")
        .arg(model)
        .args(extra)
        .output()
        .expect("runs the fastsam binary");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let what = format!("{} {} {extra:?}", image.display(), model.display());
    assert!(!out.status.success(), "{what}: exited 0");
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{what}: stderr is not one line: {stderr}");
    assert!(lines[0].starts_with("error: "), "{what}: {stderr}");
    assert!(out.stdout.is_empty(), "{what}: wrote to stdout");
    lines[0].to_string()
}

#[test]
fn hostile_models_are_refused_in_one_line() {
    let marker = Path::new("/tmp/pwned");
    let _ = std::fs::remove_file(marker);
    let hostile = repo().join("tests/fixtures/hostile");
    let golden = repo().join("tests/fixtures/golden");
    for (file, reason) in [
        (hostile.join("evil_posix_system_p2.pt"), "pickle imports posix.system"),
        (hostile.join("evil_os_system_p4.pt"), "pickle imports os.system"),
        (hostile.join("evil_subprocess_Popen_p2.pt"), "pickle imports subprocess.Popen"),
        (hostile.join("evil_builtins_exec_p4.pt"), "pickle imports builtins.exec"),
        (hostile.join("evil_builtins_eval_p2.pt"), "pickle imports builtins.eval"),
        (hostile.join("bomb_deflated_pkl.pt"), "data.pkl is compressed"),
        (hostile.join("bomb_claims_4gib.pt"), "more than the whole archive"),
        (hostile.join("huge_numel.pt"), "no model in checkpoint"),
        (golden.join("weights/truncated.pt"), "truncated or damaged zip archive"),
        (golden.join("weights/det_tiny.pt"), "detection model"),
        (golden.join("weights/cls_tiny.pt"), "classification model"),
        (golden.join("weights/clip_tiny.pt"), "TorchScript archive"),
        (image(), "not a model file"),
        (hostile.join("no_such_model.pt"), "no such file"),
    ] {
        let line = refused(&image(), &file, &[]);
        assert!(line.contains(reason), "{}: {line}", file.display());
    }
    assert!(!marker.exists(), "a crafted checkpoint ran its command");
}

#[test]
fn hostile_images_and_options_are_refused_in_one_line() {
    let synthetic = repo().join("tests/fixtures/golden/image/synthetic");
    for (file, reason) in [
        ("bomb.png", "refused before decoding"),
        ("empty.jpg", "empty"),
        ("truncated.png", "truncated.png"),
        ("garbage.jpg", "unknown image format"),
    ] {
        let line = refused(&synthetic.join(file), &seg_model(), &["--imgsz", "64"]);
        assert!(line.contains(reason), "{file}: {line}");
    }
    for (extra, reason) in [
        (&["--conf", "1.5"][..], "invalid conf: 1.5"),
        (&["--iou=-0.1"], "invalid iou: -0.1"),
        (&["--imgsz", "0"], "invalid imgsz: 0"),
        (&["--imgsz", "100000"], "invalid imgsz: 100000"),
        (&["--point", "nan,3"], "not a finite number"),
        (&["--box", "1,2,inf,4"], "not a finite number"),
        (&["--point", "1,2,7"], "must be 1 (foreground) or 0 (background)"),
    ] {
        let line = refused(&image(), &seg_model(), extra);
        assert!(line.contains(reason), "{extra:?}: {line}");
    }
}

/// Odd but valid prompts run end to end: an inverted box and an out-of-image point give valid JSON.
#[test]
fn odd_prompts_give_valid_json() {
    let out = Command::new(env!("CARGO_BIN_EXE_fastsam"))
        .args(["segment", "--imgsz", "100", "--conf", "0", "--box", "30,20,2,2", "--point", "-40,9999", "--model"])
        .arg(seg_model())
        .arg(image())
        .output()
        .expect("runs the fastsam binary");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON on stdout");
    assert!(json["annotations"].is_array(), "{json}");
}
