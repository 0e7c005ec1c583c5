//! The HTTPS client for jitd: pinned TLS, device-signed requests, errors for people.

use std::time::Duration;

use anyhow::Context as _;
use jit_proto::signing::{HEADER_DEVICE, HEADER_SIGNATURE};
use jit_proto::{ErrorBody, ErrorCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use ssh_key::PrivateKey;

use crate::error::{fail, Failure};
use crate::tls::{self, MismatchRecord};

/// Longest wait for a TCP + TLS connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for a whole request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The answer to a conditional `GET` ([`Client::fetch`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// `304 Not Modified`: the copy named by the ETag sent is current.
    NotModified,
    /// `200 OK` with the complete body.
    Body {
        /// The body bytes.
        bytes: Vec<u8>,
        /// The `ETag` header, if the server sent one.
        etag: Option<String>,
    },
}

/// A client for one jitd server, trusting only its pinned TLS certificate.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    mismatch: MismatchRecord,
}

impl Client {
    /// A client for `server_url` (must be `https://`) pinned to `tls_sha256` (hex).
    pub fn new(server_url: &str, tls_sha256: &str) -> anyhow::Result<Client> {
        let base = server_url.trim_end_matches('/').to_string();
        if !base.starts_with("https://") {
            return Err(fail(
                format!("the server URL {base} is not an https:// URL"),
                "enroll again with the token your operator gave you (`jit enroll --force TOKEN`)",
            ));
        }
        let pin = tls::parse_pin(tls_sha256)?;
        let mismatch = MismatchRecord::default();
        let config = tls::pinned_client_config(pin, mismatch.clone())?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(config)
            .https_only(true)
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("jit/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot set up the HTTPS client")?;
        Ok(Client {
            http,
            base,
            mismatch,
        })
    }

    /// The server base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// `GET path`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.send(self.http.get(self.url(path))).await
    }

    /// `GET path` for raw bytes (a KRL, a key file), with `If-None-Match: etag` when given.
    /// A body cut short of its announced length is an error, never a part.
    pub async fn fetch(&self, path: &str, etag: Option<&str>) -> anyhow::Result<Fetched> {
        let mut request = self.http.get(self.url(path));
        if let Some(etag) = etag {
            request = request.header(reqwest::header::IF_NONE_MATCH, etag);
        }
        let response = request.send().await.map_err(|e| self.network_error(&e))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        let etag = response
            .headers()
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = response.bytes().await.map_err(|e| self.network_error(&e))?;
        if !status.is_success() {
            return Err(anyhow::Error::new(error_from_response(
                status.as_u16(),
                &bytes,
                &self.base,
            )));
        }
        Ok(Fetched::Body {
            bytes: bytes.to_vec(),
            etag,
        })
    }

    /// `POST path` with a JSON body, without a device signature (enrollment).
    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        let bytes = serde_json::to_vec(body).context("cannot encode the request")?;
        self.send(self.json_post(path, bytes)).await
    }

    /// `POST path` with a JSON body signed by `device` (an engineer's device key, or a
    /// host's own key for `jit host renew`).
    pub async fn post_signed<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        device: &PrivateKey,
    ) -> anyhow::Result<T> {
        let bytes = serde_json::to_vec(body).context("cannot encode the request")?;
        let headers = crate::signing::sign(device, "POST", path, &bytes)?;
        let request = self
            .json_post(path, bytes)
            .header(HEADER_DEVICE, headers.device)
            .header(HEADER_SIGNATURE, headers.signature);
        self.send(request).await
    }

    /// `GET path` signed by `device`: `timestamp=` and `nonce=` are added to the query, and
    /// the whole path with its query is what gets signed (the server checks freshness and
    /// replay from them as it does for a signed body).
    pub async fn get_signed<T: DeserializeOwned>(
        &self,
        path: &str,
        device: &PrivateKey,
    ) -> anyhow::Result<T> {
        let fresh = crate::signing::freshness(crate::clock::now());
        let separator = if path.contains('?') { '&' } else { '?' };
        let path = format!(
            "{path}{separator}timestamp={}&nonce={}",
            fresh.timestamp, fresh.nonce
        );
        let headers = crate::signing::sign(device, "GET", &path, b"")?;
        let request = self
            .http
            .get(self.url(&path))
            .header(HEADER_DEVICE, headers.device)
            .header(HEADER_SIGNATURE, headers.signature);
        self.send(request).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn json_post(&self, path: &str, body: Vec<u8>) -> reqwest::RequestBuilder {
        self.http
            .post(self.url(path))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
    }

    async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> anyhow::Result<T> {
        let response = request.send().await.map_err(|e| self.network_error(&e))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| self.network_error(&e))?;
        if !status.is_success() {
            return Err(anyhow::Error::new(error_from_response(
                status.as_u16(),
                &body,
                &self.base,
            )));
        }
        serde_json::from_slice(&body).map_err(|e| {
            tracing::debug!(error = %e, "unexpected response body");
            fail(
                format!(
                    "the server at {} sent an answer jit cannot read ({e})",
                    self.base
                ),
                "the server and this jit may be different versions; ask your operator",
            )
        })
    }

    fn network_error(&self, err: &reqwest::Error) -> anyhow::Error {
        tracing::debug!(error = ?err, "request failed");
        let seen = self.mismatch.lock().ok().and_then(|record| record.clone());
        if let Some(seen) = seen {
            return fail(
                format!(
                    "the server's TLS certificate does not match the one in your enrollment \
                     (the server at {} shows SHA-256 {seen}); someone may be intercepting the \
                     connection, or the server's certificate was replaced",
                    self.base
                ),
                "re-enroll with a fresh token (`jit enroll --force TOKEN`; on a host \
                 `jit host enroll TOKEN`) or ask your operator",
            );
        }
        let detail = error_chain(err);
        if err.is_timeout() {
            fail(
                format!("the server at {} did not answer in time ({detail})", self.base),
                "check that jitd is running and reachable from here (VPN, firewall), then try again",
            )
        } else {
            fail(
                format!("could not reach the server at {} ({detail})", self.base),
                "check that jitd is running, that this machine can reach that address and port \
                 (VPN, firewall, DNS), then try again",
            )
        }
    }
}

