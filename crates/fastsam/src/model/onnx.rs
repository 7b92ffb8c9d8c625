//! A small hand-written ONNX writer: the handful of protobuf messages a convolutional network needs, encoded
//! directly (varints and length-delimited fields), plus a builder that model files use like a layer library.
//!
//! Field numbers follow `onnx/onnx.proto` (IR version 8). Only what ONNX Runtime and `onnx.checker` require is
//! written; everything else keeps its protobuf default.

use crate::Tensor;

/// ONNX IR version written into models (ONNX 1.10+, understood by every ONNX Runtime since 1.10).
pub const IR_VERSION: i64 = 8;
/// Default operator set of the standard (`ai.onnx`) domain.
pub const OPSET: i64 = 17;

const ELEM_FLOAT: i32 = 1;
const ELEM_UINT8: i32 = 2;
const ELEM_INT8: i32 = 3;
const ELEM_INT32: i32 = 6;
const ELEM_INT64: i32 = 7;

/// Protobuf wire encoding of the fields used here.
mod wire {
    pub fn varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    pub fn varint_len(v: u64) -> usize {
        (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
    }

    pub fn key(out: &mut Vec<u8>, field: u32, wire_type: u8) {
        varint(out, (u64::from(field) << 3) | u64::from(wire_type));
    }

    /// An int32/int64/enum field (negative values are sign-extended to ten bytes, as protobuf requires).
    pub fn int(out: &mut Vec<u8>, field: u32, v: i64) {
        key(out, field, 0);
        varint(out, v as u64);
    }

    pub fn float(out: &mut Vec<u8>, field: u32, v: f32) {
        key(out, field, 5);
        out.extend_from_slice(&v.to_le_bytes());
    }

    pub fn bytes(out: &mut Vec<u8>, field: u32, v: &[u8]) {
        key(out, field, 2);
        varint(out, v.len() as u64);
        out.extend_from_slice(v);
    }

    pub fn string(out: &mut Vec<u8>, field: u32, v: &str) {
        bytes(out, field, v.as_bytes());
    }

    /// An embedded message, encoded by `body` into a scratch buffer first (its length prefix comes before it).
    pub fn message(out: &mut Vec<u8>, field: u32, body: impl FnOnce(&mut Vec<u8>)) {
        let mut buf = Vec::new();
        body(&mut buf);
        bytes(out, field, &buf);
    }

    /// A repeated int64 field in packed form (parsers must accept packed for any repeated scalar).
    pub fn packed_ints(out: &mut Vec<u8>, field: u32, vs: &[i64]) {
        let mut buf = Vec::with_capacity(vs.len() * 2);
        for &v in vs {
            varint(&mut buf, v as u64);
        }
        bytes(out, field, &buf);
    }

    pub fn packed_floats(out: &mut Vec<u8>, field: u32, vs: &[f32]) {
        let buf: Vec<u8> = vs.iter().flat_map(|v| v.to_le_bytes()).collect();
        bytes(out, field, &buf);
    }
}

/// Values of an initializer or constant tensor.
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    F32(Vec<f32>),
    I64(Vec<i64>),
    /// Quantised weights (per-channel int8), activation zero points (uint8) and quantised biases (int32).
    I8(Vec<i8>),
    U8(Vec<u8>),
    I32(Vec<i32>),
}

impl TensorData {
    /// `raw_data` bytes (little-endian by definition, whatever the host); int64 values are written packed.
    fn raw_bytes(&self) -> Vec<u8> {
        match self {
            TensorData::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            TensorData::I8(v) => v.iter().map(|&x| x as u8).collect(),
            TensorData::U8(v) => v.clone(),
            TensorData::I32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            TensorData::I64(_) => Vec::new(),
        }
    }
}

/// `TensorProto`: a named constant (initializer or attribute value).
#[derive(Debug, Clone, PartialEq)]
pub struct TensorProto {
    pub name: String,
    pub dims: Vec<i64>,
    pub data: TensorData,
}

impl TensorProto {
    pub fn f32(name: impl Into<String>, t: &Tensor) -> Self {
        let dims = t.shape.iter().map(|&d| d as i64).collect();
        TensorProto { name: name.into(), dims, data: TensorData::F32(t.data.clone()) }
    }

    pub fn i64(name: impl Into<String>, dims: Vec<i64>, values: Vec<i64>) -> Self {
        TensorProto { name: name.into(), dims, data: TensorData::I64(values) }
    }

