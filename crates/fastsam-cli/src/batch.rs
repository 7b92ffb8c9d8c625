//! `fastsam segment DIR_OR_FILES... --out DIR`: many images, one JSON each (plus overlay / cut-out PNGs
//! when asked), with a progress bar.
//!
//! Which images, and where their outputs go: [`fastsam::output::layout`] (folders searched recursively and
//! mirrored under DIR, images recognised by content). An image whose outputs all exist is skipped unless
//! --overwrite. A decoder thread reads the next images while the network runs. A bad image does not stop the
//! batch: every failure is listed at the end and the exit status is non-zero. Files are written whole or not
//! at all.

use std::path::{Path, PathBuf};
use std::sync::mpsc::sync_channel;

use anyhow::{bail, Context, Result};
use fastsam::clip::Clip;
use fastsam::image::{DecodeLimits, RgbImage};
use fastsam::output::annotations::AnnotationFile;
use fastsam::output::coco::{self, CocoResults};
use fastsam::output::layout::{self, file_name, stem, Item};
use fastsam::output::rendered::Rendered;
use fastsam::{FastSam, Prompt, SegmentOptions};

use crate::args::SegmentArgs;
use crate::{files, models};

/// What is asked for, per image: which outputs, and whether masks are smoothed first.
struct Wanted {
    overlay: bool,
    cutout: bool,
    polygons: bool,
    smooth: bool,
}

pub fn run(args: &SegmentArgs, out: &Path, options: SegmentOptions, prompt: &Prompt) -> Result<()> {
    let wanted = Wanted {
        overlay: flag("--overlay", &args.overlay)?,
        cutout: flag("--cutout", &args.cutout)?,
        polygons: args.polygons,
        smooth: args.smooth,
    };
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut failures: Vec<(PathBuf, String)> = Vec::new();
    let (items, refused) = layout::collect(&args.inputs, out)?;
    failures.extend(refused);
    let duplicates = failures.len();
    let ids = coco::image_ids(&items.iter().map(|i| stem(&i.source)).collect::<Vec<_>>());
    let mut results = CocoResults::default();

    let mut todo = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match (!args.overwrite).then(|| done_before(item, &wanted)).flatten() {
            Some(previous) => results.add(ids[i], &previous),
            None => todo.push(i),
        }
    }
    let skipped = items.len() - todo.len();
    if skipped > 0 {
        eprintln!("skipping {skipped} image(s) whose outputs exist (--overwrite to redo them)");
    }

    if !todo.is_empty() {
        let model = models::load_model(&args.model, &args.engine)?.with_options(options)?;
        let clip = models::load_clip_for(prompt, &args.clip, args.engine.threads)?;
        let bar = crate::progress::progress_bar(todo.len());
        let (tx, rx) = sync_channel::<(usize, fastsam::Result<RgbImage>)>(2);
        std::thread::scope(|scope| {
            let (items, todo) = (&items, &todo);
            scope.spawn(move || {
                let limits = DecodeLimits::default();
                for &i in todo {
                    if tx.send((i, fastsam::image::open(&items[i].source, &limits))).is_err() {
                        break;
                    }
                }
            });
            for (i, decoded) in rx {
                let item = &items[i];
                bar.set_message(item.source.display().to_string());
                match decoded
                    .map_err(anyhow::Error::from)
                    .and_then(|image| process(&model, clip.as_ref(), prompt, &wanted, item, &image))
                {
                    Ok(annotations) => results.add(ids[i], &annotations),
                    Err(e) => failures.push((item.source.clone(), format!("{e:#}"))),
                }
                bar.inc(1);
            }
        });
        bar.finish_and_clear();
    }

    if let Some(path) = &args.coco {
        files::write_coco(path, &results)?;
    }
    let done = todo.len() - (failures.len() - duplicates);
    eprintln!("{done} image(s) segmented, {skipped} skipped, {} failed; outputs in {}", failures.len(), out.display());
    if !failures.is_empty() {
        for (path, error) in &failures {
            eprintln!("  {}: {error}", path.display());
        }
        bail!("{} of {} image(s) failed", failures.len(), items.len() + duplicates);
    }
    Ok(())
}

/// In batch mode `--overlay` / `--cutout` are switches: a value would be a misplaced input.
fn flag(name: &str, arg: &Option<Option<PathBuf>>) -> Result<bool> {
    match arg {
        None => Ok(false),
        Some(None) => Ok(true),
        Some(Some(v)) => bail!(
            "with --out, {name} takes no value (it writes DIR/<stem>{}.png); got {:?} — if that is an input, put it \
             before {name}",
            name.trim_start_matches('-').replace("overlay", ".overlay").replace("cutout", ".cutout"),
            v
        ),
    }
}

fn process(
    model: &FastSam,
    clip: Option<&Clip>,
    prompt: &Prompt,
    wanted: &Wanted,
    item: &Item,
    image: &RgbImage,
) -> Result<AnnotationFile> {
    let segmentation = models::segment_image(model, image, wanted.smooth)?;
    let name = file_name(&item.source);
    let rendered = Rendered::new(&segmentation, image, clip, prompt, &name, wanted.polygons)?;
    let masks = rendered.masks(&segmentation);
    if wanted.overlay {
        files::write_overlay(&item.output(".overlay.png"), image, &masks)?;
    }
    if wanted.cutout {
        files::write_cutout(&item.output(".cutout.png"), image, &masks)?;
    }
    // The JSON last: its presence marks the image as done.
    files::write_atomically(&item.output(".json"), &rendered.json)?;
    Ok(rendered.annotations)
}

/// The annotations of an image already done: its JSON and every requested picture exist (no cut-out is
/// expected when nothing was selected). `None` means: (re)do it.
fn done_before(item: &Item, wanted: &Wanted) -> Option<AnnotationFile> {
    let previous = item.previous_annotations()?;
    let overlay_ok = !wanted.overlay || item.output(".overlay.png").exists();
    let cutout_ok = !wanted.cutout || previous.annotations.is_empty() || item.output(".cutout.png").exists();
    (overlay_ok && cutout_ok).then_some(previous)
}
