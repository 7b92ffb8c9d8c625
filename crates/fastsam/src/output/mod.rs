//! What users take away: COCO RLE, polygons, overlays and cut-outs.

pub mod annotations;
pub mod coco;
pub mod cutout;
pub mod overlay;
pub mod png;
pub mod polygons;
pub mod rle;
