//! One image's objects (all of them, or those a prompt or an index picked), as NumPy arrays, COCO RLE and
//! the CLI's JSON. Selections go through the library exactly as `fastsam segment` makes them.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use fastsam::image::RgbImage;
use fastsam::mask::Mask;
use fastsam::output::rendered::{self, Rendered};
use fastsam::output::{cutout, overlay, png};
use fastsam::postprocess::{Detection, Detections};
use fastsam::{BoxPrompt, PointLabel, PointMode, PointPrompt, Prompt, Reason, Segmentation, Selection};
use numpy::{PyArray1, PyArrayMethods};
use pyo3::exceptions::PyIndexError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::{invalid, IntoPy};
use crate::model::ClipSlot;

#[pyclass(frozen, module = "fastsam_rs._native")]
pub struct Results {
    /// What `selection` indexes.
    segmentation: Arc<Segmentation>,
    image: Arc<RgbImage>,
    file_name: String,
    /// `None`: every object of `segmentation`.
    selection: Option<Selection>,
    /// The selected objects, in order (`None`: every object of `segmentation`, not copied).
    view: Option<Detections>,
    clip: Arc<ClipSlot>,
    /// The annotations and JSON, made on first use.
    rendered: OnceLock<Rendered>,
}

impl Results {
    pub fn new(segmentation: Arc<Segmentation>, image: Arc<RgbImage>, file_name: String, clip: Arc<ClipSlot>) -> Self {
        Results { segmentation, image, file_name, selection: None, view: None, clip, rendered: OnceLock::new() }
    }

    /// `selection` of `segmentation`, keeping this result's image, name and CLIP model.
    fn with_selection(&self, segmentation: Arc<Segmentation>, selection: Option<Selection>) -> Results {
        let view = selection.as_ref().map(|s| segmentation.selected_objects(s));
        Results {
            segmentation,
            image: self.image.clone(),
            file_name: self.file_name.clone(),
            selection,
            view,
            clip: self.clip.clone(),
            rendered: OnceLock::new(),
        }
    }

    fn objects(&self) -> &[Detection] {
        match &self.view {
            Some(view) => &view.items,
            None => self.segmentation.objects(),
        }
    }

    fn masks(&self) -> Vec<&Mask> {
        self.objects().iter().map(|d| &d.mask).collect()
    }

    /// The objects shown, as a segmentation of their own (what a further prompt or index selects from).
    fn view_segmentation(&self) -> Arc<Segmentation> {
        match &self.view {
            Some(view) => Arc::new(Segmentation::new(view.clone())),
            None => self.segmentation.clone(),
        }
    }

    /// Why each shown object was selected (none for a merged mask or no selection).
    fn reasons(&self) -> Vec<Reason> {
        match &self.selection {
            Some(s) if s.merged.is_none() => s.reasons.clone(),
            _ => vec![Reason::default(); self.objects().len()],
        }
    }

    fn rendered(&self, py: Python<'_>) -> PyResult<&Rendered> {
        if let Some(r) = self.rendered.get() {
            return Ok(r);
        }
        let r = py.detach(|| self.render(false)).py_err()?;
        Ok(self.rendered.get_or_init(|| r))
    }

    fn render(&self, with_polygons: bool) -> fastsam::Result<Rendered> {
        Rendered::from_selection(&self.segmentation, self.selection.clone(), &self.file_name, with_polygons)
    }
}

fn parse_point_mode(mode: &str) -> PyResult<PointMode> {
    match mode {
        "reference" => Ok(PointMode::Reference),
        "merge" => Ok(PointMode::Merge),
        "per_point" => Ok(PointMode::PerPoint),
        other => Err(invalid("point_mode", format!("{other:?} (expected \"reference\", \"merge\" or \"per_point\")"))),
    }
}

#[pymethods]
impl Results {
    fn __len__(&self) -> usize {
        self.objects().len()
    }

    #[getter]
    fn file_name(&self) -> &str {
        &self.file_name
    }

    /// `(height, width)` of the image.
    #[getter]
    fn orig_shape(&self) -> (u32, u32) {
        (self.image.height, self.image.width)
    }

