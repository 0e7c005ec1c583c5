//! Wire types of the jit HTTP API, shared by `jitd` (server) and `jit` (CLI).
//!
//! # Layout
//! - [`api`]: request and response bodies of every `/v1` endpoint.
//! - [`error`]: the stable error codes and the JSON error body.
//! - [`names`]: the safe character set of principals, user and group names.
//! - [`signing`]: how a device signs a request (headers, signed bytes, namespace).
//! - [`token`]: the enrollment token an operator hands to an engineer.
//!
//! This crate holds data shapes only: no I/O, no cryptography.
#![forbid(unsafe_code)]

pub mod api;
pub mod error;
pub mod names;
pub mod signing;
pub mod token;

pub use error::{ApiError, ErrorBody, ErrorCode};

/// The API version: every endpoint lives under `/v1`.
pub const API_VERSION: &str = "v1";

/// The prefix a jit certificate's comment carries in ssh-agent, followed by the role.
pub const AGENT_COMMENT_PREFIX: &str = "jit:";
