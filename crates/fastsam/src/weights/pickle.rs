//! A pickle reader that walks the opcode stream as data: it never imports or calls anything.
//!
//! The result is an inert object graph ([`Pickle`]): `GLOBAL` becomes a named reference, `REDUCE`/`NEWOBJ`
//! become [`Instance`]s recording the callable, its arguments and any `BUILD` state. Interpreting recipes such
//! as `torch._utils._rebuild_tensor_v2` is left to the caller. Even so, every imported name is checked against
//! an allow-list of what PyTorch, TorchScript and Ultralytics checkpoints use, so a hostile file is refused by
//! name instead of silently loading. Sizes claimed by the stream are checked against the bytes that remain
//! before anything is allocated, and the stack and memo are capped.

use std::collections::HashMap;
use std::rc::Rc;

/// Caps that keep a hostile stream from exhausting memory. Every opcode consumes at least one byte, so these
/// only bite on inputs far larger than any real checkpoint pickle.
const MAX_STACK: usize = 1 << 22;
const MAX_MEMO: usize = 1 << 24;
const MAX_OBJECTS: usize = 1 << 26;

/// Index of an object in [`Pickle::objects`].
pub type ObjId = usize;

/// A pickled value. Containers and instances live in [`Pickle::objects`] and are shared by reference, as the
/// pickle memo shares them.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    /// An integer that does not fit in 64 bits, approximated (checkpoints only hold such values in metadata).
    BigInt(f64),
    Float(f64),
    Str(Rc<str>),
    Bytes(Rc<[u8]>),
    Ref(ObjId),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Object {
    Tuple(Vec<Value>),
    List(Vec<Value>),
    /// Dicts and `collections.OrderedDict`s, entries in insertion order.
    Dict(Vec<(Value, Value)>),
    /// Sets and frozensets, in pickled order.
    Set(Vec<Value>),
    /// An imported name, `module.qualname`, never resolved.
    Global(Rc<str>),
    Instance(Instance),
    /// The result of `persistent_load(pid)`: for torch archives, a storage reference.
    Persistent(Value),
}

/// An object built by `REDUCE`, `NEWOBJ`, `INST` or `OBJ`: what would have been called, with what.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Instance {
    /// The callable, normally a [`Object::Global`].
    pub func: Option<Value>,
    /// Positional arguments (a tuple), keyword arguments for `NEWOBJ_EX`.
    pub args: Vec<Value>,
    pub kwargs: Vec<(Value, Value)>,
    /// `BUILD` state (`__dict__` for plain classes).
    pub state: Option<Value>,
    /// Items added by `APPEND(S)` / `SETITEM(S)` to an instance (list and dict subclasses).
    pub list_items: Vec<Value>,
    pub dict_items: Vec<(Value, Value)>,
}

/// A parsed pickle: the object arena and the value `STOP` returned.
#[derive(Debug, Clone)]
pub struct Pickle {
    pub objects: Vec<Object>,
    pub root: Value,
}

impl Pickle {
    pub fn object(&self, v: &Value) -> Option<&Object> {
        match v {
            Value::Ref(id) => self.objects.get(*id),
            _ => None,
        }
    }

    /// `module.qualname` of a global reference.
    pub fn global_name(&self, v: &Value) -> Option<&str> {
        match self.object(v)? {
            Object::Global(name) => Some(name),
            _ => None,
        }
    }

    /// The class (or function) an instance was built by.
    pub fn class_of(&self, inst: &Instance) -> Option<&str> {
        inst.func.as_ref().and_then(|f| self.global_name(f))
    }
}

