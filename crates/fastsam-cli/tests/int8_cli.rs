//! `--precision int8` and `--calibration` on the command line: int8 segments, bench reports int8 beside fp32
//! with the fidelity of its masks, and misuse is a clear error.

mod common;

use common::{fastsam, read_json, repo, shared, stderr, temp_dir};

fn tiny(ext: &str) -> String {
    repo().join(format!("tests/fixtures/fastsam/fastsam-s-tiny.{ext}")).display().to_string()
}

fn dogs() -> String {
    shared().join("data/images/dogs.jpg").display().to_string()
}

#[test]
fn segment_and_bench_run_int8_calibrated_on_the_users_images() {
    let home = temp_dir("int8");
    let calibration = home.join("calibration");
    std::fs::create_dir_all(&calibration).unwrap();
    std::fs::copy(shared().join("data/images/zidane.jpg"), calibration.join("zidane.jpg")).unwrap();
    let json = home.join("dogs.json");
    let out = fastsam(
        &home,
        &[
            "segment",
            &dogs(),
            "-m",
            &tiny("pt"),
            "--precision",
            "int8",
            "--calibration",
            calibration.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let annotations = read_json(&json)["annotations"].as_array().unwrap().len();
    assert!(annotations > 5, "{annotations} masks");
    let graphs: Vec<_> = std::fs::read_dir(home.join("cache/graphs")).unwrap().filter_map(|e| e.ok()).collect();
    assert!(graphs.iter().any(|e| e.file_name().to_string_lossy().contains(".int8-")));

    let out =
        fastsam(&home, &["bench", &dogs(), "-m", &tiny("pt"), "--precision", "int8", "--runs", "1", "--prompts", "0"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["precision"], "int8");
    let row = &report["images"][0];
    assert!(row["forward_s"][0].as_f64().unwrap() > 0.0 && row["fp32_forward_s"][0].as_f64().unwrap() > 0.0);
    let fidelity = &row["fidelity"];
    assert!(fidelity["reference_masks"].as_u64().unwrap() > 5, "{fidelity}");
    assert!(fidelity["mean_iou"].as_f64().unwrap() > 0.2, "{fidelity}");
    assert!(row["fp32_jitter_fidelity"]["mean_iou"].as_f64().unwrap() > 0.2, "{row}");
}

#[test]
fn int8_misuse_is_one_clear_error() {
    let home = temp_dir("int8-misuse");
    let missing = home.join("no-such-folder");
    let (model, image) = (tiny("pt"), dogs());
    for (args, message) in [
        (vec!["--calibration", home.to_str().unwrap()], "--calibration only applies to --precision int8"),
        (vec!["--precision", "int8", "--calibration", missing.to_str().unwrap()], "not a folder"),
        (vec!["--precision", "int8", "--calibration", home.to_str().unwrap()], "no image files"),
    ] {
        let mut all = vec!["segment", image.as_str(), "-m", model.as_str()];
        all.extend(args.iter().copied());
        let out = fastsam(&home, &all);
        let err = stderr(&out);
        assert!(!out.status.success() && err.starts_with("error: ") && err.contains(message), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let out = fastsam(&home, &["segment", &dogs(), "-m", &tiny("onnx"), "--precision", "int8"]);
    let err = stderr(&out);
    assert!(!out.status.success() && err.contains("int8 is built from a PyTorch checkpoint"), "{err}");
}
