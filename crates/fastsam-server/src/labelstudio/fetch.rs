//! Task images: resolving Label Studio's `task.data` URLs and fetching them, only from the hosts the operator
//! allowed, bounded in size and time.
//!
//! Why so strict: a task's URL is written by whoever can import tasks, and this server fetches it from inside
//! the operator's network. Without an allow-list a task naming `http://169.254.169.254/...` (cloud metadata) or
//! an internal service would make this server its proxy. Redirects are not followed (they could lead anywhere)
//! and the Label Studio credentials are sent to Label Studio's own host only.

use std::io::Read;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::StatusCode;
use base64::Engine;
use ureq::http::Uri;

use super::auth::Credentials;
use super::LabelStudioConfig;
use crate::error::ApiError;

/// Where a task's image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// An http(s) URL on an allowed host; `authorized` when it is Label Studio's own host.
    Url { url: String, authorized: bool },
    /// A `data:image/...;base64,` URI: nothing to fetch.
    Inline(Vec<u8>),
}

/// Lower-cased host of an absolute http(s) URL, refusing what could make two parsers disagree on the host.
pub fn host_of(url: &str) -> Result<String, String> {
    let uri: Uri = url.parse().map_err(|e| format!("{url:?} is not a valid URL ({e})"))?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        _ => return Err(format!("{url:?}: only http and https URLs are fetched")),
    }
    let authority = uri.authority().ok_or_else(|| format!("{url:?} has no host"))?;
    if authority.as_str().contains('@') {
        return Err(format!("{url:?}: URLs with user names or passwords are refused"));
    }
    Ok(authority.host().trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase())
}

impl LabelStudioConfig {
    /// The hosts images may be fetched from: Label Studio's, then `--fetch-allow`'s.
    pub fn allowed_hosts(&self) -> Vec<String> {
        let own = self.url.as_deref().and_then(|u| host_of(u).ok());
        own.into_iter().chain(self.fetch_allow.iter().map(|h| h.trim().to_ascii_lowercase())).collect()
    }

    /// Resolves a `task.data` value: absolute URLs are checked against the allowed hosts, Label Studio's
    /// relative ones (`/data/upload/...`, `/data/local-files/?d=...`) are joined to `LABEL_STUDIO_URL`.
    pub fn resolve(&self, value: &str) -> Result<ImageSource, ApiError> {
        let value = value.trim();
        if let Some(rest) = value.strip_prefix("data:") {
            return inline(rest).map(ImageSource::Inline);
        }
        let url = if value.starts_with('/') {
            let Some(base) = &self.url else {
                return Err(ApiError::bad_request(format!(
                    "the task's image {value:?} is relative to Label Studio: start the server with \
                     LABEL_STUDIO_URL=http://your-label-studio:8080 (and LABEL_STUDIO_API_KEY)"
                )));
            };
            format!("{}{value}", base.trim_end_matches('/'))
        } else if value.starts_with("http://") || value.starts_with("https://") {
            value.to_string()
        } else {
            return Err(ApiError::bad_request(format!(
                "the task's image {value:?} is neither an http(s) URL nor a Label Studio path (/data/...)"
            )));
        };
        let host = host_of(&url).map_err(ApiError::bad_request)?;
        let own = self.url.as_deref().and_then(|u| host_of(u).ok());
        if !self.allowed_hosts().contains(&host) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "refused to fetch {url:?}: host {host:?} is not allowed (allowed: Label Studio's host from \
                     LABEL_STUDIO_URL, and --fetch-allow HOST...; now {:?})",
                    self.allowed_hosts()
                ),
            ));
        }
        Ok(ImageSource::Url { authorized: own.as_deref() == Some(host.as_str()), url })
    }
}

fn inline(rest: &str) -> Result<Vec<u8>, ApiError> {
    let (meta, data) = rest.split_once(',').ok_or_else(|| ApiError::bad_request("a data: URI without a comma"))?;
    if !meta.ends_with(";base64") {
        return Err(ApiError::bad_request("data: URIs must be base64 (data:image/png;base64,...)"));
    }
    base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| ApiError::bad_request(format!("the data: URI is not valid base64: {e}")))
}

/// Limits of one fetch.
#[derive(Debug, Clone, Copy)]
pub struct FetchLimits {
    pub max_bytes: usize,
    pub timeout: Duration,
}

