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
//! - [`ca_keys`]: the CA keys in force, kept in the store with their log records.
//! - [`policy_load`]: recording (and reloading) the policy in force.
//! - [`transparency`]: the log's Merkle tree, signed checkpoints and proofs.
//! - [`alerts`], [`metrics`]: webhook alerts (queued, retried) and Prometheus metrics.
//! - [`logging`]: log output through a bounded queue that never wedges the server.
//! - [`state`], [`clock`]: shared state; time and randomness passed in.
//! - [`config`], [`tls`], [`server`]: configuration file, TLS material, serving.
//! - [`cli`], [`commands`]: the command line.
//! - `test_support` (cargo feature `test-support`, for tests only): a test `AppState` and
//!   a TLS test server running the real API.
#![forbid(unsafe_code)]

pub mod alerts;
pub mod api;
pub mod auth;
pub mod ca_keys;
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
pub mod logging;
pub mod metrics;
pub mod otp;
pub mod policy_load;
pub mod requests;
pub mod revoke;
pub mod server;
pub mod state;
#[cfg(feature = "test-support")]
pub mod test_support;
pub mod tls;
pub mod transparency;
