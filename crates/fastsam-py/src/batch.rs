//! The file layout of a batch run, for `python -m fastsam_rs.ray`: the same images and output files as
//! `fastsam segment DIR_OR_FILES... --out DIR` (see `fastsam::output::layout`).

use std::path::PathBuf;

use fastsam::output::layout;
use pyo3::prelude::*;

use crate::errors::IntoPy;

/// One image to segment: its path, the JSON to write, and the file name the JSON reports.
type Todo = (PathBuf, PathBuf, String);

/// The images under `inputs` whose JSON under `out` is still to be written (all of them with `overwrite`),
/// how many were skipped as done, and the inputs refused with why.
#[pyfunction]
pub fn plan_batch(
    py: Python<'_>,
    inputs: Vec<PathBuf>,
    out: PathBuf,
    overwrite: bool,
) -> PyResult<(Vec<Todo>, usize, layout::Refused)> {
    py.detach(|| {
        let (items, refused) = layout::collect(&inputs, &out)?;
        let todo: Vec<Todo> = items
            .iter()
            .filter(|item| overwrite || item.previous_annotations().is_none())
            .map(|item| (item.source.clone(), item.output(".json"), layout::file_name(&item.source)))
            .collect();
        Ok((todo.clone(), items.len() - todo.len(), refused))
    })
    .py_err()
}