/// Names a checkpoint may import, exactly.
const ALLOWED: &[&str] = &[
    "collections.OrderedDict",
    "builtins.set",
    "builtins.frozenset",
    // Ultralytics pickles bound methods such as `Detect.forward` as getattr(obj, name); here it stays inert.
    "builtins.getattr",
    "builtins.slice",
    "builtins.bytearray",
    "_codecs.encode",
    "copyreg._reconstructor",
    "torch._utils._rebuild_tensor",
    "torch._utils._rebuild_tensor_v2",
    "torch._utils._rebuild_parameter",
    "torch._utils._rebuild_parameter_with_state",
    "torch._tensor._rebuild_from_type_v2",
    "torch.Size",
    "torch.device",
    "torch.Tensor",
    "torch.nn.parameter.Parameter",
    "torch.nn.parameter.Buffer",
    "torch.jit._pickle.build_intlist",
    "torch.jit._pickle.build_doublelist",
    "torch.jit._pickle.build_boollist",
    "torch.jit._pickle.build_tensorlist",
    "torch.jit._pickle.restore_type_tag",
    "numpy.dtype",
    "numpy.ndarray",
    "numpy.core.multiarray.scalar",
    "numpy._core.multiarray.scalar",
    "numpy.core.multiarray._reconstruct",
    "numpy._core.multiarray._reconstruct",
    "pathlib.Path",
    "pathlib.PosixPath",
    "pathlib.WindowsPath",
    "pathlib.PurePosixPath",
    "pathlib.PureWindowsPath",
    "pathlib._local.PosixPath",
    "pathlib._local.WindowsPath",
    "types.SimpleNamespace",
    "ultralytics.utils.IterableSimpleNamespace",
    "ultralytics.yolo.utils.IterableSimpleNamespace",
];

/// Module prefixes whose classes a checkpoint may import: layers, models and their helpers. (TorchScript
/// archives name their own classes `__torch__.*`; those are allowed too.)
const ALLOWED_PREFIXES: &[&str] = &[
    "torch.nn.modules.",
    "ultralytics.nn.",
    "ultralytics.utils.loss.",
    "ultralytics.utils.tal.",
    "torchvision.transforms.",
];

/// `torch.<name>` globals: storage classes and dtypes.
const TORCH_NAMES: &[&str] = &[
    "HalfStorage",
    "BFloat16Storage",
    "FloatStorage",
    "DoubleStorage",
    "LongStorage",
    "IntStorage",
    "ShortStorage",
    "CharStorage",
    "ByteStorage",
    "BoolStorage",
    "ComplexFloatStorage",
    "ComplexDoubleStorage",
    "UntypedStorage",
    "float16",
    "bfloat16",
    "float32",
    "float64",
    "int64",
    "int32",
    "int16",
    "int8",
    "uint8",
    "bool",
    "strided",
    "contiguous_format",
    "channels_last",
    "preserve_format",
];

/// Python 2 module names as protocol 0–2 pickles spell them.
fn normalise_module(module: &str) -> &str {
    match module {
        "__builtin__" => "builtins",
        "copy_reg" => "copyreg",
        other => other,
    }
}

/// Whether a checkpoint may import `module.name`.
pub fn is_allowed_global(module: &str, name: &str) -> bool {
    let module = normalise_module(module);
    if name.is_empty() || name.starts_with("__") {
        return false;
    }
    let full = format!("{module}.{name}");
    if ALLOWED.contains(&full.as_str()) || (module == "torch" && TORCH_NAMES.contains(&name)) {
        return true;
    }
    if full.starts_with("__torch__.") {
        return true;
    }
    // Under the layer and model packages only classes, never their module-level functions.
    looks_like_class(name) && ALLOWED_PREFIXES.iter().any(|p| (module.to_string() + ".").starts_with(p))
}

/// CapWords, or Ultralytics' versioned class names such as `v8DetectionLoss`.
fn looks_like_class(name: &str) -> bool {
    let unversioned = name.strip_prefix('v').map_or(name, |rest| rest.trim_start_matches(|c: char| c.is_ascii_digit()));
    unversioned.starts_with(|c: char| c.is_ascii_uppercase())
}

/// Parses a pickle without executing it. Errors are one line each and name the byte offset.
pub fn parse(data: &[u8]) -> Result<Pickle, String> {
    Machine::new(data).run()
}

struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: HashMap<u32, Value>,
    objects: Vec<Object>,
}

type Step<T = ()> = Result<T, String>;

impl<'a> Machine<'a> {
    fn new(data: &'a [u8]) -> Self {
        Machine { data, pos: 0, stack: Vec::new(), marks: Vec::new(), memo: HashMap::new(), objects: Vec::new() }
    }

