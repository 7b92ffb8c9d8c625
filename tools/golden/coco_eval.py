"""Golden files for `fastsam eval` (crates/fastsam/src/eval): pycocotools 2.0.11's COCOeval with useCats=0,
maxDets [10, 100, 1000], segm and bbox — the numbers our Rust port must reproduce within 1e-6.

  python tools/golden/coco_eval.py synthetic        # writes tests/fixtures/golden/eval/synthetic_*.json
  python tools/golden/coco_eval.py coco-gt GT.json  # pycocotools' RLE (annToRLE) of every ground truth
  python tools/golden/coco_eval.py coco-dets GT.json DETS.json OUT.json   # COCOeval on detections

`synthetic` builds a small ground truth by hand (polygons with several parts, repeated and out-of-image
vertices, crowd regions as uncompressed and compressed RLE, an image without ground truth, an image without
detections) and random detections around it (shifted/grown copies, random boxes, tied scores), then evaluates.
`coco-dets` evaluates the detections `fastsam eval --detections DETS.json` wrote from the committed tiny
checkpoint over ../shared/data/coco (the command is recorded in the golden's `made_with`), giving
tests/fixtures/golden/eval/coco_subset_tiny_s.json, which crates/fastsam-cli/tests/eval_cli.rs checks.
Run with the pinned reference venv (tools/fixtures/setup.sh).
"""
import contextlib, copy, hashlib, io, json, os, sys
import numpy as np
from pycocotools import mask as mu
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')
OUT = os.path.join(ROOT, 'tests', 'fixtures', 'golden', 'eval')
NAMES = ['AP', 'AP50', 'AP75', 'AP_small', 'AP_medium', 'AP_large',
         'AR@10', 'AR@100', 'AR@1000', 'AR_small@1000', 'AR_medium@1000', 'AR_large@1000']


def evaluate(gt_dataset, dets):
    out = {}
    for iou_type in ('segm', 'bbox'):
        with contextlib.redirect_stdout(io.StringIO()):
            gt = COCO()
            gt.dataset = copy.deepcopy(gt_dataset)
            gt.createIndex()
            dt = gt.loadRes(copy.deepcopy(dets))
            e = COCOeval(gt, dt, iou_type)
            e.params.useCats = 0
            e.params.maxDets = [10, 100, 1000]
            e.evaluate(); e.accumulate(); e.summarize()
        out[iou_type] = {'stats': dict(zip(NAMES, [float(s) for s in e.stats])),
                         'recall': e.eval['recall'][:, 0, :, :].tolist()}
    return out


def enc(m):
    r = mu.encode(np.asfortranarray(m.astype(np.uint8)))
    r['counts'] = r['counts'].decode()
    return r


