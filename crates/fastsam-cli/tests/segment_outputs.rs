//! The `fastsam` binary end to end: every output format of `segment`, batch runs over a folder (a corrupt
//! image in the middle, skip-existing, --overwrite), and `weights path|list`.
//!
//! Model: tests/fixtures/cli/fastsam-s-busy.pt (tools/golden/cli_fixture.py), a tiny FastSAM-s-shaped
//! checkpoint whose every anchor scores high, so there are masks to write. Images: COCO val2017 photos from
//! the shared data. Each test uses its own FASTSAM_HOME so the graph cache starts empty.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{mask_of, rasterise, read_json, repo, stderr, temp_dir};
use serde_json::Value;

fn model() -> PathBuf {
    repo().join("tests/fixtures/cli/fastsam-s-busy.pt")
}

fn coco_image(name: &str) -> PathBuf {
    common::shared().join("data/coco/val2017").join(name)
}

const IMG_A: &str = "000000000139.jpg";
const IMG_B: &str = "000000018575.jpg";

/// `fastsam segment ARGS... -m <fixture> --imgsz 320 --max-det 4` with a private cache.
fn segment(home: &Path, args: &[&str]) -> Output {
    let mut all = vec!["segment"];
    all.extend_from_slice(args);
    let model = model();
    all.extend_from_slice(&["-m", model.to_str().unwrap(), "--imgsz", "320", "--max-det", "4"]);
    common::fastsam(home, &all)
}

#[test]
fn single_image_json_polygons_overlay_cutout_and_coco() {
    let dir = temp_dir("single");
    let (json, overlay, cutout, coco) =
        (dir.join("a.json"), dir.join("a.png"), dir.join("a.cut.png"), dir.join("coco.json"));
    let out = segment(
        &dir,
        &[
            coco_image(IMG_A).to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
            "--polygons",
            "--overlay",
            overlay.to_str().unwrap(),
            "--cutout",
            cutout.to_str().unwrap(),
            "--coco",
            coco.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let file = read_json(&json);
    assert_eq!(file["image"]["file_name"], IMG_A);
    assert_eq!((file["image"]["width"].as_u64(), file["image"]["height"].as_u64()), (Some(640), Some(426)));
    let annotations = file["annotations"].as_array().unwrap();
    assert!(!annotations.is_empty());

    let mut union = vec![false; 640 * 426];
    for a in annotations {
        let mask = mask_of(a);
        let polys: Vec<Vec<f64>> = serde_json::from_value(a["polygons"].clone()).unwrap();
        assert!(polys.iter().all(|p| p.len() >= 6 && p.len() % 2 == 0));
        let truth = mask.to_full();
        let iou = common::iou(&rasterise(&polys, 640, 426), &truth);
        assert!(iou > 0.9, "polygon IoU {iou}");
        for (u, t) in union.iter_mut().zip(&truth) {
            *u |= *t != 0;
        }
    }

    let overlay_png = image::open(&overlay).unwrap();
    assert_eq!((overlay_png.width(), overlay_png.height()), (640, 426));
    let cut = image::open(&cutout).unwrap().to_rgba8();
    let xs: Vec<usize> = (0..640).filter(|&x| (0..426).any(|y| union[y * 640 + x])).collect();
    let ys: Vec<usize> = (0..426).filter(|&y| (0..640).any(|x| union[y * 640 + x])).collect();
    let (x0, y0) = (xs[0], ys[0]);
    assert_eq!((cut.width() as usize, cut.height() as usize), (xs.len(), ys.len()));
    let photo = image::open(coco_image(IMG_A)).unwrap().to_rgb8();
    for (x, y, px) in cut.enumerate_pixels() {
        let (ox, oy) = (x as usize + x0, y as usize + y0);
        if union[oy * 640 + ox] {
            assert_eq!(px.0[3], 255);
            // The photo is decoded by another decoder here: allow JPEG decoder differences.
            let orig = photo.get_pixel(ox as u32, oy as u32).0;
            assert!((0..3).all(|c| (i32::from(px.0[c]) - i32::from(orig[c])).abs() <= 8));
        } else {
            assert_eq!(px.0, [0, 0, 0, 0]);
        }
    }

    let results = read_json(&coco);
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), annotations.len());
    for (r, a) in results.iter().zip(annotations) {
        assert_eq!(r["image_id"], 139);
        assert_eq!(r["category_id"], 1);
        assert_eq!(r["segmentation"], a["segmentation"]);
        assert_eq!(r["score"], a["score"]);
        assert_eq!(r["bbox"], a["bbox"]);
    }
    let images = read_json(&dir.join("coco.images.json"));
    assert_eq!(images[0]["id"], 139);
    assert_eq!(images[0]["file_name"], IMG_A);
}

