//! `fastsam segment`: every object's mask, or the masks selected by prompts, as JSON / overlay / cut-out /
//! COCO results. One image without --out writes where told (JSON to stdout by default); folders and several
//! images go through [`crate::batch`].

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use fastsam::clip::Clip;
use fastsam::image::{DecodeLimits, RgbImage};
use fastsam::mask::Mask;
use fastsam::model::EngineOptions;
use fastsam::output::coco::{self, CocoResults};
pub use fastsam::output::layout::{file_name, stem};
pub use fastsam::output::rendered::Rendered;
use fastsam::output::{cutout, overlay, png};
use fastsam::weights::ModelCache;
use fastsam::{FastSam, PointMode, Prompt, SegmentOptions};

use crate::args::{ConvArg, SegmentArgs};

pub fn run(args: SegmentArgs) -> Result<()> {
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
        texts: args.texts.clone(),
        point_mode: if args.merge { PointMode::Merge } else { PointMode::Reference },
        ..Prompt::default()
    };
    prompt.validate()?;
    if let Some(out) = args.out.clone() {
        return crate::batch::run(&args, &out, options, &prompt);
    }
    if args.inputs.len() > 1 || args.inputs[0].is_dir() {
        bail!("several images or a folder need --out DIR (one JSON per image is written there)");
    }
    single(&args, options, &prompt)
}

fn single(args: &SegmentArgs, options: SegmentOptions, prompt: &Prompt) -> Result<()> {
    let overlay_path = value_of("--overlay", &args.overlay)?;
    let cutout_path = value_of("--cutout", &args.cutout)?;
    let model = load_model(&args.model, args.threads, args.conv)?.with_options(options)?;
    let clip = load_clip_for(prompt, &args.clip, args.threads)?;
    let path = &args.inputs[0];
    let image = fastsam::image::open(path, &DecodeLimits::default())?;
    let segmentation = model.segment(&image).with_context(|| format!("segmenting {}", path.display()))?;
    let rendered = Rendered::new(&segmentation, &image, clip.as_ref(), prompt, &file_name(path), args.polygons)?;

    match args.json.as_deref() {
        None => write_stdout(&rendered.json)?,
        Some(p) if p == Path::new("-") => write_stdout(&rendered.json)?,
        Some(p) => write_atomically(p, &rendered.json)?,
    }
    let masks = rendered.masks(&segmentation);
    if let Some(out) = overlay_path {
        write_overlay(out, &image, &masks)?;
    }
    if let Some(out) = cutout_path {
        if !write_cutout(out, &image, &masks)? {
            eprintln!("no mask selected: {} not written", out.display());
        }
    }
    if let Some(out) = &args.coco {
        let mut results = CocoResults::default();
        results.add(coco::image_ids(&[stem(path)])[0], &rendered.annotations);
        write_coco(out, &results)?;
    }
    Ok(())
}

/// The path given to a flag that takes an optional value; a single image needs the value.
fn value_of<'a>(flag: &str, arg: &'a Option<Option<PathBuf>>) -> Result<Option<&'a Path>> {
    match arg {
        None => Ok(None),
        Some(Some(p)) => Ok(Some(p)),
        Some(None) => bail!("{flag} needs a file name (OUT.png) for a single image; without one it is for --out DIR"),
    }
}

pub fn write_overlay(path: &Path, image: &RgbImage, masks: &[&Mask]) -> Result<()> {
    let picture = overlay::overlay(image, masks)?;
    write_atomically(path, &png::encode_rgb(&picture)?)
}

/// Writes the cut-out; `false` (nothing written) when no pixel is selected.
pub fn write_cutout(path: &Path, image: &RgbImage, masks: &[&Mask]) -> Result<bool> {
    match cutout::cutout(image, masks)? {
        Some(picture) => write_atomically(path, &png::encode_rgba(&picture)?).map(|()| true),
        None => Ok(false),
    }
}

/// The results array to `path`, the image list next to it (`OUT.json` → `OUT.images.json`).
pub fn write_coco(path: &Path, results: &CocoResults) -> Result<()> {
    write_atomically(path, &results.results_json())?;
    write_atomically(&path.with_extension("images.json"), &results.images_json())
}

pub fn load_model(spec: &str, threads: Option<usize>, conv: ConvArg) -> Result<FastSam> {
    let cache = ModelCache::from_env()?;
    let path = cache.resolve(spec, &mut crate::weights::download_bar(spec))?;
    let engine = EngineOptions { intra_threads: threads, conv: conv.algorithm(), ..EngineOptions::default() };
    Ok(FastSam::from_model(cache.load_model(&path, &engine)?))
}

/// A CLIP model (path, or a name fetched into the weights cache).
pub fn load_clip(spec: &str, threads: Option<usize>) -> Result<Clip> {
    let path = ModelCache::from_env()?.resolve(spec, &mut crate::weights::download_bar(spec))?;
    let engine = EngineOptions { intra_threads: threads, ..EngineOptions::default() };
    Ok(Clip::load_with(&path, &engine)?)
}

/// CLIP only when the prompt has phrases: nothing is loaded or downloaded otherwise.
pub fn load_clip_for(prompt: &Prompt, spec: &str, threads: Option<usize>) -> Result<Option<Clip>> {
    if prompt.texts.is_empty() {
        return Ok(None);
    }
    load_clip(spec, threads).map(Some)
}

fn write_stdout(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.write_all(b"\n")?;
    Ok(())
}

/// Writes next to the destination and renames, so a reader never sees a half-written file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    Ok(fastsam::weights::download::write_atomically(path, bytes)?)
}
