//! The select options beyond the reference (`point_mode`, `text_threshold`, `text_top_k`, `smooth`) over HTTP,
//! against the library on the same model and image. The library's selections themselves are held to the
//! reference's goldens by crates/fastsam-cli/tests/prompt_options_cli.rs; here the server must give exactly
//! them, with each object's reason (`text`, `text_score`, `point_index`), and cache the smoothed masks.

mod common;

use common::{assert_same_annotations, bus_jpg, clip_path, inside, masks_of, model_path, png_size, repo, Server};
use fastsam::clip::Clip;
use fastsam::output::annotations::Annotation;
use fastsam::{FastSam, PointLabel, PointMode, Prompt, RgbImage, Segmentation};
use fastsam_server::api::{AnnotationsResponse, SelectResponse, UploadResponse};
use fastsam_server::{ServerConfig, TextModel};
use serde_json::json;

/// The library's side: what a select over `seg` gives for `prompt`.
struct Library {
    image: RgbImage,
    raw: Segmentation,
    smoothed: Segmentation,
    clip: Clip,
}

impl Library {
    fn load() -> Library {
        let model = FastSam::load(model_path()).unwrap();
        let image = fastsam::image::open(repo().join("examples/bus.jpg"), &Default::default()).unwrap();
        let raw = model.segment(&image).unwrap();
        let smoothed = raw.smoothed().unwrap();
        Library { image, raw, smoothed, clip: Clip::load(clip_path()).unwrap() }
    }

    fn segmentation(&self, smooth: bool) -> &Segmentation {
        if smooth {
            &self.smoothed
        } else {
            &self.raw
        }
    }

    fn select(&self, prompt: &Prompt, smooth: bool) -> (Vec<usize>, Vec<Annotation>) {
        let seg = self.segmentation(smooth);
        let selection = seg.select_with_clip(prompt, &self.image, &self.clip).unwrap();
        let annotations = seg.selection_annotations(&selection, "bus.jpg").annotations;
        (selection.indices, annotations)
    }
}

fn select(server: &Server, id: &str, body: &serde_json::Value) -> SelectResponse {
    let res = server.post_json(&format!("/v1/images/{id}/select"), &body.to_string());
    assert_eq!(res.status, 200, "{body}: {}", res.text());
    serde_json::from_slice(&res.body).unwrap()
}

