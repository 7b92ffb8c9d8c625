//! `fastsam bench`: timings of this implementation, as JSON, for `tools/bench/compare` to put next to the
//! reference's. Cold start, end to end (file → masks, model warm), `segment()` alone, point/box/text prompt
//! latency, peak RSS. With `--precision int8`, the fp32 model runs in the same process too: its forward times
//! beside int8's and, per image, the fidelity of int8's masks to fp32's.

use std::time::Instant;

use anyhow::{Context, Result};
use fastsam::clip::Clip;
use fastsam::eval::fidelity;
use fastsam::image::DecodeLimits;
use fastsam::model::{EngineOptions, Int8Kernels, Precision, SegGraph};
use fastsam::weights::checkpoint::Checkpoint;
use fastsam::{FastSam, PointLabel, Prompt, RgbImage, SegmentOptions, Segmentation};
use serde_json::json;

use crate::args::BenchArgs;

pub fn run(args: BenchArgs) -> Result<()> {
    let engine = args.engine.options()?;
    let load = |engine: &EngineOptions| -> Result<FastSam> {
        Ok(FastSam::load_with(&args.model, engine)
            .with_context(|| format!("loading {}", args.model.display()))?
            .with_options(SegmentOptions { imgsz: args.imgsz, ..SegmentOptions::default() })?)
    };
    let started = Instant::now();
    let model = load(&engine)?;
    let cold_start = started.elapsed().as_secs_f64();
    // int8 is judged against fp32 measured here, in the same run.
    let fp32 = match engine.precision {
        Precision::Fp32 => None,
        Precision::Int8(_) => Some(load(&EngineOptions { precision: Precision::Fp32, ..engine.clone() })?),
    };

    if let Some(path) = &args.export_graph {
        // The same graph the model runs, for the engine-alone baseline (Python onnxruntime on identical work).
        let checkpoint = Checkpoint::load(&args.model)?;
        let graph = SegGraph::from_module(&checkpoint.model)?;
        std::fs::write(path, graph.onnx_bytes()).with_context(|| format!("writing {}", path.display()))?;
    }

    let clip = args.clip.as_deref().map(|spec| crate::models::load_clip(spec, args.engine.threads)).transpose()?;
    let mut images = Vec::new();
    let (mut point_ms, mut box_ms) = (Vec::new(), Vec::new());
    let mut text = TextTimes::default();
    for (i, path) in args.images.iter().enumerate() {
        let (mut e2e, mut segment) = (Vec::new(), Vec::new());
        let mut masks = 0;
        // One untimed pass warms ORT's per-shape state; then `runs` timed passes, file → masks, with the
        // `segment()` part of each timed on its own.
        let image = fastsam::image::open(path, &DecodeLimits::default())?;
        model.segment(&image)?;
        for _ in 0..args.runs {
            let t = Instant::now();
            let image = fastsam::image::open(path, &DecodeLimits::default())?;
            let s = Instant::now();
            let seg = model.segment(&image)?;
            segment.push(s.elapsed().as_secs_f64());
            e2e.push(t.elapsed().as_secs_f64());
            masks = seg.len();
            prompt_latencies(&seg, args.prompts, &mut point_ms, &mut box_ms)?;
        }
        // The network alone on the letterboxed input (ONNX Runtime plus this crate's Winograd operator): the
        // floor of the end-to-end time, so e2e / forward is the pre/post-processing overhead.
        let input = model.letterbox(&image)?.to_tensor(&image)?;
        let forward = forward_times(&model, &input, args.runs)?;
        if let Some(clip) = clip.as_ref().filter(|_| i < args.text_images) {
            text.time(&model.segment(&image)?, &image, clip, i)?;
        }
        let mut row = json!({
            "file": path.file_name().map(|n| n.to_string_lossy().into_owned()),
            "masks": masks,
            "e2e_s": e2e,
            "segment_s": segment,
            "forward_s": forward,
        });
        if let Some(fp32) = &fp32 {
            row["fp32_forward_s"] = json!(forward_times(fp32, &input, args.runs)?);
            let reference = fp32.segment(&image)?;
            row["fidelity"] = serde_json::to_value(fidelity::compare(&reference, &model.segment(&image)?))?;
            // The chaos control: fp32 against itself on the image moved by one grey level.
            let control = fp32.segment(&fidelity::jittered(&image, 7))?;
            row["fp32_jitter_fidelity"] = serde_json::to_value(fidelity::compare(&reference, &control))?;
        }
        images.push(row);
    }
    let report = json!({
        "implementation": "fastsam-rs",
        "model": args.model,
        "imgsz": args.imgsz,
        "threads": args.engine.threads,
        "conv": format!("{:?}", args.engine.conv.algorithm()),
        "precision": args.engine.precision_name(),
        "int8_kernels": Int8Kernels::detect().describe(),
        "cold_start_s": cold_start,
        "images": images,
        "select_point_ms_p50": median(&mut point_ms),
        "select_box_ms_p50": median(&mut box_ms),
        "text_first_phrase_ms_p50": median(&mut text.first_ms),
        "text_new_phrase_ms_p50": median(&mut text.new_ms),
        "text_repeated_phrase_ms_p50": median(&mut text.repeated_ms),
        "peak_rss_mb": peak_rss_mb(),
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// The network alone on a letterboxed input, `runs` times (after the warm-up the caller has done).
fn forward_times(model: &FastSam, input: &fastsam::Tensor, runs: usize) -> Result<Vec<f64>> {
    model.model().run(input)?;
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            model.model().run(input)?;
            Ok(t.elapsed().as_secs_f64())
        })
        .collect()
}

/// Times `n` single-point and `n` single-box prompts spread over the image (deterministic positions).
fn prompt_latencies(seg: &Segmentation, n: usize, point_ms: &mut Vec<f64>, box_ms: &mut Vec<f64>) -> Result<()> {
    let (w, h) = (f64::from(seg.width()), f64::from(seg.height()));
    for k in 0..n {
        // A low-discrepancy walk over the image so prompts land inside and outside masks alike.
        let (fx, fy) = ((k as f64 * 0.618_034).fract(), (k as f64 * 0.754_878).fract());
        let prompt = Prompt::default().point(fx * w, fy * h, PointLabel::Foreground);
        let t = Instant::now();
        seg.select(&prompt)?;
        point_ms.push(t.elapsed().as_secs_f64() * 1e3);
        let (bw, bh) = (w * (0.1 + 0.4 * fy), h * (0.1 + 0.4 * fx));
        let prompt = Prompt::default().bbox(fx * w, fy * h, fx * w + bw, fy * h + bh);
        let t = Instant::now();
        seg.select(&prompt)?;
        box_ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    Ok(())
}

/// Text-prompt latencies after segmentation: the first phrase (every crop through the image encoder, then the
/// phrase), a new phrase on the same image (text encoder + a product), a phrase seen before (a product).
#[derive(Default)]
struct TextTimes {
    first_ms: Vec<f64>,
    new_ms: Vec<f64>,
    repeated_ms: Vec<f64>,
}

/// Phrases are made distinct per image so each one really goes through the text encoder once.
const PHRASES: [&str; 8] =
    ["a bus", "the red car", "a person walking", "a dog on the grass", "the sky", "a window", "wheels", "a shoe"];

impl TextTimes {
    fn time(&mut self, seg: &Segmentation, image: &RgbImage, clip: &Clip, image_index: usize) -> Result<()> {
        let phrase = |k: usize| format!("{} {image_index}", PHRASES[k % PHRASES.len()]);
        let t = Instant::now();
        seg.text_scores(&phrase(0), image, clip, 1)?;
        self.first_ms.push(t.elapsed().as_secs_f64() * 1e3);
        for k in 1..PHRASES.len() {
            let t = Instant::now();
            seg.text_scores(&phrase(k), image, clip, 1)?;
            self.new_ms.push(t.elapsed().as_secs_f64() * 1e3);
            let t = Instant::now();
            seg.text_scores(&phrase(k), image, clip, 1)?;
            self.repeated_ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
        Ok(())
    }
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

/// Peak resident set size of this process (Linux `VmHWM`), in MiB.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
