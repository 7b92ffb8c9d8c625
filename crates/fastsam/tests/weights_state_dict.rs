//! Flat state dicts: a plain `torch.save(state_dict)` with every dtype and strided views, TorchScript archives
//! (a scripted module and a traced toy CLIP in fp16, like OpenAI's files), and safetensors.

#[path = "weights_common.rs"]
mod common;

use common::{check_tensors, fixture, golden, message};
use fastsam::weights::{load_safetensors, load_state_dict, safetensors_from_bytes, state_dict_from_bytes, Checkpoint};

fn check_file(file: &str, inventory: &str) {
    let tensors = load_state_dict(fixture(file)).unwrap_or_else(|e| panic!("{e}"));
    check_tensors(tensors.iter().map(|(k, t)| (k.clone(), t)), &golden(inventory));
}

#[test]
fn plain_state_dict_with_every_dtype_and_views() {
    // f16/bf16/f32/f64/i64/i32/i16/i8/u8/bool, a transposed view, an offset view, shared storage, empty, scalar.
    check_file("state_dict.pt", "state_dict.json");
    check_file("state_dict_p5.pt", "state_dict.json");
}

#[test]
fn strided_view_reads_like_torch() {
    check_file("strided_ok.pt", "strided_ok.json");
}

#[test]
fn scripted_module_names_only_parameters_and_buffers() {
    // `not_state` is a plain tensor attribute: in the archive, not in state_dict().
    check_file("script_tiny.pt", "script_tiny.json");
}

#[test]
fn traced_clip_gives_openai_state_dict_names() {
    check_file("clip_tiny.pt", "clip_tiny.json");
    let bytes = std::fs::read(fixture("clip_tiny.pt")).unwrap();
    let sd = state_dict_from_bytes("clip_tiny.pt", &bytes).unwrap();
    for name in ["visual.conv1.weight", "transformer.resblocks.0.attn.in_proj_weight", "positional_embedding"] {
        assert!(sd.contains_key(name), "{name} missing");
    }
}

#[test]
fn torchscript_is_not_a_checkpoint() {
    let msg = message(Checkpoint::load(fixture("clip_tiny.pt")));
    assert!(msg.contains("TorchScript archive"), "{msg}");
}

#[test]
fn safetensors_match_torch() {
    let tensors = load_safetensors(fixture("tiny.safetensors")).unwrap();
    check_tensors(tensors.iter().map(|(k, t)| (k.clone(), t)), &golden("tiny.safetensors.json"));
    let bytes = std::fs::read(fixture("tiny.safetensors")).unwrap();
    assert_eq!(safetensors_from_bytes("tiny", &bytes).unwrap(), tensors);
}

#[test]
fn malformed_safetensors_are_refused_with_a_reason() {
    for (file, reason) in [
        ("bad_overlap.safetensors", "overlap"),
        ("bad_bounds.safetensors", "outside the 32-byte data section"),
        ("bad_shape.safetensors", "tensor size mismatch"),
        ("bad_dtype.safetensors", "unsupported dtype C64"),
        ("bad_header_len.safetensors", "header claims 1099511627776 bytes"),
    ] {
        let msg = message(load_safetensors(fixture(file)));
        assert!(msg.contains(file) && msg.contains(reason), "{file}: {msg}");
    }
    let msg = message(safetensors_from_bytes("short", b"1234"));
    assert!(msg.contains("too short"), "{msg}");
}
