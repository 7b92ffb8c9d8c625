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
use fastsam::output::annotations::AnnotationFile;
use fastsam::output::coco::{self, CocoResults};
use fastsam::output::{cutout, overlay, png, polygons};
use fastsam::weights::ModelCache;
use fastsam::{FastSam, PointMode, Prompt, SegmentOptions, Segmentation, Selection};

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
    let model = load_model(&args.model, args.threads, args.conv)?.with_options(options)?;
    let clip = load_clip_for(prompt, &args.clip, args.threads)?;
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

/// "Segment everything" on one image, with every mask smoothed when asked (prompts then select over the
/// smoothed masks, and every output is theirs).
pub fn segment_image(model: &FastSam, image: &RgbImage, smooth: bool) -> Result<Segmentation> {
    let segmentation = model.segment(image)?;
    Ok(if smooth { segmentation.smoothed()? } else { segmentation })
}

/// The path given to a flag that takes an optional value; a single image needs the value.
fn value_of<'a>(flag: &str, arg: &'a Option<Option<PathBuf>>) -> Result<Option<&'a Path>> {
    match arg {
        None => Ok(None),
        Some(Some(p)) => Ok(Some(p)),
        Some(None) => bail!("{flag} needs a file name (OUT.png) for a single image; without one it is for --out DIR"),
    }
}

/// One image's outputs: the annotations (of every object, or of the prompt's selection) and their JSON.
pub struct Rendered {
    pub annotations: AnnotationFile,
    pub json: Vec<u8>,
    selection: Option<Selection>,
}

impl Rendered {
    pub fn new(
        segmentation: &Segmentation,
        image: &RgbImage,
        clip: Option<&Clip>,
        prompt: &Prompt,
        file_name: &str,
        with_polygons: bool,
    ) -> Result<Self> {
        let selection = match clip {
            _ if prompt.is_empty() => None,
            Some(clip) if !prompt.texts.is_empty() => Some(segmentation.select_with_clip(prompt, image, clip)?),
            _ => Some(segmentation.select(prompt)?),
        };
        let annotations = match &selection {
            None => segmentation.annotations(file_name),
            Some(s) => segmentation.selection_annotations(s, file_name),
        };
        let mut rendered = Rendered { annotations, json: Vec::new(), selection };
        rendered.json = if with_polygons {
            let masks = rendered.masks(segmentation);
            serde_json::to_vec(&polygons::annotations_with_polygons(&rendered.annotations, &masks))?
        } else {
            serde_json::to_vec(&rendered.annotations)?
        };
        Ok(rendered)
    }

    /// The masks behind the annotations, in their order.
    pub fn masks<'a>(&'a self, segmentation: &'a Segmentation) -> Vec<&'a Mask> {
        match &self.selection {
            None => segmentation.objects().iter().map(|d| &d.mask).collect(),
            Some(Selection { merged: Some((mask, _)), .. }) => {
                if mask.is_empty() {
                    Vec::new()
                } else {
                    vec![mask]
                }
            }
            Some(s) => s.indices.iter().map(|&i| &segmentation.objects()[i].mask).collect(),
        }
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

pub fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

pub fn stem(path: &Path) -> String {
    path.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
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