    /// Every field but `raw_data`.
    fn encode_header(&self, out: &mut Vec<u8>) {
        wire::packed_ints(out, 1, &self.dims);
        let elem = match &self.data {
            TensorData::F32(_) => ELEM_FLOAT,
            TensorData::U8(_) => ELEM_UINT8,
            TensorData::I8(_) => ELEM_INT8,
            TensorData::I32(_) => ELEM_INT32,
            TensorData::I64(_) => ELEM_INT64,
        };
        wire::int(out, 2, i64::from(elem));
        if let TensorData::I64(v) = &self.data {
            wire::packed_ints(out, 7, v);
        }
        wire::string(out, 8, &self.name);
    }

    fn raw_len(&self) -> usize {
        match &self.data {
            TensorData::F32(v) => 4 * v.len(),
            TensorData::I32(v) => 4 * v.len(),
            TensorData::I8(v) => v.len(),
            TensorData::U8(v) => v.len(),
            TensorData::I64(_) => 0,
        }
    }

    /// The encoded header and the length of the `raw_data` field (key and length prefix included).
    fn parts(&self) -> (Vec<u8>, usize) {
        let mut header = Vec::new();
        self.encode_header(&mut header);
        let raw = self.raw_len();
        (header, if raw > 0 { 1 + wire::varint_len(raw as u64) + raw } else { 0 })
    }

    /// Writes this tensor as embedded message `field`. Weights are written once, straight into `out`: the
    /// message length is computed up front instead of encoding into a scratch buffer.
    fn encode_as_field(&self, out: &mut Vec<u8>, field: u32) {
        let (header, raw_field) = self.parts();
        wire::key(out, field, 2);
        wire::varint(out, (header.len() + raw_field) as u64);
        out.extend_from_slice(&header);
        if raw_field > 0 {
            wire::key(out, 9, 2);
            wire::varint(out, self.raw_len() as u64);
            match &self.data {
                // The bulk of a model: written straight into `out`, no intermediate copy.
                TensorData::F32(v) => {
                    out.reserve(self.raw_len());
                    for x in v {
                        out.extend_from_slice(&x.to_le_bytes());
                    }
                }
                other => out.extend_from_slice(&other.raw_bytes()),
            }
        }
    }

    fn field_len(&self) -> usize {
        let (header, raw_field) = self.parts();
        let body = header.len() + raw_field;
        1 + wire::varint_len(body as u64) + body
    }
}

/// `AttributeProto` values.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    Int(i64),
    Ints(Vec<i64>),
    Float(f32),
    Floats(Vec<f32>),
    Str(String),
    Tensor(TensorProto),
}

impl AttrValue {
    fn encode(&self, name: &str, out: &mut Vec<u8>) {
        wire::string(out, 1, name);
        // AttributeType enum: FLOAT=1, INT=2, STRING=3, TENSOR=4, FLOATS=6, INTS=7.
        let ty = match self {
            AttrValue::Float(v) => {
                wire::float(out, 2, *v);
                1
            }
            AttrValue::Int(v) => {
                wire::int(out, 3, *v);
                2
            }
            AttrValue::Str(s) => {
                wire::string(out, 4, s);
                3
            }
            AttrValue::Tensor(t) => {
                t.encode_as_field(out, 5);
                4
            }
            AttrValue::Floats(v) => {
                wire::packed_floats(out, 7, v);
                6
            }
            AttrValue::Ints(v) => {
                wire::packed_ints(out, 8, v);
                7
            }
        };
        wire::int(out, 20, ty);
    }
}

impl From<i64> for AttrValue {
    fn from(v: i64) -> Self {
        AttrValue::Int(v)
    }
}

impl From<Vec<i64>> for AttrValue {
    fn from(v: Vec<i64>) -> Self {
        AttrValue::Ints(v)
    }
}

impl From<f32> for AttrValue {
    fn from(v: f32) -> Self {
        AttrValue::Float(v)
    }
}

impl From<Vec<f32>> for AttrValue {
    fn from(v: Vec<f32>) -> Self {
        AttrValue::Floats(v)
    }
}

impl From<&str> for AttrValue {
    fn from(v: &str) -> Self {
        AttrValue::Str(v.to_string())
    }
}

impl From<TensorProto> for AttrValue {
    fn from(v: TensorProto) -> Self {
        AttrValue::Tensor(v)
    }
}

/// `NodeProto`.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub name: String,
    pub op_type: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub attrs: Vec<(String, AttrValue)>,
    /// Operator domain; empty for the standard `ai.onnx` operators.
    pub domain: String,
}