    fn run(mut self) -> Step<Pickle> {
        loop {
            let at = self.pos;
            let op = self.byte().map_err(|_| "pickle ends without a STOP opcode (truncated?)".to_string())?;
            if op == b'.' {
                let root = self.pop().map_err(|e| format!("at byte {at}: {e}"))?;
                return Ok(Pickle { objects: self.objects, root });
            }
            self.step(op).map_err(|e| format!("at byte {at} (opcode 0x{op:02x}): {e}"))?;
            if self.stack.len() > MAX_STACK || self.marks.len() > MAX_STACK {
                return Err(format!("pickle stack exceeds {MAX_STACK} entries"));
            }
        }
    }

    fn step(&mut self, op: u8) -> Step {
        match op {
            0x80 => self.take(1).map(drop),        // PROTO
            0x95 => self.take(8).map(drop),        // FRAME: framing only groups opcodes
            b'(' => self.mark(),                   // MARK
            b'0' => self.pop().map(drop),          // POP
            b'1' => self.pop_mark().map(drop),     // POP_MARK
            b'2' => self.dup(),                    // DUP
            b'N' => self.push(Value::None),        // NONE
            0x88 => self.push(Value::Bool(true)),  // NEWTRUE
            0x89 => self.push(Value::Bool(false)), // NEWFALSE
            b'I' => self.text_int(),               // INT
            b'J' => self.fixed::<4>().map(i32::from_le_bytes).and_then(|v| self.push(Value::Int(v.into()))),
            b'K' => self.byte().and_then(|v| self.push(Value::Int(v.into()))), // BININT1
            b'M' => self.fixed::<2>().map(u16::from_le_bytes).and_then(|v| self.push(Value::Int(v.into()))),
            b'L' => self.text_long(),                                     // LONG
            0x8a => self.sized(1).and_then(|b| self.push(long_value(b))), // LONG1
            0x8b => self.sized(4).and_then(|b| self.push(long_value(b))), // LONG4
            b'F' => self.text_float(),                                    // FLOAT
            b'G' => self.fixed::<8>().map(f64::from_be_bytes).and_then(|v| self.push(Value::Float(v))),
            b'S' => self.text_string(),                                              // STRING
            b'T' => self.sized(4).and_then(|b| self.push(latin_str(b))),             // BINSTRING
            b'U' => self.sized(1).and_then(|b| self.push(latin_str(b))),             // SHORT_BINSTRING
            b'V' => self.text_unicode(),                                             // UNICODE
            b'X' => self.sized(4).and_then(|b| self.push(utf8_str(b))),              // BINUNICODE
            0x8c => self.sized(1).and_then(|b| self.push(utf8_str(b))),              // SHORT_BINUNICODE
            0x8d => self.sized(8).and_then(|b| self.push(utf8_str(b))),              // BINUNICODE8
            b'B' => self.sized(4).and_then(|b| self.push(bytes_value(b))),           // BINBYTES
            b'C' => self.sized(1).and_then(|b| self.push(bytes_value(b))),           // SHORT_BINBYTES
            0x8e => self.sized(8).and_then(|b| self.push(bytes_value(b))),           // BINBYTES8
            0x96 => self.sized(8).and_then(|b| self.push(bytes_value(b))),           // BYTEARRAY8
            b')' => self.new_object(Object::Tuple(Vec::new())),                      // EMPTY_TUPLE
            b't' => self.pop_mark().and_then(|v| self.new_object(Object::Tuple(v))), // TUPLE
            0x85 => self.tuple_n(1),                                                 // TUPLE1
            0x86 => self.tuple_n(2),                                                 // TUPLE2
            0x87 => self.tuple_n(3),                                                 // TUPLE3
            b']' => self.new_object(Object::List(Vec::new())),                       // EMPTY_LIST
            b'l' => self.pop_mark().and_then(|v| self.new_object(Object::List(v))),  // LIST
            b'a' => self.pop().and_then(|v| self.append(vec![v])),                   // APPEND
            b'e' => self.pop_mark().and_then(|v| self.append(v)),                    // APPENDS
            b'}' => self.new_object(Object::Dict(Vec::new())),                       // EMPTY_DICT
            b'd' => self.pop_mark().and_then(pairs).and_then(|v| self.new_object(Object::Dict(v))),
            b's' => self.setitems_n(2), // SETITEM
            b'u' => self.pop_mark().and_then(pairs).and_then(|v| self.set_items(v)), // SETITEMS
            0x8f => self.new_object(Object::Set(Vec::new())), // EMPTY_SET
            0x90 => self.pop_mark().and_then(|v| self.add_items(v)), // ADDITEMS
            0x91 => self.pop_mark().and_then(|v| self.new_object(Object::Set(v))), // FROZENSET
            b'c' => self.text_global(), // GLOBAL
            0x93 => self.stack_global(), // STACK_GLOBAL
            b'R' => self.reduce(),      // REDUCE
            0x81 => self.newobj(false), // NEWOBJ
            0x92 => self.newobj(true),  // NEWOBJ_EX
            b'i' => self.inst(),        // INST
            b'o' => self.obj(),         // OBJ
            b'b' => self.build(),       // BUILD
            b'p' => self.text_line().and_then(parse_index).and_then(|i| self.put(i)), // PUT
            b'q' => self.byte().and_then(|i| self.put(i.into())), // BINPUT
            b'r' => self.fixed::<4>().map(u32::from_le_bytes).and_then(|i| self.put(i)), // LONG_BINPUT
            0x94 => self.memoize(),     // MEMOIZE
            b'g' => self.text_line().and_then(parse_index).and_then(|i| self.get(i)), // GET
            b'h' => self.byte().and_then(|i| self.get(i.into())), // BINGET
            b'j' => self.fixed::<4>().map(u32::from_le_bytes).and_then(|i| self.get(i)), // LONG_BINGET
            b'P' => self.text_line().map(latin_str).and_then(|pid| self.new_object(Object::Persistent(pid))),
            b'Q' => self.pop().and_then(|pid| self.new_object(Object::Persistent(pid))), // BINPERSID
            0x82..=0x84 => Err("uses the copyreg extension registry, which checkpoints never need".into()),
            0x97 | 0x98 => Err("uses out-of-band buffers, which checkpoints never need".into()),
            _ => Err("unknown opcode".into()),
        }
    }