/// The causes of an error, joined with `: ` (reqwest's own message is terse).
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

/// Turn an error response into a [`Failure`]: the server's message and hint, or a generic
/// explanation when the body is not an [`ErrorBody`].
pub fn error_from_response(status: u16, body: &[u8], base: &str) -> Failure {
    let Ok(ErrorBody { error }) = serde_json::from_slice::<ErrorBody>(body) else {
        return Failure::new(
            format!("the server at {base} answered HTTP {status} without a jit error"),
            "check the server URL and that jitd (not a proxy) answers there; ask your operator",
        );
    };
    let mut message = format!("the server refused: {} ({})", error.message, error.code);
    let mut hint = error.hint.clone();
    if let Some(wait) = error.retry_after_seconds {
        message.push_str(&format!(
            "; try again in {}",
            crate::clock::short_duration(wait)
        ));
        let wait_hint = format!(
            "wait {} before trying again",
            crate::clock::short_duration(wait)
        );
        hint = Some(match hint {
            Some(h) => format!("{h} ({wait_hint})"),
            None => wait_hint,
        });
    }
    let hint = hint.or_else(|| default_hint(error.code).map(str::to_string));
    Failure::from_server(error.code, message, hint)
}

/// What to do about a server error code when the server gave no hint.
fn default_hint(code: ErrorCode) -> Option<&'static str> {
    Some(match code {
        ErrorCode::InvalidOtp | ErrorCode::MalformedOtp => {
            "type the current 6-digit code from your authenticator app"
        }
        ErrorCode::ReplayedOtp => "wait for the next code in your authenticator app (about 30 s)",
        ErrorCode::StaleRequest => {
            "check this machine's clock (it must be within a minute of the server's)"
        }
        ErrorCode::UnknownDevice | ErrorCode::InvalidToken => {
            "enroll again with a fresh token (`jit enroll --force TOKEN`)"
        }
        ErrorCode::DeviceNotConfirmed => "finish enrollment with `jit enroll --confirm`",
        ErrorCode::NoRoleForHost | ErrorCode::UnknownRole | ErrorCode::RoleNotAllowed => {
            "pick one of your roles with `--role ROLE`"
        }
        ErrorCode::TtlTooLong | ErrorCode::TtlInvalid => "ask for a shorter `--ttl`",
        ErrorCode::LogUnavailable | ErrorCode::StoreUnavailable | ErrorCode::Internal => {
            "try again in a minute; if it persists, tell your operator"
        }
        ErrorCode::Overloaded => "the server is busy; try again in a few seconds",
        ErrorCode::ReasonRequired => "say why with `--reason TEXT` (it is kept in the log)",
        ErrorCode::ReasonInvalid => "write a shorter reason, on one line",
        ErrorCode::TicketInvalid => {
            "give the ticket the role expects with `--ticket`, e.g. `--ticket INC-123`"
        }
        ErrorCode::ApprovalRequired => {
            "ask for approval first: `jit request --role ROLE --reason TEXT --wait`"
        }
        ErrorCode::ApprovalNotRequired => {
            "this role needs no approval: connect with `jit ssh --role ROLE HOST`"
        }
        ErrorCode::SelfApproval => "ask another approver of the role to decide it",
        ErrorCode::NotAnApprover => {
            "only the role's approvers may decide; `jit requests` lists the ones you may decide"
        }
        ErrorCode::RequestNotFound => "check the ID with `jit requests`",
        ErrorCode::RequestNotPending => {
            "it was already decided, used or has lapsed; `jit requests` shows its state"
        }
        ErrorCode::KeyReused | ErrorCode::KeyNotAllowed => {
            "jit makes a fresh key for every certificate: run the command again; with your own tool, send a newly generated key"
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_become_message_and_hint() {
        let body = br#"{"error":{"code":"too_many_attempts","message":"too many wrong codes","retry_after_seconds":120}}"#;
        let failure = error_from_response(429, body, "https://x");
        assert_eq!(failure.code(), Some(ErrorCode::TooManyAttempts));
        assert_eq!(
            failure.message(),
            "the server refused: too many wrong codes (too_many_attempts); try again in 2m"
        );
        assert_eq!(failure.hint(), Some("wait 2m before trying again"));

        let body =
            br#"{"error":{"code":"invalid_otp","message":"wrong code","hint":"use a fresh code"}}"#;
        let failure = error_from_response(401, body, "https://x");
        assert_eq!(failure.hint(), Some("use a fresh code"));
    }

    #[test]
    fn non_jit_errors_are_explained() {
        let failure = error_from_response(502, b"<html>bad gateway</html>", "https://x");
        assert_eq!(failure.code(), None);
        assert!(failure.message().contains("HTTP 502"));
    }

    #[test]
    fn plain_http_is_refused() {
        let err = Client::new("http://127.0.0.1:8443", &"ab".repeat(32)).unwrap_err();
        assert!(crate::error::report(&err).contains("not an https:// URL"));
    }
}
