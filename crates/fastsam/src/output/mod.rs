//! What users take away: COCO RLE, polygons, overlays and cut-outs.
