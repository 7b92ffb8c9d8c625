//! `fastsam inspect`: what a checkpoint holds, read as data (nothing in it is executed).

use std::io::Write;

use anyhow::Result;
use fastsam::weights::checkpoint::Checkpoint;
use fastsam::weights::module::{Attr, Module};

use crate::args::InspectArgs;

pub fn run(args: InspectArgs) -> Result<()> {
    let ckpt = Checkpoint::load(&args.checkpoint)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "file: {}", args.checkpoint.display())?;
    for key in ["date", "version", "license"] {
        if let Some(Attr::Str(v)) = ckpt.meta.get(key) {
            writeln!(out, "{key}: {v}")?;
        }
    }
    writeln!(out, "model: {}", ckpt.model.class)?;
    if let Some(head) = last_layer(&ckpt.model) {
        let fields: Vec<String> = ["nc", "nm", "npr", "reg_max", "nl"]
            .iter()
            .filter_map(|k| head.attr(k).and_then(Attr::as_i64).map(|v| format!("{k}={v}")))
            .collect();
        writeln!(out, "head: {} {}", head.kind(), fields.join(" "))?;
        if let Some(Attr::Tensor(t)) = head.attr("stride") {
            writeln!(out, "strides: {:?}", t.data)?;
        }
    }
    let tensors = ckpt.model.named_tensors();
    let params: usize = tensors.iter().map(|(_, t)| t.numel()).sum();
    writeln!(out, "tensors: {} ({} values)", tensors.len(), params)?;
    for (name, t) in tensors {
        writeln!(out, "  {name} {:?}", t.shape)?;
    }
    Ok(())
}

/// The detection/segmentation head: the last layer of the model's `Sequential`.
fn last_layer(model: &Module) -> Option<&Module> {
    model.child("model")?.children.last().map(|(_, m)| m)
}
