//! `AppError`: every failure an HTTP client sees, as a stable code plus a sentence.
//! Server-side failures keep their details in the log and send a generic message.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use jit_proto::{ApiError, ErrorBody, ErrorCode};
use jit_store::ErrorKind;

/// An error answered to a client.
#[derive(Debug, Clone)]
pub struct AppError(pub ApiError);

impl AppError {
    /// An error with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self(ApiError {
            code,
            message: message.into(),
            hint: None,
            retry_after_seconds: None,
        })
    }

    /// Add what to do next.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.0.hint = Some(hint.into());
        self
    }

    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        self.0.code
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// A server-side failure: the cause goes to the log, the client gets a generic message.
    pub fn internal(context: &str, cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "{context}");
        Self::new(
            ErrorCode::Internal,
            "internal error; the server log has the details",
        )
    }

    /// Ask the client to retry after `seconds` (the body's `retry_after_seconds` and the
    /// `Retry-After` header).
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.0.retry_after_seconds = Some(seconds);
        self
    }

    /// The store is unreachable or cannot take writes: 503 with `Retry-After`; the cause
    /// goes to the log.
    pub fn store(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "store unavailable");
        Self::new(
            ErrorCode::StoreUnavailable,
            "the server cannot use its database right now; nothing was done",
        )
        .hint("try again in a moment; if it persists, tell your jit operator")
        .retry_after(STORE_RETRY_AFTER)
    }

    /// jitd is at its limit (requests in flight, or database connections): 503 with
    /// `Retry-After`, at once, instead of a slow timeout.
    pub fn overloaded(cause: impl std::fmt::Display) -> Self {
        tracing::warn!(cause = %cause, "overloaded; request shed");
        Self::new(
            ErrorCode::Overloaded,
            "the server is too busy to take this request; nothing was done",
        )
        .hint("try again in a moment")
        .retry_after(OVERLOADED_RETRY_AFTER)
    }

    /// The issuance log could not be written (a storage failure, or no database connection
    /// in time): no certificate exists. Other store failures keep their meaning.
    pub fn log_write(cause: jit_store::Error) -> Self {
        match cause.kind() {
            ErrorKind::Unavailable => {
                tracing::error!(error = %cause, "issuance log write failed; certificate discarded");
                Self::new(
                    ErrorCode::LogUnavailable,
                    "the issuance log could not be written, so no certificate was issued",
                )
                .hint("try again in a moment; if it persists, tell your jit operator")
                .retry_after(STORE_RETRY_AFTER)
            }
            _ => Self::from(cause),
        }
    }
}

/// Seconds a client waits after `store_unavailable` or `log_unavailable`.
pub const STORE_RETRY_AFTER: u64 = 5;
/// Seconds a client waits after `overloaded`.
pub const OVERLOADED_RETRY_AFTER: u64 = 1;

/// Every store failure's answer, by what it means: a conflict is 409, a missing thing 404,
/// an unreachable or unwritable database 503 `store_unavailable`, no free connection 503
/// `overloaded` (both with `Retry-After`), anything else 500 with the details in the log.
impl From<jit_store::Error> for AppError {
    fn from(error: jit_store::Error) -> Self {
        match error.kind() {
            ErrorKind::Conflict => AppError::new(ErrorCode::Conflict, error.to_string()),
            ErrorKind::NotFound => AppError::new(ErrorCode::NotFound, error.to_string()),
            ErrorKind::Unavailable => AppError::store(error),
            ErrorKind::Overloaded => AppError::overloaded(error),
            _ => AppError::internal("store", error),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = self.0.retry_after_seconds;
        let mut response = (status, Json(ErrorBody { error: self.0 })).into_response();
        if let Some(seconds) = retry_after {
            if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert("retry-after", value);
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The status, code and `Retry-After` header a store error is answered with.
    fn answer(error: jit_store::Error) -> (u16, ErrorCode, Option<String>) {
        let app = AppError::from(error);
        let code = app.code();
        let response = app.into_response();
        let retry = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap_or_default().to_string());
        (response.status().as_u16(), code, retry)
    }

    #[test]
    fn store_errors_are_answered_by_what_they_mean() {
        use jit_store::Error;
        let five = Some(STORE_RETRY_AFTER.to_string());
        let one = Some(OVERLOADED_RETRY_AFTER.to_string());
        let cases = [
            (
                Error::AlreadyExists("user a".into()),
                (409, ErrorCode::Conflict, None),
            ),
            (
                Error::Conflict("decided".into()),
                (409, ErrorCode::Conflict, None),
            ),
            (
                Error::NotFound("user a".into()),
                (404, ErrorCode::NotFound, None),
            ),
            (
                Error::Unavailable("disk full".into()),
                (503, ErrorCode::StoreUnavailable, five),
            ),
            (
                Error::Busy("no connection".into()),
                (503, ErrorCode::Overloaded, one),
            ),
            (
                Error::Corrupt("bad row".into()),
                (500, ErrorCode::Internal, None),
            ),
        ];
        for (error, expected) in cases {
            let shown = error.to_string();
            assert_eq!(answer(error), expected, "{shown}");
        }
    }

    #[test]
    fn only_a_storage_failure_of_the_log_is_log_unavailable() {
        use jit_store::Error;
        let code = |e: Error| AppError::log_write(e).code();
        assert_eq!(
            code(Error::Unavailable("disk full".into())),
            ErrorCode::LogUnavailable
        );
        assert_eq!(
            code(Error::Busy("no connection".into())),
            ErrorCode::Overloaded
        );
        assert_eq!(code(Error::Corrupt("bad".into())), ErrorCode::Internal);
        let retry = AppError::log_write(Error::Unavailable("x".into()))
            .0
            .retry_after_seconds;
        assert_eq!(retry, Some(STORE_RETRY_AFTER));
    }
}
