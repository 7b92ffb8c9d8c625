//! Interprets a parsed checkpoint pickle: tensor recipes (`_rebuild_tensor_v2` over archive storages),
//! `nn.Module` object graphs (`_modules` / `_parameters` / `_buffers`) and plain attribute values.
//! Nothing here runs pickled code: known recipes are recognised by name and evaluated as data.

use std::path::Path;

use super::archive::StorageSource;
use super::dtype::DType;
use super::module::{Attr, Module};
use super::pickle::{Instance, ObjId, Object, Pickle, Value};
use crate::{Error, Result, Tensor};

/// Deeper nesting than this is not a model but an attempt to exhaust the stack.
const MAX_DEPTH: usize = 256;

pub(crate) struct Loader<'a> {
    pickle: &'a Pickle,
    storages: &'a mut dyn StorageSource,
    source: &'a Path,
    /// f32 elements still allowed: a bound on what aliased views could make a small archive expand into.
    elements_left: usize,
    /// Attribute nodes still allowed: shared sub-objects are converted once per reference.
    nodes_left: usize,
    /// Objects being converted, to cut reference cycles (a module's bound method refers back to it).
    active: Vec<ObjId>,
}

impl<'a> Loader<'a> {
    pub(crate) fn new(
        pickle: &'a Pickle,
        storages: &'a mut dyn StorageSource,
        source: &'a Path,
        archive_len: u64,
    ) -> Self {
        let archive_len = usize::try_from(archive_len).unwrap_or(usize::MAX);
        // One byte of storage becomes at most one element (bool/uint8); allow twice that for shared views.
        let elements_left = archive_len.saturating_mul(2).saturating_add(1 << 20);
        let nodes_left = pickle.objects.len().saturating_mul(16).saturating_add(1 << 16);
        Loader { pickle, storages, source, elements_left, nodes_left, active: Vec::new() }
    }

    pub(crate) fn fail(&self, reason: impl Into<String>) -> Error {
        Error::checkpoint(self.source, reason)
    }