/// GETs `url` (blocking: call off the async threads), sending `auth` when given. Errors say which URL and why.
pub fn get(url: &str, auth: Option<&str>, limits: FetchLimits) -> Result<Bytes, FetchError> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(limits.timeout))
        .max_redirects(0)
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .into();
    let mut request = agent.get(url);
    if let Some(value) = auth {
        request = request.header("Authorization", value);
    }
    let mut response = request.call().map_err(|e| match e {
        ureq::Error::Timeout(_) => FetchError::Timeout,
        other => FetchError::Failed(other.to_string()),
    })?;
    let status = response.status().as_u16();
    match status {
        200 => {}
        401 | 403 => return Err(FetchError::Unauthorized(status)),
        300..=399 => return Err(FetchError::Failed(format!("HTTP {status}: redirects are not followed"))),
        _ => return Err(FetchError::Failed(format!("HTTP {status}"))),
    }
    if response.body().content_length().is_some_and(|n| n > limits.max_bytes as u64) {
        return Err(FetchError::TooLarge);
    }
    let mut bytes = Vec::new();
    let reader = response.body_mut().as_reader();
    reader.take(limits.max_bytes as u64 + 1).read_to_end(&mut bytes).map_err(|e| {
        if e.kind() == std::io::ErrorKind::TimedOut || e.to_string().to_lowercase().contains("timeout") {
            FetchError::Timeout
        } else {
            FetchError::Failed(e.to_string())
        }
    })?;
    if bytes.len() > limits.max_bytes {
        return Err(FetchError::TooLarge);
    }
    Ok(Bytes::from(bytes))
}

#[derive(Debug, Clone, PartialEq)]
pub enum FetchError {
    Timeout,
    TooLarge,
    Unauthorized(u16),
    Failed(String),
}

impl FetchError {
    pub fn into_api(self, url: &str, limits: FetchLimits) -> ApiError {
        match self {
            FetchError::Timeout => ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                format!("fetching {url:?} took more than {} s", limits.timeout.as_secs_f64()),
            ),
            FetchError::TooLarge => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the image at {url:?} is larger than the limit of {} bytes", limits.max_bytes),
            ),
            FetchError::Unauthorized(status) => ApiError::new(
                StatusCode::BAD_GATEWAY,
                format!(
                    "Label Studio refused {url:?} (HTTP {status}): check LABEL_STUDIO_API_KEY (a legacy token or \
                     a personal access token of a user who can see the project)"
                ),
            ),
            FetchError::Failed(why) => ApiError::new(StatusCode::BAD_GATEWAY, format!("cannot fetch {url:?}: {why}")),
        }
    }
}

/// Fetches a resolved image, with Label Studio's credentials on its own host (refreshed once if refused).
pub async fn fetch(source: ImageSource, credentials: &Credentials, limits: FetchLimits) -> Result<Bytes, ApiError> {
    let (url, authorized) = match source {
        ImageSource::Inline(bytes) => {
            if bytes.len() > limits.max_bytes {
                return Err(FetchError::TooLarge.into_api("data: URI", limits));
            }
            return Ok(Bytes::from(bytes));
        }
        ImageSource::Url { url, authorized } => (url, authorized),
    };
    let credentials = credentials.clone();
    let task = move || -> Result<Bytes, ApiError> {
        let header = |fresh: bool| -> Result<Option<String>, ApiError> {
            if authorized {
                credentials.header(fresh, limits)
            } else {
                Ok(None)
            }
        };
        match get(&url, header(false)?.as_deref(), limits) {
            // A short-lived access token may have expired in between: exchange again, once.
            Err(FetchError::Unauthorized(_)) if authorized && credentials.refreshes() => {
                get(&url, header(true)?.as_deref(), limits).map_err(|e| e.into_api(&url, limits))
            }
            other => other.map_err(|e| e.into_api(&url, limits)),
        }
    };
    tokio::task::spawn_blocking(task).await.map_err(|e| ApiError::internal(format!("fetch worker failed: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: Option<&str>, allow: &[&str]) -> LabelStudioConfig {
        LabelStudioConfig {
            url: url.map(String::from),
            fetch_allow: allow.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn only_allowed_hosts_resolve() {
        let c = config(Some("http://ls.example:8080/"), &["Images.Example"]);
        assert_eq!(
            c.resolve("/data/upload/1/a.jpg").unwrap(),
            ImageSource::Url { url: "http://ls.example:8080/data/upload/1/a.jpg".into(), authorized: true }
        );
        assert_eq!(
            c.resolve("https://images.example/x.png").unwrap(),
            ImageSource::Url { url: "https://images.example/x.png".into(), authorized: false }
        );
        for refused in [
            "http://169.254.169.254/latest/meta-data/",
            "http://ls.example.evil.com/a.jpg",
            "http://ls.example@evil.com/a.jpg",
            "http://[::1]:8080/a.jpg",
        ] {
            let e = c.resolve(refused).unwrap_err();
            assert!(e.status == StatusCode::FORBIDDEN || e.status == StatusCode::BAD_REQUEST, "{refused}: {e:?}");
        }
        assert!(c.resolve("s3://bucket/a.jpg").unwrap_err().message.contains("neither an http(s) URL"));
        assert!(c.resolve("file:///etc/passwd").unwrap_err().message.contains("neither an http(s) URL"));
        let e = config(None, &[]).resolve("/data/upload/1/a.jpg").unwrap_err();
        assert!(e.message.contains("LABEL_STUDIO_URL"), "{e:?}");
    }

    #[test]
    fn data_uris_are_decoded_not_fetched() {
        let c = config(None, &[]);
        assert_eq!(
            c.resolve("data:image/png;base64,iVBORw==").unwrap(),
            ImageSource::Inline(vec![0x89, 0x50, 0x4e, 0x47])
        );
        assert!(c.resolve("data:image/png,raw").unwrap_err().message.contains("base64"));
    }
}
