//! Hostile and damaged files: refused with one clear line naming the problem, never executed, never a panic.

#[path = "weights_common.rs"]
mod common;

use common::{fixture, message};
use fastsam::weights::{load_state_dict, state_dict_from_bytes, Checkpoint};

#[test]
fn malicious_pickles_are_refused_by_name_and_never_run() {
    let marker = std::path::Path::new("/tmp/pwned");
    let _ = std::fs::remove_file(marker);
    for (file, global) in [("evil_system.pt", "posix.system"), ("evil_eval_p4.pt", "builtins.eval")] {
        let msg = message(Checkpoint::load(fixture(file)));
        let want = format!("pickle imports {global}, which a checkpoint never needs; refusing to load");
        assert!(msg.contains(&want) && msg.contains(file), "{file}: {msg}");
        assert!(message(load_state_dict(fixture(file))).contains(&want));
    }
    assert!(!marker.exists(), "loading a malicious checkpoint created {}", marker.display());
}

fn assert_one_line(file: &str, msg: &str, reason: &str) {
    assert!(msg.contains(file) && msg.contains(reason), "{file}: {msg}");
    assert!(!msg.contains('\n'), "{file}: multi-line error {msg}");
}

#[test]
fn damaged_archives_give_one_line_errors() {
    // These hold {'w': tensor}; the damage is in the archive or the tensor recipe.
    for (file, reason) in [
        ("truncated.pt", "truncated or damaged zip archive"),
        (
            "short_storage.pt",
            "w: tensor size mismatch: storage data/0 holds 32 bytes but the pickle claims 100 elements",
        ),
        ("compressed_storage.pt", "storage data/0 is compressed"),
        ("bad_offset.pt", "reads past its storage data/0 of 8 elements"),
        ("bad_stride.pt", "reads past its storage"),
        ("missing_storage.pt", "storage data/7 is missing"),
        ("complex_dtype.pt", "unsupported dtype: torch.ComplexFloatStorage"),
        ("big_endian.pt", "only little-endian checkpoints are supported"),
        ("no_data_pkl.pt", "no <name>/data.pkl"),
    ] {
        assert_one_line(file, &message(load_state_dict(fixture(file))), reason);
    }
    for (file, reason) in [
        ("truncated.pt", "truncated or damaged zip archive"),
        ("no_data_pkl.pt", "no <name>/data.pkl"),
        ("no_model.pt", "no model in checkpoint (its keys: epoch, date)"),
        ("model_not_module.pt", "model is not an nn.Module: ckpt['model'] is a dict"),
        ("short_storage.pt", "no model in checkpoint (its keys: w)"),
    ] {
        assert_one_line(file, &message(Checkpoint::load(fixture(file))), reason);
    }
    assert_one_line("no_model.pt", &message(load_state_dict(fixture("no_model.pt"))), "dict without tensors");
}

#[test]
fn files_that_are_not_checkpoints() {
    let cases: [(&[u8], &str); 3] = [
        (b"", "empty file"),
        (b"\xff\xd8\xff\xe0 a jpeg renamed .pt", "not a PyTorch checkpoint (not a zip archive)"),
        (b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.", "legacy (pre-1.6) torch.save format"),
    ];
    for (bytes, reason) in cases {
        let msg = message(Checkpoint::from_bytes("x.pt", bytes));
        assert!(msg.starts_with("x.pt: ") && msg.contains(reason), "{msg}");
    }
    let msg = message(Checkpoint::load(fixture("does_not_exist.pt")));
    assert!(msg.contains("does_not_exist.pt"), "{msg}");
}

/// Every prefix of a real checkpoint is refused cleanly (the reader never trusts the file's own sizes).
#[test]
fn every_truncation_is_an_error_not_a_panic() {
    let bytes = std::fs::read(fixture("det_tiny.pt")).unwrap();
    let step = (bytes.len() / 97).max(1);
    for cut in (0..bytes.len()).step_by(step).chain([bytes.len() - 1, bytes.len() - 22]) {
        assert!(Checkpoint::from_bytes("cut.pt", &bytes[..cut]).is_err(), "prefix of {cut} bytes loaded");
        assert!(state_dict_from_bytes("cut.pt", &bytes[..cut]).is_err());
    }
}

/// Corrupting bytes inside the pickle or a storage never panics (CRC or parse errors, or a changed value).
#[test]
fn corrupted_bytes_never_panic() {
    let bytes = std::fs::read(fixture("state_dict.pt")).unwrap();
    for i in (0..bytes.len()).step_by(7) {
        let mut b = bytes.clone();
        b[i] ^= 0x5a;
        let _ = state_dict_from_bytes("flip.pt", &b);
    }
}
