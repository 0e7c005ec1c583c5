//! `AppError`: every failure an HTTP client sees, as a stable code plus a sentence.
//! Server-side failures keep their details in the log and send a generic message.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use jit_proto::{ApiError, ErrorBody, ErrorCode};

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

    /// The store failed: 503, nothing was issued.
    pub fn store(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "store unavailable");
        Self::new(
            ErrorCode::StoreUnavailable,
            "the server cannot reach its database; nothing was issued",
        )
        .hint("try again in a moment; if it persists, tell your jit operator")
    }
}

impl From<jit_store::Error> for AppError {
    fn from(error: jit_store::Error) -> Self {
        AppError::store(error)
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
