//! Downloading a weights file safely: into `<target>.part`, resumed with an HTTP `Range` request after an
//! interruption, checked against its SHA-256, and only then renamed to `<target>`. A file that fails the
//! check is deleted, never used.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// What the downloaded file must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// Size in bytes, when known: a longer partial file is discarded and the total shows in progress reports.
    pub size: Option<u64>,
    /// Lower-case hex SHA-256.
    pub sha256: String,
}

/// How far a download is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes on disk so far, including those of a resumed partial file.
    pub done: u64,
    pub total: Option<u64>,
}

/// Network timeouts of a download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    /// Longest wait for any bytes once connected; a stalled server fails the download (the partial file stays
    /// and is resumed next time).
    pub idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts { connect: Duration::from_secs(30), idle: Duration::from_secs(60) }
    }
}

/// Downloads `url` to `target` with the default timeouts; see [`download_with`].
pub fn download(url: &str, target: &Path, expected: &Expected, progress: &mut dyn FnMut(Progress)) -> Result<()> {
    download_with(url, target, expected, Timeouts::default(), progress)
}

/// Downloads `url` to `target`, resuming `<target>.part` if an earlier attempt left one, and verifies the
/// result against `expected` before renaming it into place. `progress` is called as bytes arrive.
pub fn download_with(
    url: &str,
    target: &Path,
    expected: &Expected,
    timeouts: Timeouts,
    progress: &mut dyn FnMut(Progress),
) -> Result<()> {
    let part = part_path(target);
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io { path: dir.to_path_buf(), source })?;
    }
    let mut have = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
    if expected.size.is_some_and(|size| have > size) {
        remove(&part);
        have = 0;
    }
    // A complete partial file (the process stopped between download and rename) needs no request.
    if expected.size != Some(have) || have == 0 {
        fetch(url, target, &part, have, expected.size, timeouts, progress)?;
    }
    verify_part(&part, target, expected)?;
    std::fs::rename(&part, target).map_err(|source| Error::Io { path: target.to_path_buf(), source })
}

/// Lower-case hex SHA-256 of a file.
pub fn sha256_file(path: &Path) -> Result<String> {
    let io_err = |source| Error::Io { path: path.to_path_buf(), source };
    let mut file = File::open(path).map_err(io_err)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(io_err)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Writes next to the destination and renames, so a reader never sees a half-written file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|source| Error::Io { path: dir.to_path_buf(), source })?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}-{:?}", std::process::id(), std::thread::current().id()));
    let result = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    result.map_err(|source| {
        remove(&tmp);
        Error::Io { path: path.to_path_buf(), source }
    })
}

/// `<target>.part`: where bytes accumulate until the whole file is verified.
pub fn part_path(target: &Path) -> PathBuf {
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    target.with_file_name(name)
}

fn fetch(
    url: &str,
    target: &Path,
    part: &Path,
    have: u64,
    size: Option<u64>,
    timeouts: Timeouts,
    progress: &mut dyn FnMut(Progress),
) -> Result<()> {
    let unreachable = |cause: String| Error::Download {
        target: target.to_path_buf(),
        reason: format!(
            "cannot download {url}: {cause}. Download it by hand from {url} and save it as {} \
             (or set FASTSAM_MIRROR to a server that has it)",
            target.display()
        ),
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(timeouts.connect))
        .timeout_per_read(Some(timeouts.idle))
        .http_status_as_error(false)
        .build()
        .into();
    let mut request = agent.get(url);
    if have > 0 {
        request = request.header("Range", format!("bytes={have}-"));
    }
    let mut response = request.call().map_err(|e| unreachable(e.to_string()))?;
    let status = response.status().as_u16();
    let start = match status {
        206 => content_range_start(&response).filter(|&s| s == have).ok_or_else(|| {
            unreachable(format!("the server answered a request for bytes {have}- with another range"))
        })?,
        // The server ignored the range (or none was asked): start over.
        200 => 0,
        // Nothing left at that offset: the partial file is stale; start over next time.
        416 => {
            remove(part);
            return Err(unreachable("the server refused to resume the partial download; retry to start over".into()));
        }
        _ => return Err(unreachable(format!("HTTP status {status}"))),
    };
    let total = size.or_else(|| response.body().content_length().map(|len| len + start));
    let io_err = |source| Error::Io { path: part.to_path_buf(), source };
    let mut file = OpenOptions::new()
        .create(true)
        .write(true)
        .append(start > 0)
        .truncate(start == 0)
        .open(part)
        .map_err(io_err)?;
    let mut done = start;
    progress(Progress { done, total });
    let mut reader = response.body_mut().as_reader();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = reader.read(&mut buf).map_err(|e| unreachable(format!("interrupted after {done} bytes ({e})")))?;
        if n == 0 {
            break;
        }
        file.write_all(&buf[..n]).map_err(io_err)?;
        done += n as u64;
        progress(Progress { done, total });
    }
    file.sync_all().map_err(io_err)
}

fn content_range_start(response: &ureq::http::Response<ureq::Body>) -> Option<u64> {
    // `Content-Range: bytes START-END/TOTAL`
    let value = response.headers().get("content-range")?.to_str().ok()?;
    let range = value.trim().strip_prefix("bytes")?.trim_start();
    range.split('-').next()?.trim().parse().ok()
}

/// Checks the finished `.part` file; one that fails is deleted so it is never used or resumed.
fn verify_part(part: &Path, target: &Path, expected: &Expected) -> Result<()> {
    let fail = |reason: String| {
        remove(part);
        Err(Error::Download { target: target.to_path_buf(), reason })
    };
    let len = std::fs::metadata(part).map_err(|source| Error::Io { path: part.to_path_buf(), source })?.len();
    if let Some(size) = expected.size.filter(|&s| s != len) {
        return fail(format!("downloaded {len} bytes, expected {size}; the partial file was deleted, retry"));
    }
    let actual = sha256_file(part)?;
    if !actual.eq_ignore_ascii_case(&expected.sha256) {
        return fail(format!(
            "downloaded file has SHA-256 {actual}, expected {}; it was deleted (a corrupted download or a wrong \
             mirror)",
            expected.sha256
        ));
    }
    Ok(())
}

fn remove(path: &Path) {
    if let Err(e) = std::fs::remove_file(path) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!("cannot delete {}: {e}", path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_file_sits_next_to_the_target() {
        assert_eq!(part_path(Path::new("/c/FastSAM-s.pt")), Path::new("/c/FastSAM-s.pt.part"));
    }
}
