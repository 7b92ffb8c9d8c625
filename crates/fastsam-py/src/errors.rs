//! Library errors as Python exceptions carrying the library's message. The classes live in
//! `fastsam_rs._errors` (Python), so that one can derive from both `FastSAMError` and a built-in exception.

use pyo3::prelude::*;
use pyo3::types::PyType;

/// Which exception of `fastsam_rs._errors` a library error becomes.
fn class_name(err: &fastsam::Error) -> &'static str {
    match err {
        fastsam::Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            "FastSAMFileNotFoundError"
        }
        fastsam::Error::Invalid { .. } => "FastSAMValueError",
        _ => "FastSAMError",
    }
}

/// The exception `class` (a name in `fastsam_rs._errors`) with `message`.
pub fn raise(class: &str, message: String) -> PyErr {
    Python::attach(|py| {
        let class =
            py.import("fastsam_rs._errors").and_then(|m| m.getattr(class)).and_then(|c| Ok(c.cast_into::<PyType>()?));
        match class {
            Ok(class) => PyErr::from_type(class, message),
            Err(e) => e,
        }
    })
}

/// `?` on library results inside the binding.
pub trait IntoPy<T> {
    fn py_err(self) -> PyResult<T>;
}

impl<T> IntoPy<T> for fastsam::Result<T> {
    fn py_err(self) -> PyResult<T> {
        self.map_err(|e| raise(class_name(&e), e.to_string()))
    }
}

/// An invalid value found by the binding itself (same class as the library's own `Error::Invalid`).
pub fn invalid(what: &'static str, reason: impl Into<String>) -> PyErr {
    let e = fastsam::Error::invalid(what, reason);
    raise(class_name(&e), e.to_string())
}