#[test]
fn select_options_give_the_librarys_selections_with_their_reasons() {
    let server = Server::start_with_text(ServerConfig::default(), TextModel::load(Some(clip_path())).unwrap());
    let res = server.upload_multipart("bus.jpg", &bus_jpg());
    assert_eq!(res.status, 200, "{}", res.text());
    let upload: UploadResponse = serde_json::from_slice(&res.body).unwrap();
    let id = upload.id.as_str();
    let library = Library::load();
    assert!(library.raw.len() >= 4, "the test model finds several masks on bus.jpg");

    // A threshold that keeps some masks and drops others: the third-best cosine of the phrase.
    let scores = library.raw.text_scores("a bus", &library.image, &library.clip, library.raw.len()).unwrap();
    let third = scores[2].1;
    let masks = masks_of(&upload);
    let (x0, y0) = inside(&masks[0]);
    let (x1, y1) = inside(&masks[masks.len() - 1]);

    let text = |phrase: &str| Prompt { texts: vec![phrase.to_string()], ..Prompt::default() };
    let points = |point_mode: PointMode| Prompt {
        point_mode,
        ..Prompt::default().point(f64::from(x0), f64::from(y0), PointLabel::Foreground).point(
            f64::from(x1),
            f64::from(y1),
            PointLabel::Foreground,
        )
    };
    let cases = [
        (json!({"texts": ["a bus"], "text_top_k": 3}), Prompt { text_top_k: Some(3), ..text("a bus") }, false),
        (
            json!({"texts": ["a bus"], "text_threshold": third}),
            Prompt { text_threshold: Some(third), ..text("a bus") },
            false,
        ),
        (
            json!({"texts": ["a bus", "a person"], "text_threshold": -1.0, "text_top_k": 2}),
            Prompt {
                texts: vec!["a bus".into(), "a person".into()],
                text_threshold: Some(-1.0),
                text_top_k: Some(2),
                ..Prompt::default()
            },
            false,
        ),
        (json!({"points": [[x0, y0], [x1, y1]], "point_mode": "per_point"}), points(PointMode::PerPoint), false),
        (json!({"points": [[x0, y0], [x1, y1]], "point_mode": "merge"}), points(PointMode::Merge), false),
        (json!({"points": [[x0, y0], [x1, y1]], "point_mode": "reference"}), points(PointMode::Reference), false),
        (
            json!({"points": [[x0, y0], [x1, y1]], "point_mode": "per_point", "smooth": true}),
            points(PointMode::PerPoint),
            true,
        ),
        (
            json!({"texts": ["a bus"], "text_top_k": 3, "smooth": true}),
            Prompt { text_top_k: Some(3), ..text("a bus") },
            true,
        ),
    ];
    for (body, prompt, smooth) in &cases {
        let got = select(&server, id, body);
        let (indices, want) = library.select(prompt, *smooth);
        assert_eq!(got.indices, indices, "{body}");
        assert_same_annotations(&got.annotations, &want);
        assert!(!got.annotations.is_empty(), "{body}: selects something");
    }

    // The reasons are there and say what was asked.
    let top3 = select(&server, id, &cases[0].0).annotations;
    assert_eq!(top3.len(), 3);
    let cosines: Vec<f64> = top3.iter().map(|a| a.text_score.expect("text_score on a text selection")).collect();
    assert!(cosines.windows(2).all(|w| w[0] >= w[1]), "best first: {cosines:?}");
    assert!(top3.iter().all(|a| a.text.as_deref() == Some("a bus") && a.point_index.is_none()));
    let above = select(&server, id, &cases[1].0).annotations;
    assert!(above.len() >= 3 && above.len() < library.raw.len(), "{} of {}", above.len(), library.raw.len());
    assert!(above.iter().all(|a| a.text_score.unwrap() as f32 >= third));
    let per_point = select(&server, id, &cases[3].0).annotations;
    assert!(per_point.iter().all(|a| matches!(a.point_index, Some(0 | 1)) && a.text.is_none()), "{per_point:?}");

    // The smoothed annotations, in the upload's order, and the renders from them.
    let res = server.get(&format!("/v1/images/{id}/annotations?smooth=true"));
    assert_eq!(res.status, 200, "{}", res.text());
    let smoothed: AnnotationsResponse = serde_json::from_slice(&res.body).unwrap();
    assert!(smoothed.smooth);
    assert_same_annotations(&smoothed.annotations, &library.smoothed.annotations("bus.jpg").annotations);
    let raw: AnnotationsResponse =
        serde_json::from_slice(&server.get(&format!("/v1/images/{id}/annotations")).body).unwrap();
    assert!(!raw.smooth);
    assert_same_annotations(&raw.annotations, &upload.annotations);
    assert_ne!(
        smoothed.annotations.iter().map(|a| &a.segmentation).collect::<Vec<_>>(),
        raw.annotations.iter().map(|a| &a.segmentation).collect::<Vec<_>>(),
        "smoothing changes some mask"
    );
    let res = server.get(&format!("/v1/images/{id}/cutout.png?ids=0&smooth=true"));
    assert_eq!(res.status, 200, "{}", res.text());
    let [bx0, by0, bx1, by1] = library.smoothed.objects()[0].mask.bbox().unwrap();
    assert_eq!(png_size(&res.body), (bx1 - bx0, by1 - by0));
    assert_eq!(png_size(&server.get(&format!("/v1/images/{id}/overlay.png?smooth=true")).body), (810, 1080));

    // The cache counts the smoothed copy beside the raw one.
    let cached = server.get("/healthz").json()["cache"]["bytes"].as_u64().unwrap();
    let fresh = server.upload_raw(&bus_jpg());
    assert_eq!(fresh.status, 200);
    let both = server.get("/healthz").json()["cache"]["bytes"].as_u64().unwrap();
    assert!(cached > both - cached, "smoothed entry {cached} B outweighs a raw one {} B", both - cached);
    server.stop();
}

#[test]
fn bad_select_options_are_400s_naming_the_field() {
    let server = Server::start_with_text(ServerConfig::default(), TextModel::load(Some(clip_path())).unwrap());
    let upload: UploadResponse = serde_json::from_slice(&server.upload_raw(&bus_jpg()).body).unwrap();
    let id = upload.id.as_str();
    for (body, message) in [
        (r#"{"texts": ["a bus"], "text_threshold": 1.5}"#, "text_threshold 1.5 is outside -1 to 1"),
        (r#"{"texts": ["a bus"], "text_top_k": 0}"#, "text_top_k 0"),
        (r#"{"points": [[1, 2]], "text_top_k": 2}"#, "text_top_k needs texts"),
        (r#"{"points": [[1, 2]], "point_mode": "nearest"}"#, "unknown variant"),
        (r#"{"points": [[1, 2]], "point_mode": "per_point", "merge": true}"#, "contradicts"),
        (r#"{"boxes": [[1, 2, 3, 4]], "point_mode": "per_point"}"#, "needs points"),
        (r#"{"points": [[1, 2]], "smooth": 1}"#, "invalid type"),
    ] {
        let err = server.post_json(&format!("/v1/images/{id}/select"), body).error(400);
        assert!(err.contains(message), "{body}: {err}");
    }
    for query in ["annotations?smooth=maybe", "overlay.png?smooth=2", "cutout.png?ids=0&smooth=yes"] {
        let err = server.get(&format!("/v1/images/{id}/{query}")).error(400);
        assert!(err.contains("invalid query"), "{query}: {err}");
    }
    server.get("/v1/images/0123456789abcdef/annotations?smooth=true").error(404);
    server.stop();
}
