//! PyTorch `torch.save` checkpoints (zip archive + pickle) as written by Ultralytics, and flat state dicts from
//! any PyTorch archive (plain state dicts, whole pickled models, TorchScript).
//!
//! The pickle is walked as data (see [`super::pickle`]); nothing in the file is ever executed.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Cursor, Read, Seek};
use std::path::Path;

use super::archive::Archive;
use super::module::{Attr, Module};
use super::objects::{key_is, key_string, Loader};
use super::pickle::{self, Pickle, Value};
use super::torchscript;
use crate::{Error, Result, Tensor};

/// An Ultralytics-style checkpoint: the model's module tree plus the checkpoint's other top-level entries.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// `ckpt['ema']` if present and not None, else `ckpt['model']` (what Ultralytics' `load_checkpoint` uses),
    /// or the whole pickled module if the file holds just one.
    pub model: Module,
    /// Every other top-level entry (`train_args`, `date`, `version`, `train_metrics`, ...). The unused one of
    /// `model`/`ema`, like any module reached outside the model, is kept by class only.
    pub meta: BTreeMap<String, Attr>,
}

impl Checkpoint {
    /// Reads a `.pt` checkpoint from disk.
    pub fn load(path: impl AsRef<Path>) -> Result<Checkpoint> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|e| Error::Io { path: path.to_path_buf(), source: e })?;
        Self::read(path, BufReader::new(file))
    }

    /// Reads a checkpoint held in memory; `name` identifies it in errors.
    pub fn from_bytes(name: &str, bytes: &[u8]) -> Result<Checkpoint> {
        Self::read(Path::new(name), Cursor::new(bytes))
    }

    fn read<R: Read + Seek>(source: &Path, reader: R) -> Result<Checkpoint> {
        let mut archive = Archive::open(source, reader)?;
        if archive.is_torchscript() {
            return Err(Error::checkpoint(
                source,
                "is a TorchScript archive, not a torch.save checkpoint; read its tensors with load_state_dict",
            ));
        }
        let (pickle, len) = parse_data_pkl(&mut archive)?;
        let mut loader = Loader::new(&pickle, &mut archive, source, len);
        from_root(&mut loader)
    }

    /// The model's tensors by dotted path (`model.0.conv.weight`, ...), like `model.state_dict()`.
    pub fn state_dict(&self) -> BTreeMap<String, &Tensor> {
        self.model.named_tensors().into_iter().collect()
    }
}

/// Reads every tensor of a PyTorch archive into a flat state dict: a TorchScript module (parameters and
/// buffers as `state_dict()` names them, e.g. `visual.conv1.weight`), a pickled state dict, a whole pickled
/// `nn.Module`, or an Ultralytics checkpoint (its model's tensors).
pub fn load_state_dict(path: impl AsRef<Path>) -> Result<BTreeMap<String, Tensor>> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|e| Error::Io { path: path.to_path_buf(), source: e })?;
    read_state_dict(path, BufReader::new(file))
}

/// [`load_state_dict`] for an archive held in memory; `name` identifies it in errors.
pub fn state_dict_from_bytes(name: &str, bytes: &[u8]) -> Result<BTreeMap<String, Tensor>> {
    read_state_dict(Path::new(name), Cursor::new(bytes))
}

fn read_state_dict<R: Read + Seek>(source: &Path, reader: R) -> Result<BTreeMap<String, Tensor>> {
    let mut archive = Archive::open(source, reader)?;
    let names = if archive.is_torchscript() { Some(torchscript::state_names(&archive.code_files()?)) } else { None };
    let (pickle, len) = parse_data_pkl(&mut archive)?;
    let mut loader = Loader::new(&pickle, &mut archive, source, len);
    if let Some(names) = names {
        return torchscript::state_dict(&mut loader, &names);
    }
    let root = pickle.root.clone();
    if let Some(entries) = loader.dict(&root) {
        if !entries.iter().any(|(k, _)| key_is(k, "model") || key_is(k, "ema")) {
            return plain_state_dict(&mut loader, entries);
        }
    }
    let ckpt = from_root(&mut loader)?;
    Ok(ckpt.model.named_tensors().into_iter().map(|(k, t)| (k, t.clone())).collect())
}

fn parse_data_pkl<R: Read + Seek>(archive: &mut Archive<R>) -> Result<(Pickle, u64)> {
    let data = archive.data_pkl()?;
    let pickle = pickle::parse(&data).map_err(|e| Error::checkpoint(archive.source(), format!("data.pkl: {e}")))?;
    Ok((pickle, archive.byte_len()))
}

/// A dict of name → tensor; entries that are not tensors (None, metadata) are skipped.
fn plain_state_dict(loader: &mut Loader, entries: &[(Value, Value)]) -> Result<BTreeMap<String, Tensor>> {
    let mut out = BTreeMap::new();
    for (k, v) in entries {
        if let (Some(name), true) = (key_string(k), loader.is_tensor(v)) {
            let tensor = loader.tensor(v).map_err(|e| prefix_error(e, &name))?;
            out.insert(name, tensor);
        }
    }
    if out.is_empty() {
        return Err(loader.fail("holds a dict without tensors: neither a state dict nor a model checkpoint"));
    }
    Ok(out)
}

fn prefix_error(e: Error, name: &str) -> Error {
    match e {
        Error::Checkpoint { path, reason } => Error::Checkpoint { path, reason: format!("{name}: {reason}") },
        other => other,
    }
}

/// Picks the model out of the top-level object the way Ultralytics' `load_checkpoint` does.
fn from_root(loader: &mut Loader) -> Result<Checkpoint> {
    let root = loader.pickle().root.clone();
    if loader.module_state(&root).is_some() {
        return Ok(Checkpoint { model: loader.module(&root)?, meta: BTreeMap::new() });
    }
    let Some(entries) = loader.dict(&root) else {
        return Err(loader.fail(format!("no model in checkpoint: it holds {}, not a dict", loader.describe(&root))));
    };
    let find = |name: &str| entries.iter().find(|(k, v)| key_is(k, name) && *v != Value::None);
    let Some((model_key, model)) = find("ema").or_else(|| find("model")) else {
        let keys: Vec<String> = entries.iter().filter_map(|(k, _)| key_string(k)).collect();
        return Err(loader.fail(format!("no model in checkpoint (its keys: {})", keys.join(", "))));
    };
    if loader.module_state(model).is_none() {
        let key = key_string(model_key).unwrap_or_default();
        return Err(loader.fail(format!("model is not an nn.Module: ckpt['{key}'] is {}", loader.describe(model))));
    }
    let model = loader.module(model)?;
    let mut meta = BTreeMap::new();
    for (k, v) in entries {
        if std::ptr::eq(k, model_key) {
            continue;
        }
        let Some(name) = key_string(k) else { continue };
        let attr = loader.attr(v, 0).map_err(|e| prefix_error(e, &name))?;
        meta.insert(name, attr);
    }
    Ok(Checkpoint { model, meta })
}
