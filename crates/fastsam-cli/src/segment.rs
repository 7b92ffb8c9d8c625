//! `fastsam segment`: every object's mask, or the masks selected by prompts, as JSON / overlay / cut-out /
//! COCO results. One image without --out writes where told (JSON to stdout by default); folders and several
//! images go through [`crate::batch`].

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use fastsam::image::DecodeLimits;
use fastsam::output::coco::{self, CocoResults};
use fastsam::output::layout::{file_name, stem};
use fastsam::output::rendered::Rendered;
use fastsam::{PointMode, Prompt, SegmentOptions};

use crate::args::SegmentArgs;
use crate::files::{write_atomically, write_coco, write_cutout, write_overlay};
use crate::models::{load_clip_for, load_model, segment_image};

pub fn run(args: SegmentArgs) -> Result<()> {
    let options = SegmentOptions {
        imgsz: args.imgsz,
        conf: args.conf,
        iou: args.iou,
        max_det: args.max_det,
        ..SegmentOptions::default()
    };
    options.validate()?;
    let prompt = prompt_of(&args)?;
    if let Some(out) = args.out.clone() {
        return crate::batch::run(&args, &out, options, &prompt);
    }
    if args.inputs.len() > 1 || args.inputs[0].is_dir() {
        bail!("several images or a folder need --out DIR (one JSON per image is written there)");
    }
    single(&args, options, &prompt)
}

/// The prompt the flags describe; options that would silently do nothing are refused.
fn prompt_of(args: &SegmentArgs) -> Result<Prompt> {
    if args.texts.is_empty() {
        for (flag, given) in
            [("--text-threshold", args.text_threshold.is_some()), ("--text-top-k", args.text_top_k.is_some())]
        {
            if given {
                bail!("{flag} needs --text PHRASE: it chooses among the masks a phrase ranks");
            }
        }
    }
    if args.per_point && args.points.is_empty() {
        bail!("--per-point needs --point X,Y: it selects one object per foreground point");
    }
    let point_mode = match (args.merge, args.per_point) {
        (true, _) => PointMode::Merge,
        (false, true) => PointMode::PerPoint,
        (false, false) => PointMode::Reference,
    };
    let prompt = Prompt {
        points: args.points.clone(),
        boxes: args.boxes.clone(),
        texts: args.texts.clone(),
        point_mode,
        text_threshold: args.text_threshold,
        text_top_k: args.text_top_k,
    };
    prompt.validate().context("invalid prompt")?;
    Ok(prompt)
}

fn single(args: &SegmentArgs, options: SegmentOptions, prompt: &Prompt) -> Result<()> {
    let overlay_path = value_of("--overlay", &args.overlay)?;
    let cutout_path = value_of("--cutout", &args.cutout)?;
    let model = load_model(&args.model, &args.engine)?.with_options(options)?;
    let clip = load_clip_for(prompt, &args.clip, args.engine.threads)?;
    let path = &args.inputs[0];
    let image = fastsam::image::open(path, &DecodeLimits::default())?;
    let segmentation =
        segment_image(&model, &image, args.smooth).with_context(|| format!("segmenting {}", path.display()))?;
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

fn write_stdout(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.write_all(b"\n")?;
    Ok(())
}
