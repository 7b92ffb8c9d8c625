//! Helpers shared by the tests that run the `fastsam` binary.
#![allow(dead_code)] // Each test file uses its own subset.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fastsam::mask::Mask;
use fastsam::output::rle::Rle;
use serde_json::Value;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `<repo>/../shared`, or `$FASTSAM_SHARED` where the checkout is laid out differently.
pub fn shared() -> PathBuf {
    std::env::var_os("FASTSAM_SHARED").map_or_else(|| repo().join("../shared"), PathBuf::from)
}

/// A fresh directory under the system's temporary one, private to this test process.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fastsam-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `fastsam ARGS...` with a private weights cache under `home`.
pub fn fastsam(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fastsam"))
        .args(args)
        .env("FASTSAM_HOME", home.join("cache"))
        .env_remove("FASTSAM_MIRROR")
        .output()
        .unwrap()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

/// A `.json` or `.json.gz` file.
pub fn read_json_maybe_gz(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if path.extension().is_some_and(|e| e == "gz") {
        serde_json::from_reader(flate2::read::GzDecoder::new(&bytes[..])).unwrap()
    } else {
        serde_json::from_slice(&bytes).unwrap()
    }
}

/// The mask of an SA-1B-style annotation (its COCO RLE).
pub fn mask_of(annotation: &Value) -> Mask {
    let seg = &annotation["segmentation"];
    let (h, w) = (seg["size"][0].as_u64().unwrap() as u32, seg["size"][1].as_u64().unwrap() as u32);
    Rle::from_string(h, w, seg["counts"].as_str().unwrap()).unwrap().decode().unwrap()
}

/// Even-odd fill of COCO polygons at pixel centres: an independent rasteriser for checking the polygons.
pub fn rasterise(polygons: &[Vec<f64>], w: u32, h: u32) -> Vec<bool> {
    let mut out = vec![false; (w * h) as usize];
    for poly in polygons {
        let pts: Vec<(f64, f64)> = poly.chunks(2).map(|c| (c[0], c[1])).collect();
        for y in 0..h {
            let cy = f64::from(y) + 0.5;
            let mut xs: Vec<f64> = Vec::new();
            for i in 0..pts.len() {
                let (a, b) = (pts[i], pts[(i + 1) % pts.len()]);
                if (a.1 <= cy) != (b.1 <= cy) {
                    xs.push(a.0 + (cy - a.1) * (b.0 - a.0) / (b.1 - a.1));
                }
            }
            xs.sort_by(f64::total_cmp);
            for pair in xs.chunks(2) {
                for x in 0..w {
                    let cx = f64::from(x) + 0.5;
                    if pair.len() == 2 && cx > pair[0] && cx < pair[1] {
                        let i = (y * w + x) as usize;
                        out[i] = !out[i];
                    }
                }
            }
        }
    }
    out
}

/// Intersection over union of a filled polygon set and a mask.
pub fn iou(filled: &[bool], mask: &[u8]) -> f64 {
    let inter = filled.iter().zip(mask).filter(|(f, t)| **f && **t != 0).count();
    let union = filled.iter().zip(mask).filter(|(f, t)| **f || **t != 0).count();
    if union == 0 {
        1.0
    } else {
        inter as f64 / union as f64
    }
}