    // ---- input

    fn take(&mut self, n: usize) -> Step<&'a [u8]> {
        let data: &'a [u8] = self.data;
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= data.len())
            .ok_or_else(|| format!("claims {n} bytes but only {} remain (truncated?)", data.len() - self.pos))?;
        let out = &data[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn byte(&mut self) -> Step<u8> {
        Ok(self.take(1)?[0])
    }

    fn fixed<const N: usize>(&mut self) -> Step<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// A length-prefixed payload; the length is checked against the remaining input by `take`.
    fn sized(&mut self, width: usize) -> Step<&'a [u8]> {
        let mut len = [0u8; 8];
        len[..width].copy_from_slice(self.take(width)?);
        let len = usize::try_from(u64::from_le_bytes(len)).map_err(|_| "length does not fit in memory")?;
        self.take(len)
    }

    fn text_line(&mut self) -> Step<&'a [u8]> {
        let rest = &self.data[self.pos..];
        let n = rest.iter().position(|&b| b == b'\n').ok_or("text argument without a newline (truncated?)")?;
        let line = self.take(n + 1)?;
        Ok(&line[..n])
    }

    // ---- stack, marks, memo

    fn push(&mut self, v: Value) -> Step {
        self.stack.push(v);
        Ok(())
    }

    fn pop(&mut self) -> Step<Value> {
        if self.marks.last().is_some_and(|&m| m >= self.stack.len()) {
            return Err("pops across a MARK".into());
        }
        self.stack.pop().ok_or_else(|| "pops an empty stack".into())
    }

    fn top(&self) -> Step<&Value> {
        if self.marks.last().is_some_and(|&m| m >= self.stack.len()) {
            return Err("reads across a MARK".into());
        }
        self.stack.last().ok_or_else(|| "reads an empty stack".into())
    }

    fn mark(&mut self) -> Step {
        self.marks.push(self.stack.len());
        Ok(())
    }

    fn pop_mark(&mut self) -> Step<Vec<Value>> {
        let m = self.marks.pop().ok_or("no MARK to pop to")?;
        Ok(self.stack.split_off(m))
    }

    fn dup(&mut self) -> Step {
        let v = self.top()?.clone();
        self.push(v)
    }

    fn put(&mut self, idx: u32) -> Step {
        let v = self.top()?.clone();
        if self.memo.len() >= MAX_MEMO && !self.memo.contains_key(&idx) {
            return Err(format!("memo exceeds {MAX_MEMO} entries"));
        }
        self.memo.insert(idx, v);
        Ok(())
    }

    fn memoize(&mut self) -> Step {
        let idx = u32::try_from(self.memo.len()).map_err(|_| "memo index overflow")?;
        self.put(idx)
    }

    fn get(&mut self, idx: u32) -> Step {
        let v = self.memo.get(&idx).cloned().ok_or_else(|| format!("memo entry {idx} was never stored"))?;
        self.push(v)
    }

    fn new_object(&mut self, obj: Object) -> Step {
        if self.objects.len() >= MAX_OBJECTS {
            return Err(format!("more than {MAX_OBJECTS} objects"));
        }
        self.objects.push(obj);
        self.push(Value::Ref(self.objects.len() - 1))
    }

    /// The object a value refers to, for opcodes that mutate it in place.
    fn target(&mut self, v: &Value) -> Step<&mut Object> {
        match v {
            Value::Ref(id) => self.objects.get_mut(*id).ok_or_else(|| "dangling reference".into()),
            other => Err(format!("expects a container but finds {}", scalar_kind(other))),
        }
    }

    fn tuple_items(&self, v: &Value) -> Step<Vec<Value>> {
        match v {
            Value::Ref(id) => match self.objects.get(*id) {
                Some(Object::Tuple(items)) | Some(Object::List(items)) => Ok(items.clone()),
                _ => Err("expects an argument tuple".into()),
            },
            _ => Err("expects an argument tuple".into()),
        }
    }

    // ---- containers

    fn tuple_n(&mut self, n: usize) -> Step {
        let at = self.stack.len().checked_sub(n).ok_or("tuple of more items than the stack holds")?;
        if self.marks.last().is_some_and(|&m| m > at) {
            return Err("tuple crosses a MARK".into());
        }
        let items = self.stack.split_off(at);
        self.new_object(Object::Tuple(items))
    }

    fn append(&mut self, items: Vec<Value>) -> Step {
        let target = self.top()?.clone();
        match self.target(&target)? {
            Object::List(list) => list.extend(items),
            Object::Instance(inst) => inst.list_items.extend(items),
            _ => return Err("APPENDS to something that is not a list".into()),
        }
        Ok(())
    }

    fn setitems_n(&mut self, n: usize) -> Step {
        let mut items = Vec::with_capacity(n);
        for _ in 0..n {
            items.push(self.pop()?);
        }
        items.reverse();
        self.set_items(pairs(items)?)
    }

    fn set_items(&mut self, items: Vec<(Value, Value)>) -> Step {
        let target = self.top()?.clone();
        match self.target(&target)? {
            Object::Dict(dict) => dict.extend(items),
            Object::Instance(inst) => inst.dict_items.extend(items),
            _ => return Err("SETITEMS on something that is not a dict".into()),
        }
        Ok(())
    }

    fn add_items(&mut self, items: Vec<Value>) -> Step {
        let target = self.top()?.clone();
        match self.target(&target)? {
            Object::Set(set) => set.extend(items),
            _ => return Err("ADDITEMS on something that is not a set".into()),
        }
        Ok(())
    }

    // ---- globals and objects

    fn global(&mut self, module: &str, name: &str) -> Step {
        if !is_allowed_global(module, name) {
            return Err(format!("pickle imports {module}.{name}, which a checkpoint never needs; refusing to load"));
        }
        let full: Rc<str> = format!("{}.{name}", normalise_module(module)).into();
        self.new_object(Object::Global(full))
    }

    fn text_global(&mut self) -> Step {
        let module = String::from_utf8_lossy(self.text_line()?).into_owned();
        let name = String::from_utf8_lossy(self.text_line()?).into_owned();
        self.global(&module, &name)
    }

    fn stack_global(&mut self) -> Step {
        let name = self.pop()?;
        let module = self.pop()?;
        match (module, name) {
            (Value::Str(m), Value::Str(n)) => self.global(&m, &n),
            _ => Err("STACK_GLOBAL needs two strings".into()),
        }
    }

    fn global_of(&self, v: &Value) -> Option<&str> {
        match v {
            Value::Ref(id) => match self.objects.get(*id) {
                Some(Object::Global(name)) => Some(name),
                _ => None,
            },
            _ => None,
        }
    }

    fn reduce(&mut self) -> Step {
        let args = self.pop()?;
        let func = self.pop()?;
        let args = self.tuple_items(&args)?;
        // Dicts and sets are data: materialise them so later SETITEMS/BUILD see ordinary containers.
        match self.global_of(&func) {
            Some("collections.OrderedDict") if args.is_empty() => return self.new_object(Object::Dict(Vec::new())),
            Some("builtins.set" | "builtins.frozenset") => {
                let items = match args.first() {
                    None => Vec::new(),
                    Some(v) => self.tuple_items(v).map_err(|_| "set() of something that is not a list")?,
                };
                return self.new_object(Object::Set(items));
            }
            Some(_) => {}
            None => return Err("REDUCE calls something that is not an imported name".into()),
        }
        self.new_object(Object::Instance(Instance { func: Some(func), args, ..Default::default() }))
    }

    fn newobj(&mut self, with_kwargs: bool) -> Step {
        let kwargs = if with_kwargs {
            let kw = self.pop()?;
            match self.target(&kw)? {
                Object::Dict(d) => d.clone(),
                _ => return Err("NEWOBJ_EX keyword arguments are not a dict".into()),
            }
        } else {
            Vec::new()
        };
        let args = self.pop()?;
        let args = self.tuple_items(&args)?;
        let cls = self.pop()?;
        if self.global_of(&cls).is_none() {
            return Err("NEWOBJ of something that is not an imported class".into());
        }
        self.new_object(Object::Instance(Instance { func: Some(cls), args, kwargs, ..Default::default() }))
    }

    fn inst(&mut self) -> Step {
        self.text_global()?;
        let cls = self.pop()?;
        let args = self.pop_mark()?;
        self.new_object(Object::Instance(Instance { func: Some(cls), args, ..Default::default() }))
    }

    fn obj(&mut self) -> Step {
        let mut items = self.pop_mark()?.into_iter();
        let cls = items.next().ok_or("OBJ without a class")?;
        if self.global_of(&cls).is_none() {
            return Err("OBJ of something that is not an imported class".into());
        }
        let args = items.collect();
        self.new_object(Object::Instance(Instance { func: Some(cls), args, ..Default::default() }))
    }

    fn build(&mut self) -> Step {
        let state = self.pop()?;
        let target = self.top()?.clone();
        match self.target(&target)? {
            Object::Instance(inst) => inst.state = Some(state),
            // An OrderedDict's state is its instance attributes (a state dict's `_metadata`), not entries.
            Object::Dict(_) => {}
            _ => return Err("BUILD on something that is not an object".into()),
        }
        Ok(())
    }

    // ---- protocol 0 text arguments

    fn text_int(&mut self) -> Step {
        let line = self.text_line()?;
        let v = match line {
            b"00" => Value::Bool(false),
            b"01" => Value::Bool(true),
            _ => parse_int_text(line)?,
        };
        self.push(v)
    }

    fn text_long(&mut self) -> Step {
        let line = self.text_line()?;
        let line = line.strip_suffix(b"L").unwrap_or(line);
        let v = parse_int_text(line)?;
        self.push(v)
    }

    fn text_float(&mut self) -> Step {
        let line = self.text_line()?;
        let v: f64 = std::str::from_utf8(line)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or("FLOAT argument is not a number")?;
        self.push(Value::Float(v))
    }

    fn text_string(&mut self) -> Step {
        let line = self.text_line()?;
        let inner = match line {
            [q @ (b'\'' | b'"'), inner @ .., last] if last == q => inner,
            _ => return Err("STRING argument is not quoted".into()),
        };
        let bytes = unescape_repr(inner)?;
        self.push(latin_str(&bytes))
    }

    fn text_unicode(&mut self) -> Step {
        let line = self.text_line()?;
        let s = unescape_raw_unicode(line)?;
        self.push(Value::Str(s.into()))
    }
}

