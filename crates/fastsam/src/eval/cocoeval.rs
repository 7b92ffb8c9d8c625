//! pycocotools' `COCOeval.evaluate / accumulate / summarize` for class-agnostic proposals (`useCats = 0`),
//! step for step: the same thresholds (built as `np.linspace` builds them), the same stable sorts, the same
//! greedy matching with crowd regions and area-range ignores, the same precision envelope and recall sampling.

use rayon::prelude::*;

use super::dataset::{EvalDetection, GroundTruth, GroundTruthObject};
use super::overlap::{box_iou, mask_iou};

/// What is compared: masks (`segm`) or boxes (`bbox`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IouType {
    Segm,
    Bbox,
}

/// `np.linspace(start, stop, num)`: `i * step + start`, the last value exactly `stop`.
fn linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    let step = (stop - start) / (num - 1) as f64;
    let mut v: Vec<f64> = (0..num).map(|i| i as f64 * step + start).collect();
    v[num - 1] = stop;
    v
}

/// COCOeval's parameters with the proposal protocol's detection limits.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    pub iou_thresholds: Vec<f64>,
    pub recall_thresholds: Vec<f64>,
    /// Sorted ascending.
    pub max_dets: Vec<usize>,
    /// all, small, medium, large.
    pub area_ranges: [(f64, f64); 4],
}

impl Default for Params {
    fn default() -> Self {
        Params {
            iou_thresholds: linspace(0.5, 0.95, 10),
            recall_thresholds: linspace(0.0, 1.0, 101),
            max_dets: vec![10, 100, 1000],
            area_ranges: [(0.0, 1e10), (0.0, 1024.0), (1024.0, 9216.0), (9216.0, 1e10)],
        }
    }
}

pub const AREA_LABELS: [&str; 4] = ["all", "small", "medium", "large"];

/// `evaluateImg` for one image and area range.
struct ImageEval {
    /// Scores of the kept detections, best first.
    scores: Vec<f64>,
    /// `[threshold][detection]`: matched to a ground truth with non-zero id (`dtMatches != 0`).
    matched: Vec<Vec<bool>>,
    /// `[threshold][detection]`.
    ignored: Vec<Vec<bool>>,
    /// Ground truths not ignored (`gtIgnore == 0`).
    counted_gt: usize,
}

/// Stable argsort by descending score (`np.argsort(-scores, kind='mergesort')`).
fn by_score_desc(scores: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| (-scores[a]).partial_cmp(&-scores[b]).unwrap_or(std::cmp::Ordering::Equal));
    idx
}

/// The accumulated arrays: `precision[t][r][a][m]` and `recall[t][a][m]`, -1 where undefined.
#[derive(Debug, Clone)]
pub struct Accumulated {
    pub params: Params,
    pub precision: Vec<Vec<Vec<Vec<f64>>>>,
    pub recall: Vec<Vec<Vec<f64>>>,
}

/// Runs COCOeval (`useCats = 0`) over every image of `gt`. Ground truths of categories missing from
/// `gt.category_ids` and detections whose `category_id` is not one of them are left out, as COCOeval does.
pub fn evaluate(gt: &GroundTruth, detections: &[EvalDetection], iou_type: IouType, params: &Params) -> Accumulated {
    let n_img = gt.images.len();
    let slot = |id: u64| gt.images.binary_search_by_key(&id, |i| i.id).ok();
    let cat_rank = |c: i64| gt.category_ids.binary_search(&c).ok();
    // Per image: ground truths in category order (then file order), detections in file order.
    let mut gts: Vec<Vec<(usize, &GroundTruthObject)>> = vec![Vec::new(); n_img];
    for g in &gt.objects {
        if let (Some(i), Some(rank)) = (slot(g.image_id), cat_rank(g.category_id)) {
            gts[i].push((rank, g));
        }
    }
    let mut dts: Vec<Vec<(usize, &EvalDetection)>> = vec![Vec::new(); n_img];
    for d in detections {
        if let (Some(i), Some(rank)) = (slot(d.image_id), cat_rank(d.category_id)) {
            dts[i].push((rank, d));
        }
    }
    let max_det = *params.max_dets.last().unwrap_or(&0);
    let per_image: Vec<[Option<ImageEval>; 4]> = (0..n_img)
        .into_par_iter()
        .map(|i| {
            let mut g = gts[i].clone();
            g.sort_by_key(|(rank, _)| *rank);
            let mut d = dts[i].clone();
            d.sort_by_key(|(rank, _)| *rank);
            let g: Vec<&GroundTruthObject> = g.into_iter().map(|(_, o)| o).collect();
            let d: Vec<&EvalDetection> = d.into_iter().map(|(_, o)| o).collect();
            evaluate_image(&g, &d, iou_type, params, max_det)
        })
        .collect();
    accumulate(&per_image, params)
}

