//! What users take away: COCO RLE, polygons, overlays and cut-outs, the JSON files and where they go.

pub mod annotations;
pub mod coco;
pub mod cutout;
pub mod layout;
pub mod overlay;
pub mod png;
pub mod polygons;
pub mod rendered;
pub mod rle;
