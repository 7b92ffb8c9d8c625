//! safetensors files (e.g. Hugging Face's CLIP weights): an 8-byte little-endian header length, a JSON header
//! `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`, then the tensor bytes.
//! Every offset is checked against the file and against the other tensors before anything is read.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::Path;

use serde::Deserialize;

use super::dtype::DType;
use crate::{Error, Result, Tensor};

/// The reference implementation's limit on the header size.
const MAX_HEADER: u64 = 100 << 20;

#[derive(Deserialize)]
struct Entry {
    dtype: String,
    shape: Vec<usize>,
    data_offsets: [u64; 2],
}

struct Planned {
    name: String,
    dtype: DType,
    shape: Vec<usize>,
    begin: u64,
    end: u64,
}

/// Reads every tensor of a safetensors file as f32 (F16, BF16, F32, F64 and the integer and bool types).
pub fn load_safetensors(path: impl AsRef<Path>) -> Result<BTreeMap<String, Tensor>> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|e| Error::Io { path: path.to_path_buf(), source: e })?;
    read(path, BufReader::new(file))
}

/// [`load_safetensors`] for a file held in memory; `name` identifies it in errors.
pub fn safetensors_from_bytes(name: &str, bytes: &[u8]) -> Result<BTreeMap<String, Tensor>> {
    read(Path::new(name), Cursor::new(bytes))
}

fn read<R: Read + Seek>(source: &Path, mut reader: R) -> Result<BTreeMap<String, Tensor>> {
    let fail = |reason: String| Error::checkpoint(source, reason);
    let io = |e: std::io::Error| fail(format!("cannot read: {e}"));
    let len = reader.seek(SeekFrom::End(0)).map_err(io)?;
    reader.seek(SeekFrom::Start(0)).map_err(io)?;
    if len < 8 {
        return Err(fail(format!("{len} bytes is too short for a safetensors file")));
    }
    let mut n = [0u8; 8];
    reader.read_exact(&mut n).map_err(io)?;
    let header_len = u64::from_le_bytes(n);
    if header_len > len - 8 || header_len > MAX_HEADER {
        return Err(fail(format!(
            "safetensors header claims {header_len} bytes but the file has {} after the length (not safetensors, or truncated)",
            len - 8
        )));
    }
    let mut header = vec![0u8; header_len as usize];
    reader.read_exact(&mut header).map_err(io)?;
    let data_start = 8 + header_len;
    let plan = plan(&header, len - data_start).map_err(fail)?;

    let mut out = BTreeMap::new();
    let mut buf = Vec::new();
    for t in plan {
        buf.resize((t.end - t.begin) as usize, 0);
        reader.seek(SeekFrom::Start(data_start + t.begin)).map_err(io)?;
        reader.read_exact(&mut buf).map_err(|e| fail(format!("tensor {}: cannot read its data: {e}", t.name)))?;
        let mut data = vec![0f32; buf.len() / t.dtype.size()];
        t.dtype.convert(&buf, &mut data);
        out.insert(t.name, Tensor::new(t.shape, data));
    }
    Ok(out)
}

/// Validates the header: every tensor inside the data section, sized as its shape says, none overlapping.
/// Sorted by offset so the data is read front to back.
fn plan(header: &[u8], data_len: u64) -> std::result::Result<Vec<Planned>, String> {
    let entries: BTreeMap<String, serde_json::Value> =
        serde_json::from_slice(header).map_err(|e| format!("safetensors header is not a JSON object: {e}"))?;
    let mut plan = Vec::with_capacity(entries.len());
    for (name, value) in entries {
        if name == "__metadata__" {
            continue;
        }
        let e: Entry = serde_json::from_value(value).map_err(|e| format!("tensor {name}: bad header entry: {e}"))?;
        let dtype =
            DType::from_safetensors(&e.dtype).ok_or_else(|| format!("tensor {name}: unsupported dtype {}", e.dtype))?;
        let [begin, end] = e.data_offsets;
        if begin > end || end > data_len {
            return Err(format!(
                "tensor {name}: data_offsets [{begin}, {end}] lie outside the {data_len}-byte data section (truncated?)"
            ));
        }
        let bytes = e.shape.iter().try_fold(dtype.size() as u64, |a, &d| a.checked_mul(d as u64));
        if bytes != Some(end - begin) {
            return Err(format!(
                "tensor {name}: tensor size mismatch: shape {:?} of {} needs {} bytes but data_offsets span {}",
                e.shape,
                e.dtype,
                bytes.map_or("too many".to_string(), |b| b.to_string()),
                end - begin
            ));
        }
        plan.push(Planned { name, dtype, shape: e.shape, begin, end });
    }
    plan.sort_by_key(|t| (t.begin, t.end));
    for pair in plan.windows(2) {
        if pair[1].begin < pair[0].end && pair[1].begin < pair[1].end {
            return Err(format!("tensors {} and {} overlap in the data section", pair[0].name, pair[1].name));
        }
    }
    Ok(plan)
}