    pub(crate) fn pickle(&self) -> &'a Pickle {
        self.pickle
    }

    pub(crate) fn instance(&self, v: &Value) -> Option<&'a Instance> {
        match self.pickle.object(v)? {
            Object::Instance(inst) => Some(inst),
            _ => None,
        }
    }

    pub(crate) fn class_of(&self, v: &Value) -> Option<&'a str> {
        self.instance(v).and_then(|i| self.pickle.class_of(i))
    }

    /// Entries of a dict (or an instance's BUILD state dict).
    pub(crate) fn dict(&self, v: &Value) -> Option<&'a [(Value, Value)]> {
        match self.pickle.object(v)? {
            Object::Dict(d) => Some(d),
            _ => None,
        }
    }

    /// The `__dict__` of an `nn.Module` instance, or `None` if `v` is not one.
    pub(crate) fn module_state(&self, v: &Value) -> Option<&'a [(Value, Value)]> {
        let state = self.dict(self.instance(v)?.state.as_ref()?)?;
        state.iter().any(|(k, _)| key_is(k, "_modules")).then_some(state)
    }

    pub(crate) fn is_tensor(&self, v: &Value) -> bool {
        self.class_of(v).is_some_and(is_tensor_recipe)
    }

    /// What a value is, for error messages.
    pub(crate) fn describe(&self, v: &Value) -> String {
        match self.pickle.object(v) {
            None => match v {
                Value::None => "None".into(),
                Value::Bool(_) => "a bool".into(),
                Value::Int(_) | Value::BigInt(_) => "an int".into(),
                Value::Float(_) => "a float".into(),
                Value::Str(_) => "a str".into(),
                Value::Bytes(_) => "bytes".into(),
                Value::Ref(_) => "a dangling reference".into(),
            },
            Some(Object::Tuple(_)) => "a tuple".into(),
            Some(Object::List(_)) => "a list".into(),
            Some(Object::Dict(_)) => "a dict".into(),
            Some(Object::Set(_)) => "a set".into(),
            Some(Object::Global(name)) => format!("a reference to {name}"),
            Some(Object::Persistent(_)) => "a storage".into(),
            Some(Object::Instance(inst)) => match self.pickle.class_of(inst) {
                Some(c) if is_tensor_recipe(c) => "a tensor".into(),
                Some(c) => format!("a {c} object"),
                None => "an object".into(),
            },
        }
    }

    // ---------------------------------------------------------------------------------------------- modules

    /// Converts a pickled `nn.Module` (and its submodules) into a [`Module`].
    pub(crate) fn module(&mut self, v: &Value) -> Result<Module> {
        self.module_at(v, "", 0)
    }

    fn module_at(&mut self, v: &Value, path: &str, depth: usize) -> Result<Module> {
        let here = if path.is_empty() { "the model" } else { path };
        if depth > MAX_DEPTH {
            return Err(self.fail(format!("{here}: modules nested deeper than {MAX_DEPTH} levels")));
        }
        let (Value::Ref(id), Some(state)) = (v, self.module_state(v)) else {
            return Err(self.fail(format!("{here} is not an nn.Module (it is {})", self.describe(v))));
        };
        let id = *id;
        if self.active.contains(&id) {
            return Err(self.fail(format!("{here}: the module graph contains a cycle")));
        }
        self.active.push(id);
        let result = self.module_fields(id, state, path, depth);
        self.active.pop();
        result
    }

    fn module_fields(&mut self, id: ObjId, state: &'a [(Value, Value)], path: &str, depth: usize) -> Result<Module> {
        let class = self.class_of(&Value::Ref(id)).unwrap_or_default().to_string();
        let mut module = Module { class, ..Module::default() };
        for (key, value) in state {
            let Value::Str(key) = key else { continue };
            match &**key {
                "_modules" => {
                    for (name, child) in self.named_entries(value, path, "_modules")? {
                        if child != &Value::None {
                            let child_path = join(path, &name);
                            let m = self.module_at(child, &child_path, depth + 1)?;
                            module.children.push((name, m));
                        }
                    }
                }
                "_parameters" | "_buffers" => {
                    for (name, t) in self.named_entries(value, path, key)? {
                        if t != &Value::None {
                            let tensor = self.tensor(t).map_err(|e| self.context(e, &join(path, &name)))?;
                            module.tensors.insert(name, tensor);
                        }
                    }
                }
                k if k.starts_with('_') && k.contains("hook") => {}
                k => {
                    let attr = self.attr(value, depth + 1).map_err(|e| self.context(e, &join(path, k)))?;
                    module.attrs.insert(k.to_string(), attr);
                }
            }
        }
        Ok(module)
    }

    fn named_entries(&self, v: &Value, path: &str, what: &str) -> Result<Vec<(String, &'a Value)>> {
        let entries = self.dict(v).ok_or_else(|| {
            self.fail(format!(
                "{}: {what} is {}, not a dict",
                if path.is_empty() { "model" } else { path },
                self.describe(v)
            ))
        })?;
        Ok(entries.iter().filter_map(|(k, v)| Some((key_string(k)?, v))).collect())
    }

    fn context(&self, e: Error, path: &str) -> Error {
        match e {
            Error::Checkpoint { path: file, reason } => {
                Error::Checkpoint { path: file, reason: format!("{path}: {reason}") }
            }
            other => other,
        }
    }

    // ---------------------------------------------------------------------------------------------- tensors

    /// Materialises a tensor recipe as f32.
    pub(crate) fn tensor(&mut self, v: &Value) -> Result<Tensor> {
        let inst =
            self.instance(v).ok_or_else(|| self.fail(format!("expected a tensor, found {}", self.describe(v))))?;
        let class = self.pickle.class_of(inst).unwrap_or_default();
        match class {
            "torch._utils._rebuild_tensor_v2" | "torch._utils._rebuild_tensor" => self.rebuild(&inst.args),
            "torch._utils._rebuild_parameter" | "torch._utils._rebuild_parameter_with_state" => {
                let data = inst.args.first().ok_or_else(|| self.fail("parameter without data"))?;
                self.tensor(data)
            }
            // (func, type, args, state): a Tensor subclass rebuilt by `func(*args)`.
            "torch._tensor._rebuild_from_type_v2" => {
                let func = inst.args.first().and_then(|f| self.pickle.global_name(f));
                let args = inst.args.get(2).and_then(|a| match self.pickle.object(a) {
                    Some(Object::Tuple(items)) => Some(items),
                    _ => None,
                });
                match (func, args) {
                    (Some(f), Some(args)) if is_tensor_recipe(f) => self.rebuild(args),
                    _ => Err(self.fail("tensor subclass rebuilt by an unknown function")),
                }
            }
            _ => Err(self.fail(format!("expected a tensor, found {}", self.describe(v)))),
        }
    }

    /// `_rebuild_tensor_v2(storage, storage_offset, size, stride, ...)`.
    fn rebuild(&mut self, args: &[Value]) -> Result<Tensor> {
        let [storage, offset, size, stride, ..] = args else {
            return Err(self.fail("tensor recipe with too few arguments"));
        };
        let (key, dtype, numel) = self.storage_ref(storage)?;
        let offset = self.uint(offset, "storage offset")?;
        let size = self.uints(size, "size")?;
        let stride = self.uints(stride, "stride")?;
        if size.len() != stride.len() {
            return Err(self.fail(format!("tensor size {size:?} and stride {stride:?} differ in rank")));
        }
        let count = size.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        let count = count.filter(|&n| n <= self.elements_left).ok_or_else(|| {
            self.fail(format!("tensor of shape {size:?} is larger than the archive could hold; refusing"))
        })?;
        if count == 0 {
            return Ok(Tensor::new(size, Vec::new()));
        }
        let last = size.iter().zip(&stride).try_fold(offset, |acc, (&d, &s)| acc.checked_add((d - 1).checked_mul(s)?));
        if last.is_none_or(|l| l as u64 >= numel) {
            return Err(self.fail(format!(
                "tensor of shape {size:?} at offset {offset} with strides {stride:?} reads past its storage \
                 data/{key} of {numel} elements"
            )));
        }
        self.elements_left -= count;
        let bytes = self.storages.storage(&key, dtype, numel)?;
        let mut data = vec![0f32; count];
        if is_contiguous(&size, &stride) {
            let n = dtype.size();
            dtype.convert(&bytes[offset * n..(offset + count) * n], &mut data);
        } else {
            gather(dtype, bytes, offset, &size, &stride, &mut data);
        }
        Ok(Tensor::new(size, data))
    }

    /// `('storage', torch.HalfStorage, key, location, numel)`.
    fn storage_ref(&self, v: &Value) -> Result<(String, DType, u64)> {
        let bad = || self.fail("tensor storage is not a ('storage', class, key, location, numel) reference");
        let pid = match self.pickle.object(v) {
            Some(Object::Persistent(pid)) => pid,
            _ => return Err(bad()),
        };
        let Some(Object::Tuple(items)) = self.pickle.object(pid) else {
            return Err(bad());
        };
        let [Value::Str(kind), class, key, _location, numel] = items.as_slice() else {
            return Err(bad());
        };
        if &**kind != "storage" {
            return Err(bad());
        }
        let class = self.pickle.global_name(class).ok_or_else(bad)?;
        let dtype = DType::from_storage_class(class)
            .ok_or_else(|| self.fail(format!("unsupported dtype: {class} (supported: half, bfloat16, float, double, long, int, short, char, byte, bool)")))?;
        let key = match key {
            Value::Str(k) => k.to_string(),
            Value::Int(k) => k.to_string(),
            _ => return Err(bad()),
        };
        let numel = self.uint(numel, "storage size")? as u64;
        Ok((key, dtype, numel))
    }

    fn uint(&self, v: &Value, what: &str) -> Result<usize> {
        match v {
            Value::Int(i) => usize::try_from(*i).map_err(|_| self.fail(format!("tensor {what} {i} is negative"))),
            _ => Err(self.fail(format!("tensor {what} is {}, not an integer", self.describe(v)))),
        }
    }

    fn uints(&self, v: &Value, what: &str) -> Result<Vec<usize>> {
        let items = match self.pickle.object(v) {
            Some(Object::Tuple(items) | Object::List(items)) => items,
            Some(Object::Instance(inst)) if self.pickle.class_of(inst) == Some("torch.Size") => {
                return inst.args.first().map_or(Ok(Vec::new()), |a| self.uints(a, what))
            }
            _ => return Err(self.fail(format!("tensor {what} is {}, not a tuple", self.describe(v)))),
        };
        items.iter().map(|i| self.uint(i, what)).collect()
    }

    // ---------------------------------------------------------------------------------------------- attributes

    /// Converts a plain attribute value. nn.Modules reached through plain attributes (not `_modules`, e.g. a
    /// bound `forward`) are kept by class only.
    pub(crate) fn attr(&mut self, v: &Value, depth: usize) -> Result<Attr> {
        if depth > MAX_DEPTH {
            return Err(self.fail(format!("values nested deeper than {MAX_DEPTH} levels")));
        }
        self.nodes_left = self
            .nodes_left
            .checked_sub(1)
            .ok_or_else(|| self.fail("attribute values expand to more nodes than the pickle could hold; refusing"))?;
        Ok(match v {
            Value::None => Attr::None,
            Value::Bool(b) => Attr::Bool(*b),
            Value::Int(i) => Attr::Int(*i),
            Value::BigInt(f) | Value::Float(f) => Attr::Float(*f),
            Value::Str(s) => Attr::Str(s.to_string()),
            Value::Bytes(b) => bytes_attr(b),
            Value::Ref(id) => {
                if self.active.contains(id) {
                    return Ok(self.summary(v));
                }
                self.active.push(*id);
                let out = self.object_attr(v, depth);
                self.active.pop();
                out?
            }
        })
    }

    fn object_attr(&mut self, v: &Value, depth: usize) -> Result<Attr> {
        let Some(obj) = self.pickle.object(v) else {
            return Err(self.fail("dangling reference in the pickle"));
        };
        Ok(match obj {
            Object::Tuple(items) | Object::List(items) | Object::Set(items) => Attr::List(self.attrs(items, depth)?),
            Object::Dict(entries) => Attr::Dict(self.attr_pairs(entries, depth)?),
            Object::Global(_) | Object::Persistent(_) => self.summary(v),
            Object::Instance(inst) => self.instance_attr(v, inst, depth)?,
        })
    }

    fn instance_attr(&mut self, v: &Value, inst: &'a Instance, depth: usize) -> Result<Attr> {
        let class = self.pickle.class_of(inst).unwrap_or_default();
        if is_tensor_recipe(class) {
            return Ok(Attr::Tensor(self.tensor(v)?));
        }
        if self.module_state(v).is_some() {
            return Ok(self.summary(v));
        }
        let first = inst.args.first();
        match class {
            "torch.Size"
            | "torch.jit._pickle.build_intlist"
            | "torch.jit._pickle.build_doublelist"
            | "torch.jit._pickle.build_boollist"
            | "torch.jit._pickle.build_tensorlist"
            | "torch.jit._pickle.restore_type_tag" => {
                return first.map_or(Ok(Attr::List(Vec::new())), |a| self.attr(a, depth + 1))
            }
            "_codecs.encode" => {
                if let Some(bytes) = self.latin1_bytes(inst) {
                    return Ok(bytes_attr(&bytes));
                }
            }
            "torch.device" => {
                let parts = self.attrs(&inst.args, depth)?;
                let text: Vec<String> = parts.iter().filter_map(attr_text).collect();
                return Ok(Attr::Str(text.join(":")));
            }
            c if c.starts_with("pathlib.") => {
                let parts = self.attrs(&inst.args, depth)?;
                let text: Vec<String> = parts.iter().filter_map(attr_text).collect();
                return Ok(Attr::Str(text.join("/")));
            }
            c if c.ends_with("multiarray.scalar") => {
                if let Some(attr) = self.numpy_scalar(inst) {
                    return Ok(attr);
                }
            }
            _ => {}
        }
        let state = if let Some(state) = &inst.state {
            self.attr(state, depth + 1)?
        } else if !inst.dict_items.is_empty() {
            Attr::Dict(self.attr_pairs(&inst.dict_items, depth)?)
        } else if !inst.list_items.is_empty() {
            Attr::List(self.attrs(&inst.list_items, depth)?)
        } else if !inst.args.is_empty() {
            Attr::List(self.attrs(&inst.args, depth)?)
        } else {
            Attr::None
        };
        Ok(Attr::Object { class: class.to_string(), state: Box::new(state) })
    }

    fn attrs(&mut self, items: &[Value], depth: usize) -> Result<Vec<Attr>> {
        items.iter().map(|i| self.attr(i, depth + 1)).collect()
    }

    fn attr_pairs(&mut self, entries: &[(Value, Value)], depth: usize) -> Result<Vec<(Attr, Attr)>> {
        entries.iter().map(|(k, v)| Ok((self.attr(k, depth + 1)?, self.attr(v, depth + 1)?))).collect()
    }

    /// An object kept by its class only.
    fn summary(&self, v: &Value) -> Attr {
        let class = match self.pickle.object(v) {
            Some(Object::Global(name)) => name.to_string(),
            Some(Object::Instance(inst)) => self.pickle.class_of(inst).unwrap_or("object").to_string(),
            Some(Object::Persistent(_)) => "torch.storage".into(),
            _ => "object".into(),
        };
        Attr::Object { class, state: Box::new(Attr::None) }
    }

    /// `_codecs.encode(text, 'latin1')`: how protocol 2 pickles `bytes`.
    fn latin1_bytes(&self, inst: &Instance) -> Option<Vec<u8>> {
        match inst.args.as_slice() {
            [Value::Str(text), Value::Str(enc)] if enc.eq_ignore_ascii_case("latin1") || &**enc == "latin-1" => {
                text.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect()
            }
            [Value::Str(text)] => Some(text.as_bytes().to_vec()),
            _ => None,
        }
    }

    /// `numpy.core.multiarray.scalar(dtype, bytes)` → a Python number.
    fn numpy_scalar(&self, inst: &Instance) -> Option<Attr> {
        let [dtype, raw] = inst.args.as_slice() else {
            return None;
        };
        let dtype = self.instance(dtype)?;
        let Value::Str(code) = dtype.args.first()? else {
            return None;
        };
        let big_endian = match dtype.state.as_ref().and_then(|s| self.pickle.object(s)) {
            Some(Object::Tuple(items)) => {
                matches!(items.get(1), Some(Value::Str(o)) if &**o == ">")
            }
            _ => false,
        };
        let mut bytes = match raw {
            Value::Bytes(b) => b.to_vec(),
            other => self.latin1_bytes(self.instance(other)?)?,
        };
        if big_endian {
            bytes.reverse();
        }
        numpy_value(code, &bytes)
    }
}