impl Node {
    fn encode(&self, out: &mut Vec<u8>) {
        for i in &self.inputs {
            wire::string(out, 1, i);
        }
        for o in &self.outputs {
            wire::string(out, 2, o);
        }
        wire::string(out, 3, &self.name);
        wire::string(out, 4, &self.op_type);
        for (name, value) in &self.attrs {
            wire::message(out, 5, |b| value.encode(name, b));
        }
        if !self.domain.is_empty() {
            wire::string(out, 7, &self.domain);
        }
    }
}

/// One dimension of a graph input or output: a fixed size or a named symbolic size.
#[derive(Debug, Clone, PartialEq)]
pub enum Dim {
    Fixed(i64),
    Param(String),
}

impl Dim {
    pub fn param(name: &str) -> Self {
        Dim::Param(name.to_string())
    }
}

/// `ValueInfoProto` of a float tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueInfo {
    pub name: String,
    pub dims: Vec<Dim>,
}

impl ValueInfo {
    fn encode(&self, out: &mut Vec<u8>) {
        wire::string(out, 1, &self.name);
        // TypeProto.tensor_type { elem_type, shape { dim* } }
        wire::message(out, 2, |ty| {
            wire::message(ty, 1, |tensor| {
                wire::int(tensor, 1, i64::from(ELEM_FLOAT));
                wire::message(tensor, 2, |shape| {
                    for d in &self.dims {
                        wire::message(shape, 1, |dim| match d {
                            Dim::Fixed(v) => wire::int(dim, 1, *v),
                            Dim::Param(p) => wire::string(dim, 2, p),
                        });
                    }
                });
            });
        });
    }
}

/// `GraphProto`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Graph {
    pub name: String,
    pub nodes: Vec<Node>,
    pub initializers: Vec<TensorProto>,
    pub inputs: Vec<ValueInfo>,
    pub outputs: Vec<ValueInfo>,
}

impl Graph {
    /// Every field but the initializers (small).
    fn encode_structure(&self, out: &mut Vec<u8>) {
        for n in &self.nodes {
            wire::message(out, 1, |b| n.encode(b));
        }
        wire::string(out, 2, &self.name);
        for v in &self.inputs {
            wire::message(out, 11, |b| v.encode(b));
        }
        for v in &self.outputs {
            wire::message(out, 12, |b| v.encode(b));
        }
    }

    fn encode_as_field(&self, out: &mut Vec<u8>, field: u32) {
        let mut structure = Vec::new();
        self.encode_structure(&mut structure);
        let body = structure.len() + self.initializers.iter().map(TensorProto::field_len).sum::<usize>();
        out.reserve(body + 16);
        wire::key(out, field, 2);
        wire::varint(out, body as u64);
        out.extend_from_slice(&structure);
        for t in &self.initializers {
            t.encode_as_field(out, 5);
        }
    }
}

/// `ModelProto` with one graph in the default domain.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub graph: Graph,
    pub opset: i64,
    pub producer: String,
    /// Opset versions of the non-standard domains the nodes use (custom operators).
    pub custom_domains: Vec<(String, i64)>,
}

impl Model {
    /// The serialized `ModelProto`, ready for ONNX Runtime or a `.onnx` file.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        wire::int(&mut out, 1, IR_VERSION);
        wire::string(&mut out, 2, &self.producer);
        wire::string(&mut out, 3, env!("CARGO_PKG_VERSION"));
        self.graph.encode_as_field(&mut out, 7);
        // OperatorSetIdProto { domain = "" (default), version }
        wire::message(&mut out, 8, |b| wire::int(b, 2, self.opset));
        for (domain, version) in &self.custom_domains {
            wire::message(&mut out, 8, |b| {
                wire::string(b, 1, domain);
                wire::int(b, 2, *version);
            });
        }
        out
    }
}

/// Hyper-parameters of a 2-D convolution (symmetric padding, as `torch.nn.Conv2d` with integer padding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2d {
    pub stride: [i64; 2],
    pub padding: [i64; 2],
    pub dilation: [i64; 2],
    pub groups: i64,
}

impl Default for Conv2d {
    fn default() -> Self {
        Conv2d { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 }
    }
}

/// Builds a graph node by node. Every method returns the name of the value it produced, so model code reads
/// as a chain of layer calls. Value names are the caller's hint made unique (`model.2.cv1`, `model.2.cv1_1`).
#[derive(Debug, Default)]
pub struct GraphBuilder {
    graph: Graph,
    used: std::collections::HashSet<String>,
}