fn pairs(items: Vec<Value>) -> Step<Vec<(Value, Value)>> {
    if items.len() % 2 != 0 {
        return Err("odd number of items for a dict".into());
    }
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut it = items.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    Ok(out)
}

fn scalar_kind(v: &Value) -> &'static str {
    match v {
        Value::None => "None",
        Value::Bool(_) => "a bool",
        Value::Int(_) | Value::BigInt(_) => "an int",
        Value::Float(_) => "a float",
        Value::Str(_) => "a str",
        Value::Bytes(_) => "bytes",
        Value::Ref(_) => "an object",
    }
}

fn utf8_str(b: &[u8]) -> Value {
    Value::Str(String::from_utf8_lossy(b).into())
}

/// Python 2 byte strings; torch unpickles them as latin-1 text.
fn latin_str(b: &[u8]) -> Value {
    Value::Str(b.iter().map(|&c| c as char).collect::<String>().into())
}

fn bytes_value(b: &[u8]) -> Value {
    Value::Bytes(b.into())
}

/// LONG1/LONG4 payload: little-endian two's complement of any length.
fn long_value(b: &[u8]) -> Value {
    if b.is_empty() {
        return Value::Int(0);
    }
    if b.len() <= 8 {
        let fill = if b[b.len() - 1] & 0x80 != 0 { 0xff } else { 0 };
        let mut buf = [fill; 8];
        buf[..b.len()].copy_from_slice(b);
        return Value::Int(i64::from_le_bytes(buf));
    }
    let negative = b[b.len() - 1] & 0x80 != 0;
    let magnitude =
        b.iter().rev().fold(0.0f64, |acc, &byte| acc * 256.0 + f64::from(if negative { !byte } else { byte }));
    Value::BigInt(if negative { -(magnitude + 1.0) } else { magnitude })
}