fn evaluate_image(
    gt: &[&GroundTruthObject],
    dt: &[&EvalDetection],
    iou_type: IouType,
    params: &Params,
    max_det: usize,
) -> [Option<ImageEval>; 4] {
    if gt.is_empty() && dt.is_empty() {
        return [None, None, None, None];
    }
    let order = by_score_desc(&dt.iter().map(|d| d.score).collect::<Vec<_>>());
    let dt: Vec<&EvalDetection> = order.into_iter().take(max_det).map(|i| dt[i]).collect();
    // computeIoU: ious[d][g] over the score-sorted detections and the ground truths in their order.
    let ious: Vec<Vec<f64>> = match iou_type {
        IouType::Bbox => dt.iter().map(|d| gt.iter().map(|g| box_iou(&d.bbox, &g.bbox, g.iscrowd)).collect()).collect(),
        IouType::Segm => {
            let gboxes: Vec<[f64; 4]> = gt.iter().map(|g| g.rle.to_bbox()).collect();
            dt.iter()
                .map(|d| {
                    let dbox = d.rle.to_bbox();
                    gt.iter().zip(&gboxes).map(|(g, gb)| mask_iou(&d.rle, &dbox, &g.rle, gb, g.iscrowd)).collect()
                })
                .collect()
        }
    };
    std::array::from_fn(|a| Some(match_image(gt, &dt, &ious, params, params.area_ranges[a])))
}

/// evaluateImg's greedy matching for one area range.
fn match_image(
    gt: &[&GroundTruthObject],
    dt: &[&EvalDetection],
    ious: &[Vec<f64>],
    params: &Params,
    (lo, hi): (f64, f64),
) -> ImageEval {
    let ignore: Vec<bool> = gt.iter().map(|g| g.iscrowd || g.area < lo || g.area > hi).collect();
    // Ground truths not ignored first (stable).
    let mut gind: Vec<usize> = (0..gt.len()).collect();
    gind.sort_by_key(|&g| ignore[g]);
    let t_count = params.iou_thresholds.len();
    let mut matched = vec![vec![false; dt.len()]; t_count];
    let mut ignored = vec![vec![false; dt.len()]; t_count];
    let has_ious = !dt.is_empty() && !gt.is_empty();
    for (t, &thr) in params.iou_thresholds.iter().enumerate() {
        let mut gt_taken = vec![false; gt.len()];
        let mut dtm = vec![None::<usize>; dt.len()];
        if has_ious {
            for di in 0..dt.len() {
                let mut best = thr.min(1.0 - 1e-10);
                let mut m: Option<usize> = None;
                for (pos, &g) in gind.iter().enumerate() {
                    if gt_taken[pos] && !gt[g].iscrowd {
                        continue;
                    }
                    if let Some(mp) = m {
                        if !ignore[gind[mp]] && ignore[g] {
                            break;
                        }
                    }
                    if ious[di][g] < best {
                        continue;
                    }
                    best = ious[di][g];
                    m = Some(pos);
                }
                if let Some(mp) = m {
                    ignored[t][di] = ignore[gind[mp]];
                    dtm[di] = Some(gind[mp]);
                    gt_taken[mp] = true;
                }
            }
        }
        for di in 0..dt.len() {
            // dtMatches holds the ground truth's id: an id of 0 reads as "unmatched" downstream.
            matched[t][di] = dtm[di].is_some_and(|g| gt[g].id != 0.0);
            let out_of_range = dt[di].area < lo || dt[di].area > hi;
            if !matched[t][di] && out_of_range {
                ignored[t][di] = true;
            }
        }
    }
    ImageEval {
        scores: dt.iter().map(|d| d.score).collect(),
        matched,
        ignored,
        counted_gt: ignore.iter().filter(|&&i| !i).count(),
    }
}

