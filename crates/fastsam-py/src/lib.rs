//! `fastsam_rs._native`: the Python extension module over the `fastsam` library. It only converts: Python
//! values in, library calls (with the GIL released while they run), NumPy arrays and strings out. The typed,
//! documented API users import is the Python layer in `python/fastsam_rs/`.

mod batch;
mod errors;
mod image;
mod model;
mod results;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<image::Image>()?;
    m.add_class::<model::Model>()?;
    m.add_class::<results::Results>()?;
    m.add_function(wrap_pyfunction!(model::register_onnxruntime_dir, m)?)?;
    m.add_function(wrap_pyfunction!(model::onnxruntime_library, m)?)?;
    m.add_function(wrap_pyfunction!(batch::plan_batch, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
