//! Stage 1 end to end: original image → letterbox → network → the reference's post-processing.

use std::path::Path;

use crate::image::{Letterbox, RgbImage};
use crate::model::{EngineOptions, SegModel};
use crate::postprocess::{postprocess, PostprocessConfig};
use crate::segmentation::Segmentation;
use crate::{Error, Result};

/// The reference call's options; defaults are the FastSAM authors' (imgsz 1024, conf 0.4, iou 0.9, max_det 300).
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentOptions {
    /// Inference size; rounded up to a multiple of the model stride (at least 32) like `check_imgsz` does.
    pub imgsz: u32,
    /// Keep detections whose score is strictly above this (0..=1).
    pub conf: f32,
    /// NMS IoU threshold (0..=1).
    pub iou: f32,
    /// Keep at most this many detections.
    pub max_det: usize,
    /// The thread count of the PyTorch reference to agree with in the last bit: its mask kernels round
    /// differently with 1 thread than with several, which flips pixels whose logit is within ~1e-6 of 0.
    /// Default: the cores here, which is what `torch.get_num_threads()` gives on the same machine.
    pub reference_threads: usize,
}

impl Default for SegmentOptions {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        SegmentOptions { imgsz: 1024, conf: 0.4, iou: 0.9, max_det: 300, reference_threads: cores }
    }
}

impl SegmentOptions {
    pub fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.conf) {
            return Err(Error::invalid("conf", format!("{} (expected a value in [0, 1])", self.conf)));
        }
        if !(0.0..=1.0).contains(&self.iou) {
            return Err(Error::invalid("iou", format!("{} (expected a value in [0, 1])", self.iou)));
        }
        if self.imgsz == 0 || self.imgsz > 8192 {
            return Err(Error::invalid("imgsz", format!("{} (expected 32..=8192)", self.imgsz)));
        }
        Ok(())
    }
}

/// A loaded FastSAM model: `segment` once per image, then prompt the [`Segmentation`] as often as needed.
#[derive(Debug)]
pub struct FastSam {
    model: SegModel,
    options: SegmentOptions,
}

impl FastSam {
    /// Loads an official FastSAM checkpoint (`.pt`) or an Ultralytics-exported `.onnx`; ONNX Runtime uses
    /// every core.
    pub fn load(path: impl AsRef<Path>) -> Result<FastSam> {
        Self::load_with(path, &EngineOptions::default())
    }

    pub fn load_with(path: impl AsRef<Path>, engine: &EngineOptions) -> Result<FastSam> {
        Ok(FastSam { model: SegModel::load_with(path, engine)?, options: SegmentOptions::default() })
    }

    /// A pipeline around a model already loaded (e.g. through [`crate::weights::ModelCache::load_model`]).
    pub fn from_model(model: SegModel) -> FastSam {
        FastSam { model, options: SegmentOptions::default() }
    }

    pub fn with_options(mut self, options: SegmentOptions) -> Result<FastSam> {
        options.validate()?;
        self.options = options;
        Ok(self)
    }

    pub fn options(&self) -> &SegmentOptions {
        &self.options
    }

    pub fn model(&self) -> &SegModel {
        &self.model
    }

    /// Where `image` lands in the network input: the reference's letterbox for this model and options.
    pub fn letterbox(&self, image: &RgbImage) -> Result<Letterbox> {
        let stride = self.model.stride().max(32) as u32;
        match self.model.fixed_input() {
            // A fixed-size export gets the full square padding, as the reference letterboxes non-dynamic ONNX.
            Some((h, w)) => Letterbox::new(image.width, image.height, (h as u32, w as u32), false, stride),
            None => {
                let size = self.options.imgsz.div_ceil(stride).max(1) * stride;
                Letterbox::new(image.width, image.height, (size, size), true, stride)
            }
        }
    }

    /// Every object's mask, box and score, as the reference's "segment everything".
    pub fn segment(&self, image: &RgbImage) -> Result<Segmentation> {
        let start = std::time::Instant::now();
        let letterbox = self.letterbox(image)?;
        let input = letterbox.to_tensor(image)?;
        let letterboxed = start.elapsed();
        let out = self.model.run(&input)?;
        let forward = start.elapsed() - letterboxed;
        let cfg = PostprocessConfig {
            conf: self.options.conf,
            iou: f64::from(self.options.iou),
            max_det: self.options.max_det,
            torch_threads: self.options.reference_threads.max(1),
        };
        let input_hw = (letterbox.input_h() as usize, letterbox.input_w() as usize);
        let orig_hw = (image.height as usize, image.width as usize);
        let detections = postprocess(&out.preds, &out.proto, input_hw, orig_hw, &cfg)?;
        tracing::debug!(
            letterbox_ms = letterboxed.as_secs_f64() * 1e3,
            forward_ms = forward.as_secs_f64() * 1e3,
            postprocess_ms = (start.elapsed() - letterboxed - forward).as_secs_f64() * 1e3,
            masks = detections.items.len(),
            "segmented"
        );
        Ok(Segmentation::new(detections))
    }
}
