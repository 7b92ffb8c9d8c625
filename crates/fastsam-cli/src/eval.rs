//! `fastsam eval`: class-agnostic COCO object-proposal recall (the FastSAM paper's proposal table), computed by
//! the library's port of pycocotools' `COCOeval` (`useCats = 0`) on the detections this run makes.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use fastsam::eval::{evaluate_proposals, EvalImage, GroundTruth, ProposalSummary, Summary, STAT_NAMES};
use fastsam::output::coco::CocoResults;
use fastsam::{FastSam, SegmentOptions};
use serde_json::json;

use crate::args::EvalArgs;
use crate::{files, models, progress};
use fastsam::output::layout::file_name;

/// The recall columns of the paper's table, in the order printed.
const RECALL_KEYS: [&str; 6] = ["AR@10", "AR@100", "AR@1000", "AR_small@1000", "AR_medium@1000", "AR_large@1000"];

pub fn run(args: EvalArgs) -> Result<()> {
    let gt = GroundTruth::load(&args.annotations)
        .with_context(|| format!("reading the annotations {}", args.annotations.display()))?;
    if gt.images.is_empty() {
        bail!("{} lists no images", args.annotations.display());
    }
    let options = SegmentOptions {
        imgsz: args.imgsz,
        conf: args.conf,
        iou: args.iou,
        max_det: args.max_det,
        ..Default::default()
    };
    let model = models::load_model(&args.model, &args.engine)?.with_options(options)?;

    let started = Instant::now();
    let bar = progress::progress_bar(gt.images.len());
    let mut results = CocoResults::default();
    let mut failures: Vec<(PathBuf, String)> = Vec::new();
    for image in &gt.images {
        let path = args.images.join(&image.file_name);
        bar.set_message(image.file_name.clone());
        match detections_of(&model, &path, image) {
            Ok(file) => results.add(image.id, &file),
            Err(e) => {
                bar.suspend(|| eprintln!("warning: {}: {e:#}", path.display()));
                failures.push((path, format!("{e:#}")));
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let evaluated = gt.images.len() - failures.len();

    if let Some(path) = &args.detections {
        files::write_atomically(path, &results.results_json())
            .with_context(|| format!("writing the detections {}", path.display()))?;
    }
    // Images that could not be segmented are left out of the evaluation (pycocotools' `params.imgIds` set to
    // the images evaluated), so they lower no recall; they are reported and make the exit status non-zero.
    let done: HashSet<u64> = results.images.iter().map(|i| i.id).collect();
    let gt = restricted(gt, &done);
    let detections = gt.detections_from_results(&results.results).context("reading back the detections")?;
    let summary = evaluate_proposals(&gt, &detections);

    print_table(&summary, evaluated, seconds);
    if let Some(path) = &args.json {
        let report = json!({
            "images": evaluated,
            "images_failed": failures.iter().map(|(p, e)| json!({"file": p.display().to_string(), "error": e})).collect::<Vec<_>>(),
            "model": args.model,
            "options": {"imgsz": args.imgsz, "conf": decimal(args.conf), "iou": decimal(args.iou), "max_det": args.max_det,
                        "precision": args.engine.precision_name(), "conv": format!("{:?}", args.engine.conv).to_lowercase()},
            "seconds_per_image": if evaluated > 0 { seconds / evaluated as f64 } else { 0.0 },
            "segm": summary.segm.to_json(),
            "bbox": summary.bbox.to_json(),
        });
        files::write_atomically(path, serde_json::to_string_pretty(&report)?.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if !failures.is_empty() {
        bail!("{} of {} images could not be evaluated (listed above)", failures.len(), failures.len() + evaluated);
    }
    Ok(())
}

/// One image's "segment everything" annotations, checked against the size the annotations give it (masks of
/// another size could never match its ground truth).
fn detections_of(
    model: &FastSam,
    path: &Path,
    image: &EvalImage,
) -> Result<fastsam::output::annotations::AnnotationFile> {
    let decoded = fastsam::image::open(path, &Default::default())?;
    if (decoded.width, decoded.height) != (image.width, image.height) {
        bail!(
            "the image is {}x{} but the annotations say {}x{}",
            decoded.width,
            decoded.height,
            image.width,
            image.height
        );
    }
    Ok(model.segment(&decoded)?.annotations(&file_name(path)))
}

fn restricted(mut gt: GroundTruth, keep: &HashSet<u64>) -> GroundTruth {
    gt.images.retain(|i| keep.contains(&i.id));
    gt.objects.retain(|o| keep.contains(&o.image_id));
    gt
}

/// An option as the user typed it (`0.4`, not the f32's `0.4000000059604645`).
fn decimal(v: f32) -> f64 {
    v.to_string().parse().unwrap_or(f64::from(v))
}

fn stat(s: &Summary, key: &str) -> f64 {
    STAT_NAMES.iter().position(|n| *n == key).map_or(f64::NAN, |i| s.stats[i])
}

fn print_table(summary: &ProposalSummary, images: usize, seconds: f64) {
    println!("class-agnostic proposals on {images} images ({:.2} s/image)", seconds / images.max(1) as f64);
    println!("{:<6}{}", "", RECALL_KEYS.iter().map(|k| format!("{k:>16}")).collect::<String>());
    for (name, s) in [("segm", &summary.segm), ("bbox", &summary.bbox)] {
        println!("{name:<6}{}", RECALL_KEYS.iter().map(|k| format!("{:>16.4}", stat(s, k))).collect::<String>());
    }
}