fn numpy_value(code: &str, b: &[u8]) -> Option<Attr> {
    fn arr<const N: usize>(b: &[u8]) -> Option<[u8; N]> {
        b.try_into().ok()
    }
    Some(match code {
        "f8" => Attr::Float(f64::from_le_bytes(arr(b)?)),
        "f4" => Attr::Float(f32::from_le_bytes(arr(b)?).into()),
        "f2" => Attr::Float(half::f16::from_le_bytes(arr(b)?).into()),
        "i8" => Attr::Int(i64::from_le_bytes(arr(b)?)),
        "i4" => Attr::Int(i32::from_le_bytes(arr(b)?).into()),
        "i2" => Attr::Int(i16::from_le_bytes(arr(b)?).into()),
        "i1" => Attr::Int(i8::from_le_bytes(arr(b)?).into()),
        "u8" => {
            let v = u64::from_le_bytes(arr(b)?);
            i64::try_from(v).map_or(Attr::Float(v as f64), Attr::Int)
        }
        "u4" => Attr::Int(u32::from_le_bytes(arr(b)?).into()),
        "u2" => Attr::Int(u16::from_le_bytes(arr(b)?).into()),
        "u1" => Attr::Int(b.first().copied()?.into()),
        "b1" => Attr::Bool(b.first().copied()? != 0),
        _ => return None,
    })
}

