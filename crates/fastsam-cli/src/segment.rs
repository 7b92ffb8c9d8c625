//! `fastsam segment`: every object's mask, or the masks selected by prompts, as JSON / overlay PNG.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use fastsam::image::DecodeLimits;
use fastsam::mask::Mask;
use fastsam::model::EngineOptions;
use fastsam::output::{overlay, png};
use fastsam::{FastSam, PointMode, Prompt, SegmentOptions, Selection};

use crate::args::SegmentArgs;

pub fn run(args: SegmentArgs) -> Result<()> {
    if args.inputs.len() > 1 {
        bail!("segment takes one IMAGE (got {})", args.inputs.len());
    }
    let options = SegmentOptions {
        imgsz: args.imgsz,
        conf: args.conf,
        iou: args.iou,
        max_det: args.max_det,
        ..SegmentOptions::default()
    };
    options.validate()?;
    let prompt = Prompt {
        points: args.points.clone(),
        boxes: args.boxes.clone(),
        texts: Vec::new(),
        point_mode: if args.merge { PointMode::Merge } else { PointMode::Reference },
    };
    prompt.validate()?;

    let model = load_model(&args.model, args.threads)?.with_options(options)?;
    let path = &args.inputs[0];
    let image = fastsam::image::open(path, &DecodeLimits::default())?;
    let segmentation = model.segment(&image).with_context(|| format!("segmenting {}", path.display()))?;
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();

    let selection = if prompt.is_empty() { None } else { Some(segmentation.select(&prompt)?) };
    let annotations = match &selection {
        None => segmentation.annotations(&file_name),
        Some(s) => segmentation.selection_annotations(s, &file_name),
    };
    let masks: Vec<&Mask> = match &selection {
        None => segmentation.objects().iter().map(|d| &d.mask).collect(),
        Some(Selection { merged: Some((mask, _)), .. }) => vec![mask],
        Some(s) => s.indices.iter().map(|&i| &segmentation.objects()[i].mask).collect(),
    };

    let json = serde_json::to_vec(&annotations)?;
    match args.json.as_deref() {
        None => write_stdout(&json)?,
        Some(p) if p == Path::new("-") => write_stdout(&json)?,
        Some(p) => write_atomically(p, &json)?,
    }
    if let Some(out) = &args.overlay {
        let picture = overlay::overlay(&image, &masks)?;
        write_atomically(out, &png::encode_rgb(&picture)?)?;
    }
    Ok(())
}

pub fn load_model(spec: &str, threads: Option<usize>) -> Result<FastSam> {
    let path = PathBuf::from(spec);
    if !path.exists() {
        bail!("model {spec}: no such file (give the path of a FastSAM .pt checkpoint or an exported .onnx)");
    }
    let engine = EngineOptions { intra_threads: threads, ..EngineOptions::default() };
    Ok(FastSam::load_with(&path, &engine)?)
}

fn write_stdout(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.write_all(b"\n")?;
    Ok(())
}

/// Writes next to the destination and renames, so a reader never sees a half-written file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().with_context(|| format!("{}: not a file path", path.display()))?;
    let tmp = dir.join(format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id()));
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
