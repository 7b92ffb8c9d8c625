//! The zip container `torch.save` and `torch.jit.save` write: `<prefix>/data.pkl`, storages in
//! `<prefix>/data/<key>`, `<prefix>/byteorder`, and for TorchScript `<prefix>/code/**`.
//!
//! torch writes every record uncompressed, so records the reader needs in bulk (the pickle, storages) must be
//! stored: a deflated storage is how a zip bomb would arrive. Every size is checked against the archive's
//! length before a buffer is allocated.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use zip::{CompressionMethod, ZipArchive};

use super::dtype::DType;
use crate::{Error, Result};

/// TorchScript source files are small; anything larger is not one.
const MAX_CODE_BYTES: u64 = 16 << 20;

pub(crate) struct Archive<R: Read + Seek> {
    zip: ZipArchive<R>,
    source: PathBuf,
    len: u64,
    /// `<prefix>/`, the directory every record lives in.
    prefix: String,
    /// Storage bytes are read into one reused buffer: fresh allocations per storage cost page faults.
    scratch: Vec<u8>,
}

/// Reads raw storage bytes for the object-graph loader, independent of the reader type.
pub(crate) trait StorageSource {
    /// The bytes of storage `key`, which the pickle says holds `numel` elements of `dtype`; valid until the
    /// next call.
    fn storage(&mut self, key: &str, dtype: DType, numel: u64) -> Result<&[u8]>;
}

impl<R: Read + Seek> Archive<R> {
    pub(crate) fn open(source: &Path, mut reader: R) -> Result<Self> {
        let io = |e: std::io::Error| Error::Io { path: source.to_path_buf(), source: e };
        let len = reader.seek(SeekFrom::End(0)).map_err(io)?;
        reader.seek(SeekFrom::Start(0)).map_err(io)?;
        let mut magic = Vec::with_capacity(4);
        (&mut reader).take(4).read_to_end(&mut magic).map_err(io)?;
        reader.seek(SeekFrom::Start(0)).map_err(io)?;
        let fail = |reason: String| Error::checkpoint(source, reason);
        match magic.as_slice() {
            [b'P', b'K', 3, 4] | [b'P', b'K', 5, 6] => {}
            [0x80, ..] => {
                return Err(fail(
                    "legacy (pre-1.6) torch.save format, not a zip archive; re-save it with a current torch".into(),
                ))
            }
            [] => return Err(fail("empty file, not a PyTorch checkpoint".into())),
            _ => return Err(fail("not a PyTorch checkpoint (not a zip archive)".into())),
        }
        let zip = ZipArchive::new(reader).map_err(|e| fail(format!("truncated or damaged zip archive ({e})")))?;
        let prefix = zip
            .file_names()
            .filter_map(|n| n.strip_suffix("data.pkl"))
            .find(|p| p.ends_with('/') && p.matches('/').count() == 1)
            .map(str::to_string)
            .ok_or_else(|| fail("zip archive has no <name>/data.pkl, so it is not a PyTorch checkpoint".into()))?;
        let mut archive = Archive { zip, source: source.to_path_buf(), len, prefix, scratch: Vec::new() };
        archive.check_byteorder()?;
        Ok(archive)
    }

    fn fail(&self, reason: impl Into<String>) -> Error {
        Error::checkpoint(&self.source, reason)
    }

    fn check_byteorder(&mut self) -> Result<()> {
        let name = format!("{}byteorder", self.prefix);
        if self.zip.index_for_name(&name).is_none() {
            return Ok(()); // archives before torch 1.11 have none; they are little-endian
        }
        let order = self.record("byteorder", 16, false)?;
        match order.trim_ascii() {
            b"little" => Ok(()),
            other => Err(self.fail(format!(
                "byteorder is {:?}; only little-endian checkpoints are supported",
                String::from_utf8_lossy(other)
            ))),
        }
    }

    /// Size of the whole archive in bytes.
    pub(crate) fn byte_len(&self) -> u64 {
        self.len
    }

    pub(crate) fn source(&self) -> &Path {
        &self.source
    }

    /// TorchScript archives carry their code next to the data.
    pub(crate) fn is_torchscript(&self) -> bool {
        let code = format!("{}code/", self.prefix);
        let constants = format!("{}constants.pkl", self.prefix);
        self.zip.file_names().any(|n| n.starts_with(&code) || n == constants)
    }