fn parse_int_text(line: &[u8]) -> Step<Value> {
    let s = std::str::from_utf8(line).map_err(|_| "integer argument is not text")?.trim();
    if let Ok(v) = s.parse::<i64>() {
        return Ok(Value::Int(v));
    }
    let digits = s.strip_prefix('-').unwrap_or(s);
    if !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit()) {
        let v: f64 = s.parse().map_err(|_| "integer argument is not a number")?;
        return Ok(Value::BigInt(v));
    }
    Err("integer argument is not a number".into())
}

fn parse_index(line: &[u8]) -> Step<u32> {
    std::str::from_utf8(line)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| "memo index is not a number".into())
}

/// The body of a Python 2 `repr()` of a byte string.
fn unescape_repr(s: &[u8]) -> Step<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut it = s.iter().copied();
    while let Some(c) = it.next() {
        if c != b'\\' {
            out.push(c);
            continue;
        }
        let e = it.next().ok_or("STRING ends inside an escape")?;
        out.push(match e {
            b'n' => b'\n',
            b't' => b'\t',
            b'r' => b'\r',
            b'0' => 0,
            b'x' => {
                let hex = [it.next().unwrap_or(b'?'), it.next().unwrap_or(b'?')];
                std::str::from_utf8(&hex)
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or("bad \\x escape in STRING")?
            }
            other => other,
        });
    }
    Ok(out)
}

