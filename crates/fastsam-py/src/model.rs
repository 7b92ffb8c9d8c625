//! A loaded FastSAM model (and, on the first text prompt, its CLIP model), loaded as `fastsam segment` loads
//! them: a path or a known name resolved through the weights cache, the checkpoint's graph cached by hash.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use fastsam::clip::Clip;
use fastsam::model::{ConvAlgorithm, EngineOptions};
use fastsam::weights::ModelCache;
use fastsam::{FastSam, SegmentOptions};
use pyo3::prelude::*;

use crate::errors::{invalid, IntoPy};
use crate::image::Image;
use crate::results::Results;

/// The CLIP model a FastSAM model answers text prompts with, loaded on first use.
pub struct ClipSlot {
    spec: Option<String>,
    engine: EngineOptions,
    loaded: Mutex<Option<Arc<Clip>>>,
}

impl ClipSlot {
    /// The loaded CLIP model (loading it now if needed). Call without the GIL: loading takes seconds.
    pub fn get(&self) -> fastsam::Result<Arc<Clip>> {
        let Some(spec) = &self.spec else {
            return Err(fastsam::Error::invalid(
                "prompt",
                "text prompts need a CLIP model: FastSAM(..., clip=\"vit-b-32\" or a path)",
            ));
        };
        let mut slot = self.loaded.lock().map_err(|_| fastsam::Error::Runtime("loading CLIP panicked".into()))?;
        if let Some(clip) = slot.as_ref() {
            return Ok(clip.clone());
        }
        let path = ModelCache::from_env()?.resolve(spec, &mut |_| {})?;
        let clip = Arc::new(Clip::load_with(&path, &self.engine)?);
        *slot = Some(clip.clone());
        Ok(clip)
    }
}

#[pyclass(frozen, module = "fastsam_rs._native")]
pub struct Model {
    model: Arc<FastSam>,
    clip: Arc<ClipSlot>,
    path: PathBuf,
}

fn conv_algorithm(conv: &str) -> PyResult<ConvAlgorithm> {
    match conv {
        "winograd" => Ok(ConvAlgorithm::default()),
        "direct" => Ok(ConvAlgorithm::Direct),
        other => Err(invalid("conv", format!("{other:?} (expected \"winograd\" or \"direct\")"))),
    }
}

/// A count given from Python: non-negative (`what` names it in the error).
fn count(what: &'static str, v: i64) -> PyResult<usize> {
    usize::try_from(v).map_err(|_| invalid(what, format!("{v} (expected a count >= 0)")))
}

#[pymethods]
impl Model {
    #[new]
    #[pyo3(signature = (model, *, imgsz, conf, iou, max_det, threads, conv, clip))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        model: String,
        imgsz: i64,
        conf: f32,
        iou: f32,
        max_det: i64,
        threads: Option<i64>,
        conv: &str,
        clip: Option<String>,
    ) -> PyResult<Model> {
        let imgsz = u32::try_from(imgsz).map_err(|_| invalid("imgsz", format!("{imgsz} (expected 32..=8192)")))?;
        let options = SegmentOptions { imgsz, conf, iou, max_det: count("max_det", max_det)?, ..Default::default() };
        options.validate().py_err()?;
        let threads = threads.map(|t| count("threads", t)).transpose()?.filter(|&t| t > 0);
        let engine = EngineOptions { intra_threads: threads, conv: conv_algorithm(conv)?, ..EngineOptions::default() };
        let (model, path) = py
            .detach(|| {
                let cache = ModelCache::from_env()?;
                let path = cache.resolve(&model, &mut |_| {})?;
                let model = FastSam::from_model(cache.load_model(&path, &engine)?).with_options(options)?;
                Ok((model, path))
            })
            .py_err()?;
        let clip_engine = EngineOptions { intra_threads: threads, ..EngineOptions::default() };
        let clip = ClipSlot { spec: clip, engine: clip_engine, loaded: Mutex::new(None) };
        Ok(Model { model: Arc::new(model), clip: Arc::new(clip), path })
    }

    /// "Segment everything" on one image; `smooth` smooths every mask (the FastSAM authors' `better_quality`).
    fn segment(&self, py: Python<'_>, image: &Image, smooth: bool) -> PyResult<Results> {
        let segmentation = py
            .detach(|| {
                let segmentation = self.model.segment(&image.pixels)?;
                if smooth {
                    segmentation.smoothed()
                } else {
                    Ok(segmentation)
                }
            })
            .py_err()?;
        Ok(Results::new(Arc::new(segmentation), image.pixels.clone(), image.file_name.clone(), self.clip.clone()))
    }

    /// The model file in use (a name resolves to its file in the weights cache).
    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }
}

/// Where the host Python's `onnxruntime` keeps its shared library (its `capi/` folder): searched first after
/// `$ORT_DYLIB_PATH`, so the package's own dependency is used with nothing to set up.
#[pyfunction]
pub fn register_onnxruntime_dir(dir: PathBuf) {
    fastsam::model::runtime::register_library_dir(dir);
}

/// Loads ONNX Runtime if it is not yet loaded, and returns the path of the library in use.
#[pyfunction]
pub fn onnxruntime_library(py: Python<'_>) -> PyResult<PathBuf> {
    py.detach(|| fastsam::model::runtime::init().map(|p| p.to_path_buf())).py_err()
}
