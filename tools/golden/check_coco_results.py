"""Loads `fastsam segment ... --coco OUT.json` with pycocotools 2.0.11 (COCO(gt).loadRes) and compares each
--polygons annotation, rasterised by pycocotools, with its RLE. A manual check, not used by tests.
Usage: python tools/golden/check_coco_results.py GT.json RESULTS.json [PER_IMAGE.json ...]
"""
import json, sys, numpy as np
from pycocotools.coco import COCO
from pycocotools import mask as mu
gt = COCO(sys.argv[1])
res = gt.loadRes(sys.argv[2])
print('images in results:', len(set(a['image_id'] for a in res.dataset['annotations'])), 'annotations:', len(res.dataset['annotations']))
# polygons (from a --polygons JSON) rasterised by pycocotools vs the RLE
ious = []
for f in sys.argv[3:]:
    d = json.load(open(f))
    h, w = d['image']['height'], d['image']['width']
    for a in d['annotations']:
        if not a['polygons']: continue
        m = mu.decode(mu.merge(mu.frPyObjects(a['polygons'], h, w)))
        r = mu.decode(a['segmentation'])
        ious.append((m & r).sum() / max(1, (m | r).sum()))
if ious: print('polygon IoU vs RLE (pycocotools raster): n=%d min=%.4f mean=%.4f' % (len(ious), min(ious), np.mean(ious)))
