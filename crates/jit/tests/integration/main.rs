//! Integration tests of `jit` with a real ssh-agent, the real jitd over pinned TLS, and the
//! binary.

// Test code: a panic is a test failure (mirrors `allow-unwrap-in-tests` in clippy.toml,
// which does not reach helper modules outside `#[test]` functions).
#![allow(clippy::unwrap_used)]

mod agent;
mod approvals;
mod authenticator;
mod bench;
mod ca;
mod commands;
mod host_bench;
mod host_certificates;
mod host_sync;
mod http;
mod raw_responder;
mod server;
mod setup_script;
mod ssh_agent;
mod trust;
