//! TorchScript archives (`torch.jit.save`; OpenAI's CLIP `.pt` files are traced models) as a flat state dict.
//!
//! Their `data.pkl` holds `__torch__.*` objects whose state is every attribute: parameters, buffers,
//! submodules, but also plain tensor attributes that `state_dict()` leaves out. Which attributes are
//! parameters and buffers is declared in the archive's generated code (`__parameters__ = [...]`,
//! `__buffers__ = [...]` under each `class X(Module):`), so that text is read as data to name the same
//! tensors `state_dict()` does.

use std::collections::{BTreeMap, HashMap};

use super::objects::{key_string, Loader};
use super::pickle::Value;
use crate::{Result, Tensor};

const MAX_DEPTH: usize = 256;

/// Parameter and buffer names of each TorchScript class, by qualified name (`__torch__.clip.model.CLIP`).
pub(crate) fn state_names(code: &[(String, Vec<u8>)]) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for (path, source) in code {
        let module = path.trim_end_matches(".py").replace('/', ".");
        let mut class: Option<String> = None;
        for line in String::from_utf8_lossy(source).lines() {
            if let Some(rest) = line.strip_prefix("class ") {
                let name = rest.split(['(', ':']).next().unwrap_or_default().trim();
                let qualified = format!("{module}.{name}");
                out.entry(qualified.clone()).or_default();
                class = Some(qualified);
            } else if let Some(class) = &class {
                let t = line.trim_start();
                if t.starts_with("__parameters__ =") || t.starts_with("__buffers__ =") {
                    let names = t.split('"').skip(1).step_by(2).map(str::to_string);
                    out.entry(class.clone()).or_default().extend(names);
                }
            }
        }
    }
    out
}

/// Every parameter and buffer under the root object, by dotted path.
pub(crate) fn state_dict(
    loader: &mut Loader,
    names: &HashMap<String, Vec<String>>,
) -> Result<BTreeMap<String, Tensor>> {
    let root = loader.pickle().root.clone();
    let mut out = BTreeMap::new();
    walk(loader, &root, "", names, &mut out, 0)?;
    Ok(out)
}

fn walk(
    loader: &mut Loader,
    v: &Value,
    prefix: &str,
    names: &HashMap<String, Vec<String>>,
    out: &mut BTreeMap<String, Tensor>,
    depth: usize,
) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(loader.fail(format!("TorchScript modules nested deeper than {MAX_DEPTH} levels")));
    }
    let Some(class) = loader.class_of(v).filter(|c| c.starts_with("__torch__.")) else {
        return Err(loader.fail(format!("{prefix}: expected a TorchScript object, found {}", loader.describe(v))));
    };
    // Without generated code for a class, every tensor attribute counts as state.
    let declared = names.get(class);
    let Some(state) = loader.instance(v).and_then(|i| i.state.as_ref()).and_then(|s| loader.dict(s)) else {
        return Ok(()); // objects with custom __getstate__ hold no module state
    };
    for (key, value) in state {
        let Some(key) = key_string(key) else { continue };
        let path = format!("{prefix}{key}");
        if loader.is_tensor(value) {
            if declared.is_none_or(|d| d.contains(&key)) {
                let tensor = loader.tensor(value)?;
                out.insert(path, tensor);
            }
        } else if loader.class_of(value).is_some_and(|c| c.starts_with("__torch__.")) {
            walk(loader, value, &format!("{path}."), names, out, depth + 1)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_declared_state_from_generated_code() {
        let code = "class Conv2d(Module):\n  __parameters__ = [\"weight\", \"bias\", ]\n  __buffers__ = []\n  \
                    training : bool\nclass Other(Module):\n  __parameters__ = []\n  __buffers__ = [\"steps\", ]\n";
        let names = state_names(&[("__torch__/torch/nn/modules/conv.py".into(), code.as_bytes().to_vec())]);
        assert_eq!(names["__torch__.torch.nn.modules.conv.Conv2d"], ["weight", "bias"]);
        assert_eq!(names["__torch__.torch.nn.modules.conv.Other"], ["steps"]);
    }
}
