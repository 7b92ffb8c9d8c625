//! `fastsam bench`: timings of this implementation, as JSON, for `tools/bench/compare` to put next to the
//! reference's. Cold start, end to end (file → masks, model warm), `segment()` alone, prompt latency, peak RSS.

use std::time::Instant;

use anyhow::{Context, Result};
use fastsam::image::DecodeLimits;
use fastsam::model::{EngineOptions, SegGraph};
use fastsam::weights::checkpoint::Checkpoint;
use fastsam::{FastSam, PointLabel, Prompt, SegmentOptions};
use serde_json::json;

use crate::args::BenchArgs;

pub fn run(args: BenchArgs) -> Result<()> {
    let engine = EngineOptions { intra_threads: args.threads, ..EngineOptions::default() };
    let started = Instant::now();
    let model = FastSam::load_with(&args.model, &engine)
        .with_context(|| format!("loading {}", args.model.display()))?
        .with_options(SegmentOptions { imgsz: args.imgsz, ..SegmentOptions::default() })?;
    let cold_start = started.elapsed().as_secs_f64();

    if let Some(path) = &args.export_graph {
        // The same graph the model runs, for the engine-alone baseline (Python onnxruntime on identical work).
        let checkpoint = Checkpoint::load(&args.model)?;
        let graph = SegGraph::from_module(&checkpoint.model)?;
        std::fs::write(path, graph.onnx_bytes()).with_context(|| format!("writing {}", path.display()))?;
    }

    let mut images = Vec::new();
    let (mut point_ms, mut box_ms) = (Vec::new(), Vec::new());
    for path in &args.images {
        let (mut e2e, mut segment) = (Vec::new(), Vec::new());
        let mut masks = 0;
        // One untimed pass warms ORT's per-shape state; then `runs` timed passes of each kind.
        let image = fastsam::image::open(path, &DecodeLimits::default())?;
        model.segment(&image)?;
        for _ in 0..args.runs {
            let t = Instant::now();
            let image = fastsam::image::open(path, &DecodeLimits::default())?;
            let seg = model.segment(&image)?;
            e2e.push(t.elapsed().as_secs_f64());
            masks = seg.len();
            let t = Instant::now();
            let seg = model.segment(&image)?;
            segment.push(t.elapsed().as_secs_f64());
            prompt_latencies(&seg, args.prompts, &mut point_ms, &mut box_ms)?;
        }
        images.push(json!({
            "file": path.file_name().map(|n| n.to_string_lossy().into_owned()),
            "masks": masks,
            "e2e_s": e2e,
            "segment_s": segment,
        }));
    }
    let report = json!({
        "implementation": "fastsam-rs",
        "model": args.model,
        "imgsz": args.imgsz,
        "threads": args.threads,
        "cold_start_s": cold_start,
        "images": images,
        "select_point_ms_p50": median(&mut point_ms),
        "select_box_ms_p50": median(&mut box_ms),
        "peak_rss_mb": peak_rss_mb(),
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// Times `n` single-point and `n` single-box prompts spread over the image (deterministic positions).
fn prompt_latencies(
    seg: &fastsam::Segmentation,
    n: usize,
    point_ms: &mut Vec<f64>,
    box_ms: &mut Vec<f64>,
) -> Result<()> {
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
