//! The CLI's contract for the simplest commands, run as a user runs them.

use std::process::Command;

fn fastsam(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_fastsam")).args(args).output().unwrap()
}

#[test]
fn clip_tokens_prints_openai_ids_as_json() {
    // Expected ids from OpenAI's tokenizer (shared/README.md).
    let out = fastsam(&["clip", "tokens", "a photo of a cat"]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), "[49406,320,1125,539,320,2368,49407]");
}

#[test]
fn a_missing_model_is_one_clear_line_and_a_failure() {
    let out = fastsam(&["segment", "examples/bus.jpg", "--model", "/nonexistent/FastSAM-s.pt"]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains("/nonexistent/FastSAM-s.pt"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn malformed_points_are_rejected_before_any_work() {
    let out = fastsam(&["segment", "x.jpg", "--model", "m.pt", "--point", "1,2,7"]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("must be 1 (foreground) or 0 (background)"), "{err}");
}

#[test]
fn serve_refuses_a_label_text_threshold_it_cannot_use_before_loading_anything() {
    for (args, message) in [
        (&["--label-text-threshold", "1.5", "--clip", "c.pt"][..], "--label-text-threshold 1.5 is outside -1 to 1"),
        (&["--label-text-threshold", "NaN", "--clip", "c.pt"][..], "outside -1 to 1"),
        (&["--label-text-threshold", "0.2"][..], "--label-text-threshold needs --clip"),
    ] {
        let mut all = vec!["serve", "--model", "/nonexistent/m.pt", "--addr", "127.0.0.1:0"];
        all.extend_from_slice(args);
        let out = fastsam(&all);
        assert!(!out.status.success());
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.starts_with("error: ") && err.contains(message), "{args:?}: {err}");
    }
}
