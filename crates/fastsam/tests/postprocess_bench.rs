//! Timing of the post-processing on a heavy synthetic image (not a test of speed: it asserts nothing about time).
//! Run: cargo test -p fastsam --test postprocess_bench -- --ignored --nocapture

#[path = "postprocess_synth.rs"]
mod synth;

use fastsam::mask::Mask;
use fastsam::output::annotations::AnnotationFile;
use fastsam::output::rle::Rle;
use fastsam::postprocess::{nms, postprocess, PostprocessConfig};
use std::time::Instant;

fn median_ms(mut f: impl FnMut(), runs: usize) -> f64 {
    let mut t: Vec<f64> = (0..runs)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[runs / 2]
}

#[test]
#[ignore]
fn bench_postprocess() {
    // BENCH_SIZE=HxW limits the run to one size.
    let only = std::env::var("BENCH_SIZE").ok();
    for (h, w, objects) in [(2000, 1500, 70), (810, 1080, 70), (2250, 1500, 70)] {
        if only.as_ref().is_some_and(|s| *s != format!("{h}x{w}")) {
            continue;
        }
        let (preds, input_hw) = synth::synth_preds(11, h, w, objects);
        let proto = synth::synth_proto(11, input_hw.0 / 4, input_hw.1 / 4);
        let cfg = PostprocessConfig::default();
        let dets = postprocess(&preds, &proto, input_hw, (h, w), &cfg).unwrap();
        let pixels: u64 = dets.items.iter().map(|d| d.mask.area()).sum();
        let box_px: u64 = dets
            .items
            .iter()
            .map(|d| {
                let b = d.raw_bbox;
                ((b[2] - b[0]) * (b[3] - b[1])) as u64
            })
            .sum();
        let t_nms = median_ms(
            || {
                let c = nms::candidates(&preds, 1, 0.4).unwrap();
                std::hint::black_box(nms::nms(&c, 0.9, 300));
            },
            7,
        );
        let t_all = median_ms(|| drop(postprocess(&preds, &proto, input_hw, (h, w), &cfg).unwrap()), 7);
        let t_rle = median_ms(
            || {
                for d in &dets.items {
                    std::hint::black_box(Rle::encode(&d.mask).to_coco_string());
                }
            },
            7,
        );
        let t_json =
            median_ms(|| drop(serde_json::to_string(&AnnotationFile::from_detections("x.jpg", &dets)).unwrap()), 7);
        let masks: Vec<&Mask> = dets.items.iter().map(|d| &d.mask).collect();
        let t_union = median_ms(|| drop(Mask::union(w as u32, h as u32, masks.iter().copied()).unwrap()), 7);
        let t_count = median_ms(
            || {
                for m in &masks {
                    std::hint::black_box(m.count_in_rect(100, 100, 900, 700));
                }
            },
            7,
        );
        let mem: usize = dets.items.iter().map(|d| d.mask.area() as usize / 8).sum();
        println!(
            "{h}x{w}: {} masks, {:.1} Mpx set, {:.1} Mpx of boxes (~{} KiB of mask bits): candidates+NMS {t_nms:.2} ms, \
             postprocess {t_all:.1} ms ({} threads), RLE 1 thread {t_rle:.1} ms, JSON (parallel RLE) {t_json:.1} ms, \
             union of all {t_union:.2} ms, box counts {t_count:.3} ms",
            dets.items.len(),
            pixels as f64 / 1e6,
            box_px as f64 / 1e6,
            mem / 1024,
            rayon::current_num_threads(),
        );
    }
}
