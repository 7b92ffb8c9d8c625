//! Label Studio's credentials for fetching task images: `LABEL_STUDIO_API_KEY` is a legacy token
//! (`Authorization: Token KEY`), a JWT access token (`Bearer`), or a personal access token — a JWT refresh
//! token, exchanged at `/api/token/refresh/` for a short-lived access token, which is kept until it expires
//! (or is refused) and then exchanged again.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;

use super::fetch::FetchLimits;
use crate::error::ApiError;

#[derive(Debug, Clone, Default)]
pub struct Credentials {
    kind: Kind,
    /// Label Studio's base URL (for the token exchange).
    base: String,
}

#[derive(Debug, Clone, Default)]
enum Kind {
    #[default]
    None,
    Legacy(String),
    Access(String),
    Personal {
        refresh: String,
        access: Arc<Mutex<Option<(String, u64)>>>,
    },
}

/// Seconds since the epoch.
fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// The claims of a JWT (unverified: only its type and expiry are read, Label Studio checks it).
fn jwt_claims(token: &str) -> Option<serde_json::Value> {
    let mut parts = token.split('.');
    let (_, payload, _) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

impl Credentials {
    pub fn new(base: Option<&str>, key: Option<&str>) -> Credentials {
        let base = base.unwrap_or_default().trim_end_matches('/').to_string();
        let kind = match key.map(str::trim).filter(|k| !k.is_empty()) {
            None => Kind::None,
            Some(key) => match jwt_claims(key) {
                Some(claims) if claims.get("token_type").and_then(|t| t.as_str()) == Some("refresh") => {
                    Kind::Personal { refresh: key.to_string(), access: Arc::default() }
                }
                Some(_) => Kind::Access(key.to_string()),
                None => Kind::Legacy(key.to_string()),
            },
        };
        Credentials { kind, base }
    }

    /// Whether a refused request is worth retrying with a fresh exchange.
    pub fn refreshes(&self) -> bool {
        matches!(self.kind, Kind::Personal { .. })
    }

    /// The `Authorization` header value; `fresh` forces a new token exchange. Blocking (may call Label Studio).
    pub fn header(&self, fresh: bool, limits: FetchLimits) -> Result<Option<String>, ApiError> {
        match &self.kind {
            Kind::None => Ok(None),
            Kind::Legacy(key) => Ok(Some(format!("Token {key}"))),
            Kind::Access(token) => Ok(Some(format!("Bearer {token}"))),
            Kind::Personal { refresh, access } => {
                let mut cached = access.lock().unwrap_or_else(|e| e.into_inner());
                // A margin, so a token does not expire between this check and Label Studio's.
                let valid = |(_, exp): &(String, u64)| *exp > now() + 10;
                if fresh || !cached.as_ref().is_some_and(valid) {
                    *cached = Some(self.exchange(refresh, limits)?);
                }
                Ok(cached.as_ref().map(|(token, _)| format!("Bearer {token}")))
            }
        }
    }

    /// POST `/api/token/refresh/ {"refresh": PAT}` → `{"access": JWT}`.
    fn exchange(&self, refresh: &str, limits: FetchLimits) -> Result<(String, u64), ApiError> {
        let url = format!("{}/api/token/refresh/", self.base);
        let fail = |why: String| {
            ApiError::new(
                axum::http::StatusCode::BAD_GATEWAY,
                format!("cannot exchange the personal access token at {url}: {why} (check LABEL_STUDIO_API_KEY)"),
            )
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(limits.timeout.min(Duration::from_secs(30))))
            .max_redirects(0)
            .http_status_as_error(false)
            .proxy(None)
            .build()
            .into();
        let body = serde_json::json!({ "refresh": refresh }).to_string();
        let mut response = agent
            .post(&url)
            .header("Content-Type", "application/json")
            .send(body.as_bytes())
            .map_err(|e| fail(e.to_string()))?;
        if response.status() != 200 {
            return Err(fail(format!("HTTP {}", response.status().as_u16())));
        }
        let text = response.body_mut().read_to_string().map_err(|e| fail(e.to_string()))?;
        let body: serde_json::Value = serde_json::from_str(&text).map_err(|e| fail(e.to_string()))?;
        let access =
            body.get("access").and_then(|a| a.as_str()).ok_or_else(|| fail("no `access` in the answer".into()))?;
        // Without a readable expiry, keep it a minute.
        let exp = jwt_claims(access).and_then(|c| c.get("exp").and_then(|e| e.as_u64())).unwrap_or(now() + 60);
        Ok((access.to_string(), exp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: serde_json::Value) -> String {
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        format!("{}.{}.sig", b64(br#"{"alg":"HS256"}"#), b64(claims.to_string().as_bytes()))
    }

    #[test]
    fn key_kinds_are_told_apart() {
        let limits = FetchLimits { max_bytes: 1, timeout: Duration::from_secs(1) };
        let legacy = Credentials::new(Some("http://ls"), Some("0123456789abcdef0123456789abcdef01234567"));
        assert_eq!(legacy.header(false, limits).unwrap().unwrap(), "Token 0123456789abcdef0123456789abcdef01234567");
        let access = jwt(serde_json::json!({"token_type": "access", "exp": 1}));
        let c = Credentials::new(Some("http://ls"), Some(&access));
        assert_eq!(c.header(false, limits).unwrap().unwrap(), format!("Bearer {access}"));
        assert!(!c.refreshes());
        let pat = Credentials::new(Some("http://ls"), Some(&jwt(serde_json::json!({"token_type": "refresh"}))));
        assert!(pat.refreshes());
        assert_eq!(Credentials::new(None, Some("  ")).header(false, limits).unwrap(), None);
    }
}