    /// Boxes `x1, y1, x2, y2` (FastSAM's adjusted boxes, original pixels), `(N, 4)` float32.
    fn xyxy<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let flat: Vec<f32> = self.objects().iter().flat_map(|d| d.bbox).collect();
        Ok(PyArray1::from_vec(py, flat).reshape([self.objects().len(), 4])?.into_any())
    }

    /// Scores, `(N,)` float32.
    fn conf<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f32>> {
        PyArray1::from_vec(py, self.objects().iter().map(|d| d.score).collect())
    }

    /// Masks at the original resolution, `(N, H, W)` bool.
    fn masks_data<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let (w, h) = (self.image.width as usize, self.image.height as usize);
        let n = self.objects().len();
        let data = py.detach(|| {
            let mut data = vec![false; n * h * w];
            for (mask, plane) in self.masks().iter().zip(data.chunks_exact_mut((h * w).max(1))) {
                mask.for_each_run(|row, a, b| {
                    plane[row as usize * w + a as usize..row as usize * w + b as usize].fill(true)
                });
            }
            data
        });
        Ok(PyArray1::from_vec(py, data).reshape([n, h, w])?.into_any())
    }

    /// COCO compressed RLE of each mask (`{"size": [h, w], "counts": str}`), as in the JSON.
    fn rle<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let rendered = self.rendered(py)?;
        rendered
            .annotations
            .annotations
            .iter()
            .map(|a| {
                let d = PyDict::new(py);
                d.set_item("size", a.segmentation.size.to_vec())?;
                d.set_item("counts", &a.segmentation.counts)?;
                Ok(d)
            })
            .collect()
    }

    /// The SA-1B-style JSON `fastsam segment` writes (byte for byte for a file source).
    #[pyo3(signature = (polygons = false))]
    fn to_json(&self, py: Python<'_>, polygons: bool) -> PyResult<String> {
        let json =
            if polygons { py.detach(|| self.render(true)).py_err()?.json } else { self.rendered(py)?.json.clone() };
        String::from_utf8(json).map_err(|e| invalid("annotations", e.to_string()))
    }

    /// Writes the JSON to `path` (whole or not at all).
    fn save_json(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        let rendered = self.rendered(py)?;
        py.detach(|| fastsam::weights::download::write_atomically(&path, &rendered.json)).py_err()
    }

    /// The image with each mask coloured and outlined, as a PNG.
    fn save_overlay(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        py.detach(|| {
            let png = png::encode_rgb(&overlay::overlay(&self.image, &self.masks())?)?;
            fastsam::weights::download::write_atomically(&path, &png)
        })
        .py_err()
    }

    /// The masks' pixels on a transparent background, cropped to their union, as an RGBA PNG; `False` (and
    /// nothing written) when no pixel is selected.
    fn save_cutout(&self, py: Python<'_>, path: PathBuf) -> PyResult<bool> {
        py.detach(|| match cutout::cutout(&self.image, &self.masks())? {
            Some(picture) => {
                fastsam::weights::download::write_atomically(&path, &png::encode_rgba(&picture)?).map(|()| true)
            }
            None => Ok(false),
        })
        .py_err()
    }

    /// The objects at `indices` (each in `0..len`), in that order.
    fn subset(&self, indices: Vec<usize>) -> PyResult<Results> {
        let n = self.objects().len();
        if let Some(&bad) = indices.iter().find(|&&i| i >= n) {
            return Err(PyIndexError::new_err(format!("index {bad} is out of range for {n} object(s)")));
        }
        let reasons = self.reasons();
        let reasons = indices.iter().map(|&i| reasons[i].clone()).collect();
        let selection = Selection { indices, reasons, merged: None };
        Ok(self.with_selection(self.view_segmentation(), Some(selection)))
    }

    /// The objects a prompt selects among these, as `fastsam segment` selects them (the network is not run
    /// again). Points are `(x, y)` with labels 1 (foreground) / 0 (background); boxes `(x1, y1, x2, y2)`.
    #[pyo3(signature = (points, labels, boxes, texts, point_mode, text_threshold, text_top_k))]
    #[allow(clippy::too_many_arguments)]
    fn select(
        &self,
        py: Python<'_>,
        points: Vec<[f64; 2]>,
        labels: Vec<i64>,
        boxes: Vec<[f64; 4]>,
        texts: Vec<String>,
        point_mode: &str,
        text_threshold: Option<f32>,
        text_top_k: Option<i64>,
    ) -> PyResult<Results> {
        if labels.len() != points.len() {
            return Err(invalid("labels", format!("{} label(s) for {} point(s)", labels.len(), points.len())));
        }
        let points = points
            .iter()
            .zip(&labels)
            .map(|(&[x, y], &label)| Ok(PointPrompt { x, y, label: PointLabel::from_i64(label)? }))
            .collect::<fastsam::Result<Vec<_>>>()
            .py_err()?;
        let text_top_k = text_top_k
            .map(|k| usize::try_from(k).map_err(|_| invalid("text top-k", format!("{k} (expected at least 1)"))))
            .transpose()?;
        let prompt = Prompt {
            points,
            boxes: boxes.iter().map(|&[x1, y1, x2, y2]| BoxPrompt { x1, y1, x2, y2 }).collect(),
            texts,
            point_mode: parse_point_mode(point_mode)?,
            text_threshold,
            text_top_k,
        };
        prompt.validate().py_err()?;
        let base = self.view_segmentation();
        let selection = py
            .detach(|| {
                let clip = if prompt.texts.is_empty() { None } else { Some(self.clip.get()?) };
                rendered::select(&base, &self.image, clip.as_deref(), &prompt)
            })
            .py_err()?;
        Ok(self.with_selection(base, selection))
    }
}