/// Python's raw-unicode-escape: latin-1 bytes plus `\uXXXX` / `\UXXXXXXXX`.
fn unescape_raw_unicode(s: &[u8]) -> Step<String> {
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let width = match (s[i], s.get(i + 1)) {
            (b'\\', Some(b'u')) => 4,
            (b'\\', Some(b'U')) => 8,
            (c, _) => {
                out.push(c as char);
                i += 1;
                continue;
            }
        };
        let hex = s.get(i + 2..i + 2 + width).ok_or("UNICODE ends inside an escape")?;
        let code = std::str::from_utf8(hex)
            .ok()
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .and_then(char::from_u32)
            .ok_or("bad escape in UNICODE")?;
        out.push(code);
        i += 2 + width;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_names_outside_the_allow_list() {
        assert!(is_allowed_global("torch._utils", "_rebuild_tensor_v2"));
        assert!(is_allowed_global("__builtin__", "set"));
        assert!(is_allowed_global("ultralytics.nn.modules.conv", "Conv"));
        assert!(is_allowed_global("__torch__.clip.model", "CLIP"));
        assert!(!is_allowed_global("posix", "system"));
        assert!(!is_allowed_global("builtins", "eval"));
        assert!(!is_allowed_global("torch", "load"));
        assert!(!is_allowed_global("torch.nn.modules.conv", ""));
        assert!(!is_allowed_global("ultralytics.nn.tasks", "torch_safe_load"));
        assert!(is_allowed_global("ultralytics.utils.loss", "v8SegmentationLoss"));
        assert!(!is_allowed_global("ultralytics.utils.tal", "make_anchors"));
        assert!(!is_allowed_global("torch.nn.modules.conv", "__class__"));
    }

    fn parse_err(data: &[u8]) -> String {
        parse(data).map(|p| format!("{:?}", p.root)).unwrap_err()
    }

    #[test]
    fn claimed_sizes_are_checked_before_allocating() {
        assert!(parse_err(b"X\xff\xff\xff\xff").contains("claims 4294967295 bytes but only 0 remain"));
        assert!(parse_err(b"\x8d\xff\xff\xff\xff\xff\xff\xff\x7f").contains("remain"));
        assert!(parse_err(b"\x8e\x00\x00\x00\x00\x00\x00\x00\x80").contains("remain"));
    }

    #[test]
    fn malformed_streams_are_errors() {
        assert!(parse_err(b"R.").contains("pops an empty stack"));
        assert!(parse_err(b"j\x05\x00\x00\x00.").contains("memo entry 5 was never stored"));
        assert!(parse_err(b"K\x00(K\x01\x86.").contains("tuple crosses a MARK"));
        assert!(parse_err(b"N").contains("without a STOP"));
        assert!(parse_err(b"\x82\x01.").contains("extension registry"));
        assert!(parse_err(b"\xff.").contains("unknown opcode"));
        assert!(parse_err(b"K\x00K\x01K\x02s.").contains("expects a container but finds an int"));
        assert!(parse_err(b"cos\nsystem\n.").contains("pickle imports os.system"));
        assert!(parse_err(b"\x8c\x08builtins\x8c\x04exec\x93.").contains("pickle imports builtins.exec"));
    }

    #[test]
    fn protocol_0_text_opcodes() {
        let p = parse(b"(lp0\nI1\naI00\naF1.5\naS'a\\x41'\naVb\\u00e9\naL12345678901234567890L\nag0\na.").unwrap();
        let Some(Object::List(items)) = p.object(&p.root) else { panic!("{:?}", p.root) };
        assert_eq!(
            items[..5],
            [
                Value::Int(1),
                Value::Bool(false),
                Value::Float(1.5),
                Value::Str("aA".into()),
                Value::Str("b\u{e9}".into()),
            ]
        );
        assert_eq!(items[5], Value::BigInt(12345678901234567890.0));
        assert_eq!(items[6], p.root, "GET returns the memoised list itself");
    }

    #[test]
    fn shared_objects_stay_shared() {
        // d = {}; l = [d]; d['k'] = 7; l.append(d): both entries see the item set in between.
        let p = parse(b"\x80\x02]q\x00}q\x01ah\x01X\x01\x00\x00\x00kK\x07s0h\x01a.").unwrap();
        let Some(Object::List(items)) = p.object(&p.root) else { panic!() };
        assert_eq!(items[0], items[1]);
        assert_eq!(p.object(&items[0]), Some(&Object::Dict(vec![(Value::Str("k".into()), Value::Int(7))])));
    }

    #[test]
    fn long_values_are_twos_complement() {
        assert_eq!(long_value(&[0xff]), Value::Int(-1));
        assert_eq!(long_value(&[0x00, 0x01]), Value::Int(256));
        assert_eq!(long_value(&[0; 9]), Value::BigInt(0.0));
        assert_eq!(long_value(&[0xff; 9]), Value::BigInt(-1.0));
    }
}
