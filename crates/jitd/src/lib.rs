//! jitd, the jit SSH certificate authority, as a library: the HTTP API (`api::app`), the
//! issuance flow, and the admin commands. The `jitd` binary is a thin wrapper.
//!
//! # Layout
//! - [`api`]: `app(state) -> Router`, routes, request logging.
//! - [`auth`]: device-signed requests (signature, freshness, nonce, caller standing).
//! - [`otp`]: TOTP checks with the attempt limit.
//! - [`enroll`], [`issue`], [`requests`]: enrollment, issuance, approvals.
//! - [`keys`]: fresh keys only (never a key certified before, one of jitd's own, or a
//!   device key).
//! - [`hosts`]: host certificates (enroll with a token, renew signed by the host key).
//! - [`revoke`]: revocation and the KRL served at `/v1/krl`.
//! - [`transparency`]: the log's Merkle tree, signed checkpoints and proofs.
//! - [`alerts`], [`metrics`]: webhook alerts (queued, retried) and Prometheus metrics.
//! - [`state`], [`clock`]: shared state; time and randomness passed in.
//! - [`config`], [`tls`], [`server`]: configuration file, TLS material, serving.
//! - [`cli`], [`commands`]: the command line.
#![forbid(unsafe_code)]

pub mod alerts;
pub mod api;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod enroll;
pub mod error;
pub mod hosts;
pub mod housekeeping;
pub mod issue;
pub mod keys;
pub mod metrics;
pub mod otp;
pub mod requests;
pub mod revoke;
pub mod server;
pub mod state;
pub mod tls;
pub mod transparency;