impl GraphBuilder {
    pub fn new(name: &str) -> Self {
        GraphBuilder { graph: Graph { name: name.to_string(), ..Graph::default() }, used: Default::default() }
    }

    fn unique(&mut self, hint: &str) -> String {
        let mut name = hint.to_string();
        let mut n = 0;
        while self.used.contains(&name) {
            n += 1;
            name = format!("{hint}_{n}");
        }
        self.used.insert(name.clone());
        name
    }

    /// Declares a float graph input.
    pub fn input(&mut self, name: &str, dims: Vec<Dim>) -> String {
        let name = self.unique(name);
        self.graph.inputs.push(ValueInfo { name: name.clone(), dims });
        name
    }

    /// Exposes `value` as a graph output called `name` (through an Identity when the names differ).
    pub fn output(&mut self, value: &str, name: &str, dims: Vec<Dim>) {
        let name = if value == name { name.to_string() } else { self.op_named("Identity", name, &[value], vec![]) };
        self.graph.outputs.push(ValueInfo { name, dims });
    }

    /// Adds an fp32 initializer.
    pub fn weight(&mut self, hint: &str, t: &Tensor) -> String {
        let name = self.unique(hint);
        self.graph.initializers.push(TensorProto::f32(name.clone(), t));
        name
    }

    /// Adds a 1-D int64 initializer (shapes, split sizes, axes).
    pub fn ints(&mut self, hint: &str, values: &[i64]) -> String {
        let name = self.unique(hint);
        self.graph.initializers.push(TensorProto::i64(name.clone(), vec![values.len() as i64], values.to_vec()));
        name
    }

    /// Adds a node with one output named after `hint`.
    pub fn op_named(&mut self, op: &str, hint: &str, inputs: &[&str], attrs: Vec<(&str, AttrValue)>) -> String {
        self.op_multi(op, hint, inputs, attrs, 1).remove(0)
    }

    /// Adds a node with `n_outputs` outputs (`hint`, `hint_1`, ...).
    pub fn op_multi(
        &mut self,
        op: &str,
        hint: &str,
        inputs: &[&str],
        attrs: Vec<(&str, AttrValue)>,
        n_outputs: usize,
    ) -> Vec<String> {
        let node_name = self.unique(hint);
        let outputs: Vec<String> = if n_outputs == 1 {
            vec![node_name.clone()]
        } else {
            (0..n_outputs).map(|i| self.unique(&format!("{node_name}.{i}"))).collect()
        };
        self.graph.nodes.push(Node {
            name: node_name,
            op_type: op.to_string(),
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            outputs: outputs.clone(),
            attrs: attrs.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            domain: String::new(),
        });
        outputs
    }

    /// `Conv` with an fp32 weight (OIHW) and optional bias.
    pub fn conv(&mut self, hint: &str, x: &str, weight: &Tensor, bias: Option<&Tensor>, p: Conv2d) -> String {
        self.convolution("Conv", hint, x, weight, bias, p)
    }

    /// `ConvTranspose` (weight IOHW as in `torch.nn.ConvTranspose2d`, no output padding).
    pub fn conv_transpose(&mut self, hint: &str, x: &str, weight: &Tensor, bias: Option<&Tensor>, p: Conv2d) -> String {
        self.convolution("ConvTranspose", hint, x, weight, bias, p)
    }

    /// `Conv` and `ConvTranspose` share their inputs and attributes; only the weight layout differs.
    fn convolution(
        &mut self,
        op: &str,
        hint: &str,
        x: &str,
        weight: &Tensor,
        bias: Option<&Tensor>,
        p: Conv2d,
    ) -> String {
        let w = self.weight(&format!("{hint}.weight"), weight);
        let mut inputs = vec![x.to_string(), w];
        if let Some(b) = bias {
            inputs.push(self.weight(&format!("{hint}.bias"), b));
        }
        let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let kernel: Vec<i64> = weight.shape[2..].iter().map(|&k| k as i64).collect();
        let attrs = vec![
            ("kernel_shape", kernel.into()),
            ("strides", p.stride.to_vec().into()),
            ("pads", vec![p.padding[0], p.padding[1], p.padding[0], p.padding[1]].into()),
            ("dilations", p.dilation.to_vec().into()),
            ("group", p.groups.into()),
        ];
        self.op_named(op, hint, &refs, attrs)
    }

