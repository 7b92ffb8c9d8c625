//! Shared by the weights_* tests: fixture paths and comparison against the inventories torch wrote
//! (tools/golden/weights.py). Included with `#[path]`; compiled alone it has no tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use fastsam::weights::{Attr, Module};
use fastsam::Tensor;
use serde_json::Value as Json;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn fixture(name: &str) -> PathBuf {
    repo().join("tests/fixtures/golden/weights").join(name)
}

pub fn golden(name: &str) -> Json {
    let path = fixture(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    a == b || (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-300)
}

/// Checks one tensor against its inventory entry: shape, float64 sum and sum of squares of the f32 values
/// (summation order differs from torch's, hence the relative tolerance), and sampled values exactly.
pub fn check_tensor(name: &str, t: &Tensor, want: &Json) {
    let shape: Vec<usize> = serde_json::from_value(want["shape"].clone()).unwrap();
    assert_eq!(t.shape, shape, "{name}: shape");
    assert_eq!(t.data.len(), shape.iter().product::<usize>(), "{name}: element count");
    let sum: f64 = t.data.iter().map(|&v| f64::from(v)).sum();
    let sumsq: f64 = t.data.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
    let abs_sum: f64 = t.data.iter().map(|&v| f64::from(v).abs()).sum();
    let (wsum, wsq) = (want["sum"].as_f64().unwrap(), want["sumsq"].as_f64().unwrap());
    assert!((sum - wsum).abs() <= 1e-12 * abs_sum, "{name}: sum {sum} != {wsum}");
    assert!(close(sumsq, wsq, 1e-12), "{name}: sum of squares {sumsq} != {wsq}");
    for s in want["samples"].as_array().unwrap() {
        let (i, v) = (s[0].as_u64().unwrap() as usize, s[1].as_f64().unwrap());
        // The value is an f32 printed exactly; serde_json may parse it 1 ulp off in f64, never in f32.
        assert_eq!(t.data[i], v as f32, "{name}: element {i}");
    }
}

/// Every tensor of the inventory is present and right, and there are no others.
pub fn check_tensors<'a>(got: impl IntoIterator<Item = (String, &'a Tensor)>, inventory: &Json) {
    let want = inventory["tensors"].as_object().unwrap();
    let got: BTreeMap<String, &Tensor> = got.into_iter().collect();
    let got_names: Vec<&String> = got.keys().collect();
    let want_names: Vec<&String> = want.keys().collect();
    assert_eq!(got_names, want_names, "tensor names");
    for (name, t) in &got {
        check_tensor(name, t, &want[name.as_str()]);
    }
}

/// Compares an attribute with torch's view of it, in the encoding tools/golden/weights.py writes.
pub fn attr_matches(got: &Attr, want: &Json) -> Result<(), String> {
    let mismatch = || Err(format!("got {got:?}, torch has {want}"));
    match (got, want) {
        (Attr::None, Json::Null) => Ok(()),
        (Attr::Bool(a), Json::Bool(b)) if a == b => Ok(()),
        (Attr::Int(a), Json::Number(b)) if b.as_i64() == Some(*a) => Ok(()),
        (Attr::Float(a), Json::Number(b)) if !b.is_i64() && close(*a, b.as_f64().unwrap(), 1e-15) => Ok(()),
        (Attr::Str(a), Json::String(b)) if a == b => Ok(()),
        (Attr::List(a), Json::Array(b)) => {
            if a.len() != b.len() {
                return mismatch();
            }
            a.iter()
                .zip(b)
                .enumerate()
                .try_for_each(|(i, (x, y))| attr_matches(x, y).map_err(|e| format!("[{i}]: {e}")))
        }
        (Attr::Dict(a), Json::Object(o)) if o.contains_key("__dict__") => {
            let b = o["__dict__"].as_array().unwrap();
            if a.len() != b.len() {
                return mismatch();
            }
            a.iter().zip(b).try_for_each(|((k, v), pair)| {
                attr_matches(k, &pair[0])?;
                attr_matches(v, &pair[1]).map_err(|e| format!("[{}]: {e}", pair[0]))
            })
        }
        (Attr::Object { class, state }, Json::Object(o)) if o.contains_key("__object__") => {
            if o["__object__"] != **class {
                return mismatch();
            }
            attr_matches(state, &o["state"])
        }
        (Attr::Tensor(t), Json::Object(o)) if o.contains_key("__tensor__") => {
            let shape: Vec<usize> = serde_json::from_value(o["__tensor__"].clone()).unwrap();
            if t.shape != shape {
                return mismatch();
            }
            match o.get("values").and_then(Json::as_array) {
                Some(values) if values.iter().zip(&t.data).any(|(w, &g)| w.as_f64().map(|w| w as f32) != Some(g)) => {
                    mismatch()
                }
                _ => Ok(()),
            }
        }
        _ => mismatch(),
    }
}

/// Every module torch lists: same class, children in the same places, every plain attribute equal.
pub fn check_modules(model: &Module, inventory: &Json) {
    let modules = inventory["modules"].as_object().unwrap();
    let mut count = 0;
    walk(model, "", &mut |path, m| {
        count += 1;
        let want = modules.get(path).unwrap_or_else(|| panic!("module {path:?} is not in torch's inventory"));
        assert_eq!(m.class, want["class"], "{path}: class");
        let attrs = want["attrs"].as_object().unwrap();
        let skipped: Vec<&str> = want["skipped"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
        for (name, value) in attrs {
            let got = m.attr(name).unwrap_or_else(|| panic!("{path}: attribute {name} missing"));
            attr_matches(got, value).unwrap_or_else(|e| panic!("{path}.{name}: {e}"));
        }
        for name in m.attrs.keys() {
            assert!(
                attrs.contains_key(name) || skipped.contains(&name.as_str()),
                "{path}: unexpected attribute {name}"
            );
        }
    });
    assert_eq!(count, modules.len(), "module count");
}

fn walk(m: &Module, path: &str, f: &mut dyn FnMut(&str, &Module)) {
    f(path, m);
    for (name, child) in &m.children {
        let p = if path.is_empty() { name.clone() } else { format!("{path}.{name}") };
        walk(child, &p, f);
    }
}

/// The checkpoint error message, for asserting on what the user would read.
pub fn message<T: std::fmt::Debug>(r: fastsam::Result<T>) -> String {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.to_string(),
    }
}