    /// `(path under code/, source)` of every TorchScript source file.
    pub(crate) fn code_files(&mut self) -> Result<Vec<(String, Vec<u8>)>> {
        let code = format!("{}code/", self.prefix);
        let names: Vec<String> =
            self.zip.file_names().filter(|n| n.starts_with(&code) && n.ends_with(".py")).map(str::to_string).collect();
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let relative = name[self.prefix.len()..].to_string();
            let data = self.record(&relative, MAX_CODE_BYTES, true)?;
            out.push((relative["code/".len()..].to_string(), data));
        }
        Ok(out)
    }

    /// The pickle `torch.load` starts from.
    pub(crate) fn data_pkl(&mut self) -> Result<Vec<u8>> {
        self.record("data.pkl", self.len, false)
    }

    /// A record by its path under the prefix, at most `max` bytes; compressed records only if `deflate_ok`.
    fn record(&mut self, relative: &str, max: u64, deflate_ok: bool) -> Result<Vec<u8>> {
        let name = format!("{}{relative}", self.prefix);
        let len = self.len;
        let source = self.source.clone();
        let fail = |reason: String| Error::checkpoint(&source, reason);
        let entry = self.zip.by_name(&name).map_err(|e| fail(format!("cannot read {relative}: {e}")))?;
        let size = entry.size();
        match entry.compression() {
            CompressionMethod::Stored if entry.compressed_size() <= len => {}
            CompressionMethod::Stored => {
                return Err(fail(format!("{relative} claims {size} bytes, more than the whole archive (truncated?)")))
            }
            CompressionMethod::Deflated if deflate_ok => {}
            other => {
                return Err(fail(format!("{relative} is compressed ({other}); torch never compresses it, refusing")))
            }
        }
        if size > max {
            return Err(fail(format!("{relative} is {size} bytes, more than the {max} allowed")));
        }
        let mut out = Vec::with_capacity(size as usize);
        entry.take(size + 1).read_to_end(&mut out).map_err(|e| fail(format!("cannot read {relative}: {e}")))?;
        if out.len() as u64 != size {
            return Err(fail(format!("{relative} holds {} bytes but its header says {size}", out.len())));
        }
        Ok(out)
    }
}

impl<R: Read + Seek> StorageSource for Archive<R> {
    fn storage(&mut self, key: &str, dtype: DType, numel: u64) -> Result<&[u8]> {
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(self.fail(format!("storage key {key:?} is not a record name")));
        }
        let relative = format!("data/{key}");
        let name = format!("{}{relative}", self.prefix);
        let expected = numel.checked_mul(dtype.size() as u64);
        let len = self.len;
        let source = self.source.clone();
        let fail = |reason: String| Error::checkpoint(&source, reason);
        let mut entry = match self.zip.by_name(&name) {
            Ok(e) => e,
            Err(zip::result::ZipError::FileNotFound) => {
                return Err(fail(format!("storage {relative} is missing from the archive")))
            }
            Err(e) => return Err(fail(format!("cannot read storage {relative}: {e}"))),
        };
        if entry.compression() != CompressionMethod::Stored {
            return Err(fail(format!(
                "storage {relative} is compressed ({}); torch never compresses storages, refusing a possible zip bomb",
                entry.compression()
            )));
        }
        let expected = match expected {
            Some(n) if n == entry.size() && n <= len => n,
            _ => {
                return Err(fail(format!(
                    "tensor size mismatch: storage {relative} holds {} bytes but the pickle claims {numel} elements \
                     of {}",
                    entry.size(),
                    dtype.name()
                )))
            }
        };
        let read_err = |e: std::io::Error| fail(format!("cannot read storage {relative} (truncated?): {e}"));
        self.scratch.clear();
        (&mut entry).take(expected).read_to_end(&mut self.scratch).map_err(read_err)?;
        // Reading on to the end makes the zip reader verify the record's CRC.
        let extra = entry.read(&mut [0u8; 1]).map_err(read_err)?;
        if self.scratch.len() as u64 != expected || extra != 0 {
            return Err(fail(format!("storage {relative} does not hold the {expected} bytes its header says")));
        }
        Ok(&self.scratch)
    }
}
