//! `jit`, the engineer's CLI for just-in-time SSH certificates, as a library the thin
//! `jit` binary calls into.
//!
//! # Layout
//! - [`cli`]: the command line (clap), every flag and its help text.
//! - [`run`]: dispatch a parsed command line to the command modules below.
//! - Commands: [`enroll`] (`jit enroll`), [`ssh`] (`jit ssh`), [`status`] (`jit status`),
//!   [`logout`] (`jit logout`).
//! - Building blocks: [`home`] (JIT_HOME: config, device key, `run/` files), [`http`]
//!   (HTTPS client pinned by [`tls`], device-signed requests made by [`signing`]),
//!   [`agent`] (jit certificates in ssh-agent), [`otp`] (reading a TOTP code), [`roles`]
//!   (picking a role by host), [`clock`] (now, and times for people), [`error`]
//!   (errors with a hint of what to do next).
//!
//! The private key of a certificate never touches disk: it lives in memory until it is
//! handed to ssh-agent with a lifetime that ends with the certificate.
#![forbid(unsafe_code)]

pub mod agent;
pub mod cli;
pub mod clock;
pub mod enroll;
pub mod error;
pub mod home;
pub mod http;
pub mod logout;
pub mod otp;
pub mod roles;
pub mod signing;
pub mod ssh;
pub mod status;
pub mod tls;

/// Run one parsed command line to completion.
///
/// `jit ssh` does not return on success: it replaces the process with `ssh`.
pub async fn run(cli: cli::Cli) -> anyhow::Result<()> {
    match cli.command {
        cli::Command::Enroll(args) => enroll::run(args).await,
        cli::Command::Ssh(args) => ssh::run(args).await,
        cli::Command::Status(args) => status::run(args).await,
        cli::Command::Logout(args) => logout::run(args).await,
    }
}
