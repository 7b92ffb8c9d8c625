//! Images in: files (decoded by the library, as `fastsam segment` decodes them) and NumPy arrays.

use std::sync::Arc;

use fastsam::image::{DecodeLimits, RgbImage};
use numpy::PyReadonlyArray3;
use pyo3::prelude::*;

use crate::errors::{invalid, IntoPy};

/// Decoded pixels (RGB) and the file name the JSON reports (empty for arrays).
#[pyclass(frozen, module = "fastsam_rs._native")]
pub struct Image {
    pub pixels: Arc<RgbImage>,
    pub file_name: String,
}

#[pymethods]
impl Image {
    /// Reads and decodes an image file.
    #[staticmethod]
    fn open(py: Python<'_>, path: std::path::PathBuf) -> PyResult<Image> {
        let pixels = py.detach(|| fastsam::image::open(&path, &DecodeLimits::default())).py_err()?;
        Ok(Image { pixels: Arc::new(pixels), file_name: fastsam::output::layout::file_name(&path) })
    }

    /// Decodes an encoded image; `name` is the file's path or name (errors name it; `.tif` names select the
    /// reference's TIFF reading, as for files).
    #[staticmethod]
    fn decode(py: Python<'_>, data: &[u8], name: &str) -> PyResult<Image> {
        let pixels = py.detach(|| fastsam::image::decode(data, name, &DecodeLimits::default())).py_err()?;
        let file_name = fastsam::output::layout::file_name(std::path::Path::new(name));
        Ok(Image { pixels: Arc::new(pixels), file_name })
    }

    /// An H×W×3 `uint8` array, channels in BGR order (`bgr=True`, OpenCV's) or RGB.
    #[staticmethod]
    #[pyo3(signature = (array, bgr, file_name = String::new()))]
    fn from_array(array: PyReadonlyArray3<'_, u8>, bgr: bool, file_name: String) -> PyResult<Image> {
        let view = array.as_array();
        let (h, w, c) = view.dim();
        if c != 3 {
            return Err(invalid("image array", format!("shape ({h}, {w}, {c}): expected (height, width, 3)")));
        }
        let (Ok(width), Ok(height)) = (u32::try_from(w), u32::try_from(h)) else {
            return Err(invalid("image array", format!("{w}x{h} is too large")));
        };
        let order: [usize; 3] = if bgr { [2, 1, 0] } else { [0, 1, 2] };
        let mut data = Vec::with_capacity(h * w * 3);
        // Any strides (slices, channel flips): read through the view, not the buffer.
        for row in view.outer_iter() {
            for px in row.outer_iter() {
                data.extend(order.map(|k| px[k]));
            }
        }
        let pixels = RgbImage::new(width, height, data).py_err()?;
        Ok(Image { pixels: Arc::new(pixels), file_name })
    }

    #[getter]
    fn width(&self) -> u32 {
        self.pixels.width
    }

    #[getter]
    fn height(&self) -> u32 {
        self.pixels.height
    }

    #[getter]
    fn file_name(&self) -> &str {
        &self.file_name
    }
}