    /// SiLU as `x * sigmoid(x)` (no SiLU operator in the standard opsets).
    pub fn silu(&mut self, hint: &str, x: &str) -> String {
        let s = self.op_named("Sigmoid", &format!("{hint}.sigmoid"), &[x], vec![]);
        self.op_named("Mul", hint, &[x, &s], vec![])
    }

    pub fn sigmoid(&mut self, hint: &str, x: &str) -> String {
        self.op_named("Sigmoid", hint, &[x], vec![])
    }

    pub fn add(&mut self, hint: &str, a: &str, b: &str) -> String {
        self.op_named("Add", hint, &[a, b], vec![])
    }

    pub fn concat(&mut self, hint: &str, xs: &[&str], axis: i64) -> String {
        self.op_named("Concat", hint, xs, vec![("axis", axis.into())])
    }

    /// `Split` into pieces of the given sizes along `axis` (opset 13+: sizes as an input).
    pub fn split(&mut self, hint: &str, x: &str, axis: i64, sizes: &[i64]) -> Vec<String> {
        let s = self.ints(&format!("{hint}.sizes"), sizes);
        self.op_multi("Split", hint, &[x, &s], vec![("axis", axis.into())], sizes.len())
    }

    /// `MaxPool` with square kernel/stride/padding (floor mode, as torch's default).
    pub fn max_pool(&mut self, hint: &str, x: &str, kernel: [i64; 2], stride: [i64; 2], pad: [i64; 2]) -> String {
        let attrs = vec![
            ("kernel_shape", kernel.to_vec().into()),
            ("strides", stride.to_vec().into()),
            ("pads", vec![pad[0], pad[1], pad[0], pad[1]].into()),
        ];
        self.op_named("MaxPool", hint, &[x], attrs)
    }

    /// Nearest-neighbour upsampling by per-axis scale factors of an NCHW tensor, indexing as torch's
    /// `nn.Upsample(mode="nearest")` does (`src = floor(dst / scale)`).
    pub fn upsample_nearest(&mut self, hint: &str, x: &str, scale: [f32; 2]) -> String {
        let scales = self.weight(&format!("{hint}.scales"), &Tensor::new(vec![4], vec![1.0, 1.0, scale[0], scale[1]]));
        let attrs = vec![
            ("mode", "nearest".into()),
            ("coordinate_transformation_mode", "asymmetric".into()),
            ("nearest_mode", "floor".into()),
        ];
        self.op_named("Resize", hint, &[x, "", &scales], attrs)
    }

    /// `Reshape` to a constant shape (`0` copies a dimension, `-1` infers one).
    pub fn reshape(&mut self, hint: &str, x: &str, shape: &[i64]) -> String {
        let s = self.ints(&format!("{hint}.shape"), shape);
        self.op_named("Reshape", hint, &[x, &s], vec![])
    }

    pub fn mul(&mut self, hint: &str, a: &str, b: &str) -> String {
        self.op_named("Mul", hint, &[a, b], vec![])
    }

    pub fn matmul(&mut self, hint: &str, a: &str, b: &str) -> String {
        self.op_named("MatMul", hint, &[a, b], vec![])
    }

    pub fn transpose(&mut self, hint: &str, x: &str, perm: &[i64]) -> String {
        self.op_named("Transpose", hint, &[x], vec![("perm", perm.to_vec().into())])
    }

    pub fn softmax(&mut self, hint: &str, x: &str, axis: i64) -> String {
        self.op_named("Softmax", hint, &[x], vec![("axis", axis.into())])
    }

    /// `LayerNormalization` (opset 17) over the last axis with fp32 scale and bias, as `torch.nn.LayerNorm`.
    pub fn layer_norm(&mut self, hint: &str, x: &str, weight: &Tensor, bias: &Tensor, epsilon: f32) -> String {
        let w = self.weight(&format!("{hint}.weight"), weight);
        let b = self.weight(&format!("{hint}.bias"), bias);
        self.op_named(
            "LayerNormalization",
            hint,
            &[x, &w, &b],
            vec![("axis", (-1i64).into()), ("epsilon", epsilon.into())],
        )
    }

    pub fn finish(self, producer: &str) -> Model {
        Model { graph: self.graph, opset: OPSET, producer: producer.to_string(), custom_domains: Vec::new() }
    }
}

/// Whether `bytes` look like a serialized ONNX `ModelProto` (see [`model_metadata`]).
pub fn looks_like_model(bytes: &[u8]) -> bool {
    model_metadata(bytes).is_some()
}

