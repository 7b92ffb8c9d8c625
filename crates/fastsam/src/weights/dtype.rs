//! Element types of stored tensors and their conversion to f32 (the only type [`crate::Tensor`] holds).
//! Stored data is little-endian in both torch archives and safetensors.

use half::slice::{HalfBitsSliceExt, HalfFloatSliceExt};
use half::{bf16, f16};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DType {
    F16,
    BF16,
    F32,
    F64,
    I64,
    I32,
    I16,
    I8,
    U8,
    Bool,
}

/// Elements converted per batch on the fp16/bf16 path: large enough to amortise the call, small enough to
/// stay in L1.
const BATCH: usize = 1024;

impl DType {
    pub(crate) fn size(self) -> usize {
        match self {
            DType::F64 | DType::I64 => 8,
            DType::F32 | DType::I32 => 4,
            DType::F16 | DType::BF16 | DType::I16 => 2,
            DType::I8 | DType::U8 | DType::Bool => 1,
        }
    }

    /// torch's name for the type, for messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            DType::F16 => "float16",
            DType::BF16 => "bfloat16",
            DType::F32 => "float32",
            DType::F64 => "float64",
            DType::I64 => "int64",
            DType::I32 => "int32",
            DType::I16 => "int16",
            DType::I8 => "int8",
            DType::U8 => "uint8",
            DType::Bool => "bool",
        }
    }

    /// `torch.HalfStorage` and friends, as named in a checkpoint's persistent ids.
    pub(crate) fn from_storage_class(class: &str) -> Option<DType> {
        Some(match class.strip_prefix("torch.")? {
            "HalfStorage" => DType::F16,
            "BFloat16Storage" => DType::BF16,
            "FloatStorage" => DType::F32,
            "DoubleStorage" => DType::F64,
            "LongStorage" => DType::I64,
            "IntStorage" => DType::I32,
            "ShortStorage" => DType::I16,
            "CharStorage" => DType::I8,
            "ByteStorage" => DType::U8,
            "BoolStorage" => DType::Bool,
            _ => return None,
        })
    }

    /// Safetensors dtype codes.
    pub(crate) fn from_safetensors(code: &str) -> Option<DType> {
        Some(match code {
            "F16" => DType::F16,
            "BF16" => DType::BF16,
            "F32" => DType::F32,
            "F64" => DType::F64,
            "I64" => DType::I64,
            "I32" => DType::I32,
            "I16" => DType::I16,
            "I8" => DType::I8,
            "U8" => DType::U8,
            "BOOL" => DType::Bool,
            _ => return None,
        })
    }

    /// Converts `dst.len()` contiguous elements from `src` (exactly `dst.len() * size()` bytes).
    pub(crate) fn convert(self, src: &[u8], dst: &mut [f32]) {
        debug_assert_eq!(src.len(), dst.len() * self.size());
        match self {
            DType::F16 => convert_half(src, dst, |b, d| b.reinterpret_cast::<f16>().convert_to_f32_slice(d)),
            DType::BF16 => convert_half(src, dst, |b, d| b.reinterpret_cast::<bf16>().convert_to_f32_slice(d)),
            DType::F32 => convert_each(src, dst, |b: [u8; 4]| f32::from_le_bytes(b)),
            DType::F64 => convert_each(src, dst, |b: [u8; 8]| f64::from_le_bytes(b) as f32),
            DType::I64 => convert_each(src, dst, |b: [u8; 8]| i64::from_le_bytes(b) as f32),
            DType::I32 => convert_each(src, dst, |b: [u8; 4]| i32::from_le_bytes(b) as f32),
            DType::I16 => convert_each(src, dst, |b: [u8; 2]| f32::from(i16::from_le_bytes(b))),
            DType::I8 => convert_each(src, dst, |b: [u8; 1]| f32::from(b[0] as i8)),
            DType::U8 => convert_each(src, dst, |b: [u8; 1]| f32::from(b[0])),
            DType::Bool => convert_each(src, dst, |b: [u8; 1]| f32::from(u8::from(b[0] != 0))),
        }
    }

    /// One element at element index `i` (the strided path).
    pub(crate) fn read(self, src: &[u8], i: usize) -> f32 {
        let n = self.size();
        let mut out = [0f32];
        self.convert(&src[i * n..(i + 1) * n], &mut out);
        out[0]
    }
}

/// fp16/bf16 go through `half`'s slice conversion, which uses the CPU's conversion instructions when present.
/// The bits are first copied out of the (possibly unaligned) bytes in batches; `to_f32` is a closure, not a
/// function pointer, so the whole loop inlines.
fn convert_half(src: &[u8], dst: &mut [f32], to_f32: impl Fn(&[u16], &mut [f32])) {
    let mut bits = [0u16; BATCH];
    for (s, d) in src.chunks(2 * BATCH).zip(dst.chunks_mut(BATCH)) {
        let bits = &mut bits[..d.len()];
        for (h, b) in bits.iter_mut().zip(s.chunks_exact(2)) {
            *h = u16::from_le_bytes([b[0], b[1]]);
        }
        to_f32(bits, d);
    }
}

fn convert_each<const N: usize>(src: &[u8], dst: &mut [f32], f: impl Fn([u8; N]) -> f32) {
    for (d, s) in dst.iter_mut().zip(src.chunks_exact(N)) {
        let mut b = [0u8; N];
        b.copy_from_slice(s);
        *d = f(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_every_type() {
        let mut out = [0f32; 3];
        DType::F16.convert(&[0x00, 0x3c, 0x00, 0xc0, 0x00, 0x7c], &mut out);
        assert_eq!(out, [1.0, -2.0, f32::INFINITY]);
        DType::BF16.convert(&[0x80, 0x3f, 0x00, 0x00, 0x40, 0xc0], &mut out);
        assert_eq!(out, [1.0, 0.0, -3.0]);
        DType::I8.convert(&[0x80, 0x00, 0x7f], &mut out);
        assert_eq!(out, [-128.0, 0.0, 127.0]);
        DType::Bool.convert(&[2, 0, 1], &mut out);
        assert_eq!(out, [1.0, 0.0, 1.0]);
        assert_eq!(DType::I64.read(&(-7i64).to_le_bytes(), 0), -7.0);
    }
}