#[test]
fn json_goes_to_stdout_by_default_and_a_point_selects() {
    let dir = temp_dir("stdout");
    let out = segment(&dir, &[coco_image(IMG_A).to_str().unwrap(), "--point", "320,200"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let file: Value = serde_json::from_slice(&out.stdout).unwrap();
    let annotations = file["annotations"].as_array().unwrap();
    assert!(!annotations.is_empty());
    for a in annotations {
        assert!(mask_of(a).get(320, 200), "a selected mask contains the point");
    }
}

#[test]
fn batch_reports_a_corrupt_image_and_writes_the_others() {
    let dir = temp_dir("batch");
    let input = dir.join("in");
    std::fs::create_dir_all(input.join("sub")).unwrap();
    std::fs::copy(coco_image(IMG_A), input.join("a.jpg")).unwrap();
    let jpeg = std::fs::read(coco_image(IMG_B)).unwrap();
    // A JPEG by content, truncated: found by the walk, fails to decode.
    std::fs::write(input.join("b_broken.jpg"), &jpeg[..4000]).unwrap();
    // No image extension: recognised by content.
    std::fs::write(input.join("sub").join("c.data"), &jpeg).unwrap();
    std::fs::write(input.join("notes.txt"), b"not an image").unwrap();
    let out_dir = dir.join("out");

    let args = [input.to_str().unwrap(), "--out", out_dir.to_str().unwrap(), "--overlay", "--cutout"];
    let out = segment(&dir, &args);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("b_broken.jpg") && err.contains("1 of 3 image(s) failed"), "{err}");
    for written in ["a.json", "a.overlay.png", "a.cutout.png", "sub/c.json", "sub/c.overlay.png"] {
        assert!(out_dir.join(written).is_file(), "{written} missing; {err}");
    }
    assert!(!out_dir.join("b_broken.json").exists());
    assert_eq!(read_json(&out_dir.join("sub/c.json"))["image"]["file_name"], "c.data");
    let leftovers: Vec<_> = walk(&out_dir).into_iter().filter(|p| p.to_string_lossy().contains(".tmp-")).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Second run: the good images are skipped (their JSON untouched), the bad one is tried and fails again.
    let stamp = std::fs::metadata(out_dir.join("a.json")).unwrap().modified().unwrap();
    let out = segment(&dir, &args);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("skipping 2 image(s)"), "{}", stderr(&out));
    assert_eq!(std::fs::metadata(out_dir.join("a.json")).unwrap().modified().unwrap(), stamp);

    // --overwrite redoes them.
    std::fs::remove_file(input.join("b_broken.jpg")).unwrap();
    std::fs::write(out_dir.join("a.json"), b"{}").unwrap();
    let mut redo = args.to_vec();
    redo.push("--overwrite");
    let out = segment(&dir, &redo);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(read_json(&out_dir.join("a.json"))["image"]["file_name"], "a.jpg");
}

#[test]
fn batch_coco_results_use_numeric_stems_as_image_ids() {
    let dir = temp_dir("coco");
    let out_dir = dir.join("out");
    let coco = out_dir.join("coco.json");
    let args = [
        coco_image(IMG_A).to_str().unwrap().to_string(),
        coco_image(IMG_B).to_str().unwrap().to_string(),
        "--out".into(),
        out_dir.to_str().unwrap().into(),
        "--coco".into(),
        coco.to_str().unwrap().into(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = segment(&dir, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let results = read_json(&coco);
    let ids: Vec<u64> = results.as_array().unwrap().iter().map(|r| r["image_id"].as_u64().unwrap()).collect();
    assert!(ids.contains(&139) && ids.contains(&18575), "{ids:?}");
    let per_image_a = read_json(&out_dir.join("000000000139.json"))["annotations"].as_array().unwrap().len();
    assert_eq!(ids.iter().filter(|&&i| i == 139).count(), per_image_a);
}

#[test]
fn several_images_need_out_and_overlay_needs_a_name_for_one_image() {
    let dir = temp_dir("usage");
    let (a, b) = (coco_image(IMG_A), coco_image(IMG_B));
    let out = segment(&dir, &[a.to_str().unwrap(), b.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--out DIR"), "{}", stderr(&out));
    let out = segment(&dir, &[a.to_str().unwrap(), "--overlay"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--overlay needs a file name"), "{}", stderr(&out));
}

#[test]
fn weights_path_and_list_use_fastsam_home() {
    let dir = temp_dir("weights");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_fastsam"))
            .arg("weights")
            .args(args)
            .env("FASTSAM_HOME", &dir)
            .output()
            .unwrap()
    };
    let out = run(&["path", "fastsam-x"]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), dir.join("FastSAM-x.pt").display().to_string());
    let out = run(&["list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("fastsam-s") && text.contains("23851578") && text.contains("missing"), "{text}");
    let out = run(&["path", "fastsam-m"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("fastsam-s, fastsam-x, vit-b-32"));
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