def synthetic():
    rng = np.random.default_rng(19)
    images = [{'id': 7, 'file_name': 'a.jpg', 'width': 200, 'height': 150},
              {'id': 3, 'file_name': 'b.jpg', 'width': 120, 'height': 160},
              {'id': 11, 'file_name': 'no_gt.jpg', 'width': 90, 'height': 70},
              {'id': 12, 'file_name': 'no_dets.jpg', 'width': 64, 'height': 48}]
    anns = []
    def add(img, cat, seg, crowd=0):
        anns.append({'id': len(anns) + 1, 'image_id': img, 'category_id': cat, 'segmentation': seg, 'iscrowd': crowd})
    # image 7: polygons (one with two parts, one with a repeated vertex, one crossing the border), crowd RLEs
    add(7, 1, [[10.2, 10.7, 60.5, 12.1, 55.3, 70.9, 12.8, 64.4]])
    add(7, 2, [[100, 20, 140, 20, 140, 60, 100, 60], [150.5, 30.25, 170.75, 30.5, 160.1, 55.9]])
    add(7, 1, [[70, 90, 70, 90, 120, 95, 110, 140.6, 75.5, 130]])
    add(7, 3, [[-5, 100, 30, 95, 40, 160, -3, 155]])
    m = np.zeros((150, 200), np.uint8); m[80:140, 130:195] = 1; m[100:110, 150:160] = 0
    add(7, 1, {'counts': [int(c) for c in np_counts(m)], 'size': [150, 200]}, crowd=1)
    m2 = np.zeros((150, 200), np.uint8); m2[2:8, 150:190] = 1
    add(7, 2, enc(m2), crowd=1)
    add(7, 3, [[180, 140, 184, 140, 184, 144, 180, 144]])   # tiny
    # image 3: small, medium and large objects, one crowd
    add(3, 1, [[5, 5, 115, 5, 115, 150, 5, 150]])
    add(3, 2, [[20, 30, 50, 30, 50, 60, 20, 60]])
    add(3, 2, [[60, 100, 66, 100, 66, 108, 60, 108]])
    add(3, 3, [[70, 20, 110, 25, 100, 90]])
    m3 = np.zeros((160, 120), np.uint8); m3[120:155, 10:60] = 1
    add(3, 1, {'counts': [int(c) for c in np_counts(m3)], 'size': [160, 120]}, crowd=1)
    # image 12: ground truth, no detections
    add(12, 1, [[10, 10, 40, 10, 40, 40, 10, 40]])
    cats = [{'id': 1, 'name': 'a'}, {'id': 2, 'name': 'b'}, {'id': 3, 'name': 'c'}]
    gt_dataset = {'images': images, 'annotations': anns, 'categories': cats}
    # areas and boxes as in COCO files: from the masks pycocotools makes
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(); gt.dataset = copy.deepcopy(gt_dataset); gt.createIndex()
    rles = {}
    for a in anns:
        r = gt.annToRLE(a)
        a['area'] = float(mu.area(r))
        a['bbox'] = [float(v) for v in mu.toBbox(r)]
        c = r['counts']
        rles[a['id']] = c.decode() if isinstance(c, bytes) else c
    # detections: jittered copies of every ground truth mask, random boxes, tied scores
    dets = []
    for a in anns:
        if a['image_id'] == 12:
            continue
        im = next(i for i in images if i['id'] == a['image_id'])
        base = mu.decode(gt.annToRLE(a))
        for _ in range(int(rng.integers(1, 5))):
            dy, dx = rng.integers(-6, 7, size=2)
            m = np.roll(np.roll(base, dy, 0), dx, 1)
            if rng.random() < 0.3:
                m = np.maximum(m, np.roll(m, 3, 0))
            if m.sum() == 0:
                continue
            dets.append(det(im, m, rng))
    for im in images[:3]:
        for _ in range(25):
            h, w = im['height'], im['width']
            y0, x0 = rng.integers(0, h - 4), rng.integers(0, w - 4)
            m = np.zeros((h, w), np.uint8)
            m[y0:y0 + int(rng.integers(2, h // 2)), x0:x0 + int(rng.integers(2, w // 2))] = 1
            dets.append(det(im, m, rng))
    for d in dets[::7]:
        d['score'] = 0.5   # ties across images and within one
    with open(os.path.join(OUT, 'synthetic_gt.json'), 'w') as f:
        json.dump(gt_dataset, f)
    with open(os.path.join(OUT, 'synthetic_dets.json'), 'w') as f:
        json.dump(dets, f)
    expected = evaluate(gt_dataset, dets)
    expected['gt_rle'] = {str(k): v for k, v in rles.items()}
    with open(os.path.join(OUT, 'synthetic_expected.json'), 'w') as f:
        json.dump(expected, f, indent=1)
    print('synthetic:', len(anns), 'ground truths,', len(dets), 'detections;',
          {k: round(v['stats']['AR@100'], 4) for k, v in expected.items() if k != 'gt_rle'})


def np_counts(m):
    """Uncompressed COCO RLE counts of a mask (column-major, starting with zeros)."""
    flat = m.flatten(order='F')
    counts, prev, run = [], 0, 0
    for v in flat:
        if v != prev:
            counts.append(run); run = 0; prev = v
        run += 1
    counts.append(run)
    return counts


def det(im, m, rng):
    r = enc(m)
    bb = [float(v) for v in mu.toBbox(mu.encode(np.asfortranarray(m.astype(np.uint8))))]
    # detectors' boxes are not the masks' boxes: move them a little
    bb = [bb[0] + float(rng.normal(0, 1.5)), bb[1] + float(rng.normal(0, 1.5)), bb[2] + 1.0, bb[3] + 0.5]
    return {'image_id': im['id'], 'category_id': 1, 'segmentation': r,
            'score': float(np.round(rng.random(), 3)), 'bbox': bb}


def coco_gt(path):
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(path)
    out = {}
    for a in gt.dataset['annotations']:
        c = gt.annToRLE(a)['counts']
        if isinstance(c, list):   # uncompressed RLE: the counts themselves
            c = ','.join(map(str, c))
        elif isinstance(c, bytes):
            c = c.decode()
        out[str(a['id'])] = hashlib.sha256(c.encode()).hexdigest()
    with open(os.path.join(OUT, 'coco_subset_gt_rle_sha256.json'), 'w') as f:
        json.dump(out, f, indent=0, sort_keys=True)
    print('coco-gt:', len(out), 'annotations')


def coco_dets(gt_path, dets_path, out_path, meta):
    with open(gt_path) as f:
        gt_dataset = json.load(f)
    raw = open(dets_path, 'rb').read()
    dets = json.loads(raw)
    expected = evaluate(gt_dataset, dets)
    expected['detections'] = {'file_sha256': hashlib.sha256(raw).hexdigest(), 'count': len(dets)}
    expected['made_with'] = meta
    with open(out_path, 'w') as f:
        json.dump(expected, f, indent=1)
    print('coco-dets:', len(dets), 'detections;', {k: expected[k]['stats'] for k in ('segm', 'bbox')})


if __name__ == '__main__':
    os.makedirs(OUT, exist_ok=True)
    cmd = sys.argv[1]
    if cmd == 'synthetic':
        synthetic()
    elif cmd == 'coco-gt':
        coco_gt(sys.argv[2])
    elif cmd == 'coco-dets':
        coco_dets(sys.argv[2], sys.argv[3], sys.argv[4], ' '.join(sys.argv[5:]))
    else:
        sys.exit(__doc__)