fn accumulate(per_image: &[[Option<ImageEval>; 4]], params: &Params) -> Accumulated {
    let (t_count, r_count) = (params.iou_thresholds.len(), params.recall_thresholds.len());
    let m_count = params.max_dets.len();
    let mut precision = vec![vec![vec![vec![-1.0; m_count]; 4]; r_count]; t_count];
    let mut recall = vec![vec![vec![-1.0; m_count]; 4]; t_count];
    for a in 0..4 {
        let evals: Vec<&ImageEval> = per_image.iter().filter_map(|e| e[a].as_ref()).collect();
        if evals.is_empty() {
            continue;
        }
        for (m, &max_det) in params.max_dets.iter().enumerate() {
            let mut scores = Vec::new();
            let mut owner = Vec::new();
            for (e_i, e) in evals.iter().enumerate() {
                for d in 0..e.scores.len().min(max_det) {
                    scores.push(e.scores[d]);
                    owner.push((e_i, d));
                }
            }
            let order = by_score_desc(&scores);
            let npig: usize = evals.iter().map(|e| e.counted_gt).sum();
            if npig == 0 {
                continue;
            }
            for t in 0..t_count {
                let (mut tp, mut fp) = (0u64, 0u64);
                let mut rc = Vec::with_capacity(order.len());
                let mut pr = Vec::with_capacity(order.len());
                for &k in &order {
                    let (e_i, d) = owner[k];
                    let (is_m, is_ig) = (evals[e_i].matched[t][d], evals[e_i].ignored[t][d]);
                    if is_m && !is_ig {
                        tp += 1;
                    }
                    if !is_m && !is_ig {
                        fp += 1;
                    }
                    let (tpf, fpf) = (tp as f64, fp as f64);
                    rc.push(tpf / npig as f64);
                    pr.push(tpf / (fpf + tpf + f64::EPSILON));
                }
                let nd = rc.len();
                recall[t][a][m] = if nd > 0 { rc[nd - 1] } else { 0.0 };
                for i in (1..nd).rev() {
                    if pr[i] > pr[i - 1] {
                        pr[i - 1] = pr[i];
                    }
                }
                for (ri, &thr) in params.recall_thresholds.iter().enumerate() {
                    // np.searchsorted(rc, thr, side='left'): past the end stops the filling (q stays 0).
                    let pi = rc.partition_point(|&r| r < thr);
                    if pi >= nd {
                        for q in precision[t][ri..].iter_mut() {
                            q[a][m] = 0.0;
                        }
                        break;
                    }
                    precision[t][ri][a][m] = pr[pi];
                }
            }
        }
    }
    Accumulated { params: params.clone(), precision, recall }
}

/// `COCOeval.summarize()`'s twelve numbers, in its order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub stats: [f64; 12],
}

/// Names of [`Summary::stats`], for JSON and tables.
pub const STAT_NAMES: [&str; 12] = [
    "AP",
    "AP50",
    "AP75",
    "AP_small",
    "AP_medium",
    "AP_large",
    "AR@10",
    "AR@100",
    "AR@1000",
    "AR_small@1000",
    "AR_medium@1000",
    "AR_large@1000",
];

impl Accumulated {
    /// `_summarize`: the mean over entries > -1, or -1 when there are none.
    fn summarize(&self, ap: bool, iou: Option<f64>, area: usize, max_dets: usize) -> f64 {
        let p = &self.params;
        let Some(m) = p.max_dets.iter().position(|&d| d == max_dets) else { return -1.0 };
        let ts: Vec<usize> =
            (0..p.iou_thresholds.len()).filter(|&t| iou.is_none_or(|v| p.iou_thresholds[t] == v)).collect();
        let values: Vec<f64> = if ap {
            ts.iter().flat_map(|&t| self.precision[t].iter().map(move |r| r[area][m])).collect()
        } else {
            ts.iter().map(|&t| self.recall[t][area][m]).collect()
        };
        let kept: Vec<f64> = values.into_iter().filter(|&v| v > -1.0).collect();
        if kept.is_empty() {
            -1.0
        } else {
            kept.iter().sum::<f64>() / kept.len() as f64
        }
    }

    /// `_summarizeDets` with the protocol's max-dets `[m0, m1, m2]` (AP without a limit uses 100, as COCOeval).
    pub fn summary(&self) -> Summary {
        let md = &self.params.max_dets;
        let last = *md.last().unwrap_or(&100);
        let at = |i: usize| md.get(i).copied().unwrap_or(0);
        Summary {
            stats: [
                self.summarize(true, None, 0, 100),
                self.summarize(true, Some(0.5), 0, last),
                self.summarize(true, Some(0.75), 0, last),
                self.summarize(true, None, 1, last),
                self.summarize(true, None, 2, last),
                self.summarize(true, None, 3, last),
                self.summarize(false, None, 0, at(0)),
                self.summarize(false, None, 0, at(1)),
                self.summarize(false, None, 0, at(2)),
                self.summarize(false, None, 1, last),
                self.summarize(false, None, 2, last),
                self.summarize(false, None, 3, last),
            ],
        }
    }
}
