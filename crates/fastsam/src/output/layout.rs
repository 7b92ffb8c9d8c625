//! Where a batch's outputs go (`fastsam segment DIR_OR_FILES... --out DIR`, and the Python package's Ray run,
//! which writes the same files): one `<out>/<relative folder>/<stem>.json` per image, plus a suffix per
//! other output.
//!
//! Folders are searched recursively, in name order, and their sub-folders mirrored under the output folder;
//! hidden entries are skipped, and so is the output folder itself when it lies inside an input. A file found
//! in a folder is an image if its first bytes say so (not its extension); files named as inputs are taken as
//! they are (a bad one fails when it is decoded). Two images whose outputs would have the same name: the
//! second is refused.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::annotations::AnnotationFile;
use crate::image::Format;
use crate::{Error, Result};

/// One image and where its outputs go: `<out>/<relative folder>/<stem>` plus a suffix per output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub source: PathBuf,
    pub base: PathBuf,
}

impl Item {
    /// `<base><suffix>`, e.g. `.json` or `.overlay.png`.
    pub fn output(&self, suffix: &str) -> PathBuf {
        let mut name: OsString = self.base.clone().into_os_string();
        name.push(suffix);
        PathBuf::from(name)
    }

    /// The annotations a previous run wrote for this image, if its JSON exists and reads back.
    pub fn previous_annotations(&self) -> Option<AnnotationFile> {
        serde_json::from_slice(&std::fs::read(self.output(".json")).ok()?).ok()
    }
}

/// Inputs not taken, each with why.
pub type Refused = Vec<(PathBuf, String)>;

/// The images under `inputs`, in order, with output bases under `out`; and the inputs refused.
pub fn collect(inputs: &[PathBuf], out: &Path) -> Result<(Vec<Item>, Refused)> {
    let out_canonical = out.canonicalize().ok();
    let mut found: Vec<(PathBuf, PathBuf)> = Vec::new();
    for input in inputs {
        if input.is_dir() {
            walk(input, Path::new(""), out_canonical.as_deref(), &mut found)?;
        } else {
            found.push((input.clone(), PathBuf::from(stem(input))));
        }
    }
    let mut seen: HashMap<PathBuf, PathBuf> = HashMap::new();
    let mut items = Vec::new();
    let mut refused = Vec::new();
    for (source, relative) in found {
        if let Some(first) = seen.get(&relative) {
            let reason = format!("its outputs would overwrite those of {} (same name)", first.display());
            refused.push((source, reason));
            continue;
        }
        seen.insert(relative.clone(), source.clone());
        items.push(Item { source, base: out.join(relative) });
    }
    Ok((items, refused))
}

fn walk(dir: &Path, relative: &Path, skip: Option<&Path>, found: &mut Vec<(PathBuf, PathBuf)>) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| Error::Io { path: dir.to_path_buf(), source })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
        .collect();
    entries.sort();
    for path in entries {
        let name = PathBuf::from(path.file_name().unwrap_or_default());
        if path.is_dir() {
            // Never feed the outputs back in when the output folder is inside an input folder.
            if skip.is_some_and(|s| path.canonicalize().is_ok_and(|c| c == s)) {
                continue;
            }
            walk(&path, &relative.join(&name), skip, found)?;
        } else if is_image(&path) {
            found.push((path.clone(), relative.join(stem(&path))));
        }
    }
    Ok(())
}

/// Whether the file's first bytes are those of an image format this crate decodes.
pub fn is_image(path: &Path) -> bool {
    let mut head = [0u8; 16];
    let Ok(mut file) = std::fs::File::open(path) else { return false };
    let n = file.read(&mut head).unwrap_or(0);
    Format::sniff(&head[..n]).is_ok()
}

/// The file name the JSON's `image.file_name` carries.
pub fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// The name outputs are called after (`bus.jpg` → `bus`).
pub fn stem(path: &Path) -> String {
    path.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}