/// The `metadata_props` (key, value) pairs of a serialized ONNX `ModelProto`, or `None` when `bytes` are not
/// one: the top level must parse as protobuf fields of valid wire types and hold a graph (field 7). Cheap even
/// for large files: only top-level fields are walked.
pub fn model_metadata(bytes: &[u8]) -> Option<Vec<(String, String)>> {
    let mut has_graph = false;
    let mut props = Vec::new();
    for field in fields(bytes) {
        let (number, value) = field?;
        match (number, value) {
            (7, Field::Bytes(_)) => has_graph = true,
            (14, Field::Bytes(entry)) => props.push(string_entry(entry)?),
            (7 | 14, _) => return None,
            _ => {}
        }
    }
    has_graph.then_some(props)
}

/// `StringStringEntryProto { key = 1; value = 2; }`
fn string_entry(bytes: &[u8]) -> Option<(String, String)> {
    let (mut key, mut value) = (String::new(), String::new());
    for field in fields(bytes) {
        match field? {
            (1, Field::Bytes(b)) => key = String::from_utf8_lossy(b).into_owned(),
            (2, Field::Bytes(b)) => value = String::from_utf8_lossy(b).into_owned(),
            _ => {}
        }
    }
    Some((key, value))
}

enum Field<'a> {
    Scalar,
    Bytes(&'a [u8]),
}

/// The fields of one protobuf message; an item is `None` (and ends the walk) where the encoding is invalid.
fn fields(bytes: &[u8]) -> impl Iterator<Item = Option<(u64, Field<'_>)>> + '_ {
    let mut pos = 0usize;
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed || pos >= bytes.len() {
            return None;
        }
        let item = next_field(bytes, &mut pos);
        failed = item.is_none();
        Some(item)
    })
}

fn next_field<'a>(bytes: &'a [u8], pos: &mut usize) -> Option<(u64, Field<'a>)> {
    let (key, next) = read_varint(bytes, *pos)?;
    let (number, wire_type) = (key >> 3, key & 7);
    if number == 0 {
        return None;
    }
    let (field, end) = match wire_type {
        0 => (Field::Scalar, read_varint(bytes, next)?.1),
        1 => (Field::Scalar, next.checked_add(8)?),
        5 => (Field::Scalar, next.checked_add(4)?),
        2 => {
            let (len, start) = read_varint(bytes, next)?;
            let end = start.checked_add(usize::try_from(len).ok()?)?;
            (Field::Bytes(bytes.get(start..end)?), end)
        }
        _ => return None,
    };
    if end > bytes.len() {
        return None;
    }
    *pos = end;
    Some((number, field))
}

fn read_varint(bytes: &[u8], mut pos: usize) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(pos)?;
        pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some((v, pos));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_match_the_protobuf_examples() {
        // From the protobuf encoding guide: 1 -> 01, 150 -> 96 01, 300 -> ac 02; -1 takes ten bytes.
        for (v, enc) in [(1u64, vec![0x01]), (150, vec![0x96, 0x01]), (300, vec![0xac, 0x02])] {
            let mut out = Vec::new();
            wire::varint(&mut out, v);
            assert_eq!(out, enc);
        }
        let mut out = Vec::new();
        wire::int(&mut out, 1, -1);
        assert_eq!(out.len(), 11);
        assert_eq!(read_varint(&out, 1), Some((u64::MAX, 11)));
        for v in [0u64, 1, 127, 128, 16_383, 16_384, u64::MAX] {
            let mut out = Vec::new();
            wire::varint(&mut out, v);
            assert_eq!(wire::varint_len(v), out.len(), "{v}");
        }
    }

    #[test]
    fn encoded_model_is_recognised_and_garbage_is_not() {
        let mut g = GraphBuilder::new("g");
        let x = g.input("x", vec![Dim::Fixed(1), Dim::param("n")]);
        let y = g.sigmoid("y", &x);
        g.output(&y, "y", vec![Dim::Fixed(1), Dim::param("n")]);
        let bytes = g.finish("test").encode();
        assert!(looks_like_model(&bytes));
        assert_eq!(model_metadata(&bytes), Some(vec![]));
        assert!(!looks_like_model(b"PK\x03\x04 not a model"));
        assert!(!looks_like_model(b""));
    }

    #[test]
    fn value_names_are_made_unique() {
        let mut g = GraphBuilder::new("g");
        assert_eq!(g.unique("a"), "a");
        assert_eq!(g.unique("a"), "a_1");
        assert_eq!(g.unique("a"), "a_2");
    }
}