pub(crate) fn is_tensor_recipe(class: &str) -> bool {
    matches!(
        class,
        "torch._utils._rebuild_tensor_v2"
            | "torch._utils._rebuild_tensor"
            | "torch._utils._rebuild_parameter"
            | "torch._utils._rebuild_parameter_with_state"
            | "torch._tensor._rebuild_from_type_v2"
    )
}

pub(crate) fn key_is(k: &Value, name: &str) -> bool {
    matches!(k, Value::Str(s) if &**s == name)
}

/// Dict keys as names: strings as they are, integers in decimal (ModuleList children are strings already).
pub(crate) fn key_string(k: &Value) -> Option<String> {
    match k {
        Value::Str(s) => Some(s.to_string()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

fn bytes_attr(b: &[u8]) -> Attr {
    Attr::List(b.iter().map(|&x| Attr::Int(x.into())).collect())
}

fn attr_text(a: &Attr) -> Option<String> {
    match a {
        Attr::Str(s) => Some(s.clone()),
        Attr::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

/// Row-major contiguity, ignoring the stride of size-1 dimensions (torch does too).
fn is_contiguous(size: &[usize], stride: &[usize]) -> bool {
    let mut expected = 1usize;
    for (&d, &s) in size.iter().zip(stride).rev() {
        if d != 1 && s != expected {
            return false;
        }
        expected = expected.saturating_mul(d);
    }
    true
}

/// Copies a strided view element by element, in row-major order of the view. Bounds were checked by the caller.
fn gather(dtype: DType, bytes: &[u8], offset: usize, size: &[usize], stride: &[usize], out: &mut [f32]) {
    let rank = size.len();
    let mut index = vec![0usize; rank];
    let mut pos = offset;
    for o in out.iter_mut() {
        *o = dtype.read(bytes, pos);
        for d in (0..rank).rev() {
            index[d] += 1;
            pos += stride[d];
            if index[d] < size[d] {
                break;
            }
            pos -= stride[d] * size[d];
            index[d] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::pickle::parse;
    use super::*;

    struct NoStorage;

    impl StorageSource for NoStorage {
        fn storage(&mut self, _: &str, _: DType, _: u64) -> Result<&[u8]> {
            Err(Error::checkpoint("t.pt", "no storages here"))
        }
    }

    fn convert(data: &[u8], f: impl FnOnce(&mut Loader, &Value) -> Result<String>) -> Result<String> {
        let p = parse(data).unwrap();
        let mut storages = NoStorage;
        let mut loader = Loader::new(&p, &mut storages, Path::new("t.pt"), data.len() as u64);
        f(&mut loader, &p.root.clone())
    }

    fn attr_of(data: &[u8]) -> Result<String> {
        convert(data, |l, v| l.attr(v, 0).map(|a| format!("{a:?}")))
    }

    #[test]
    fn self_referencing_list_is_cut() {
        assert_eq!(attr_of(b"]q\x00h\x00a.").unwrap(), "List([Object { class: \"object\", state: None }])");
    }

    #[test]
    fn deep_nesting_is_refused() {
        let mut data = vec![b']'; 1000];
        data.extend(vec![b'a'; 999]);
        data.push(b'.');
        assert!(attr_of(&data).unwrap_err().to_string().contains("nested deeper than 256"));
    }

    #[test]
    fn exponential_sharing_is_refused() {
        // Each level is a list holding the previous level twice: 2^40 nodes from 400 bytes.
        let mut data = vec![b']'];
        for _ in 0..40 {
            data.extend(b"q\x000]h\x00ah\x00a");
        }
        data.push(b'.');
        assert!(attr_of(&data).unwrap_err().to_string().contains("more nodes than the pickle could hold"));
    }

    #[test]
    fn huge_claimed_tensor_is_refused_before_reading() {
        let data = b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\n\
                     X\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x08tQK\x00\x8a\x06\x00\x00\x00\x00\x00\x01\x85K\x01\x85\x89tR.";
        let err = convert(data, |l, v| l.tensor(v).map(|t| format!("{t:?}"))).unwrap_err();
        assert!(err.to_string().contains("tensor of shape [1099511627776] is larger than the archive"), "{err}");
    }

    #[test]
    fn contiguity_ignores_unit_dimensions() {
        assert!(is_contiguous(&[2, 3], &[3, 1]));
        assert!(is_contiguous(&[2, 1, 3], &[3, 99, 1]));
        assert!(!is_contiguous(&[2, 3], &[1, 2]));
        assert!(is_contiguous(&[], &[]));
    }

    #[test]
    fn gathers_a_transposed_view() {
        let bytes: Vec<u8> = (0..6).flat_map(|i| (i as f32).to_le_bytes()).collect();
        let mut out = [0f32; 6];
        gather(DType::F32, &bytes, 0, &[3, 2], &[1, 3], &mut out);
        assert_eq!(out, [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    }
}
