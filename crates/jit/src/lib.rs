//! `jit`, the engineer's CLI for just-in-time SSH certificates, as a library the thin
//! `jit` binary calls into.
//!
//! # Layout
//! - [`cli`]: the command line (clap), every flag and its help text.
//! - [`run`]: dispatch a parsed command line to the command modules below.
//! - Commands: [`enroll`] (`jit enroll`), [`ssh`] (`jit ssh`), [`status`] (`jit status`),
//!   [`logout`] (`jit logout`), [`request`] (`jit request [--wait]`), [`requests`]
//!   (`jit requests`), [`decide`] (`jit approve`, `jit deny`); on SSH servers [`host`]
//!   (`jit host enroll`, `jit host renew`, `jit host sync`); for auditors [`audit`]
//!   (`jit audit checkpoint`, `verify`, `prove`).
//! - Building blocks: [`home`] (JIT_HOME: config, device key, `run/` files), [`http`]
//!   (HTTPS client pinned by [`tls`], device-signed requests made by [`signing`]),
//!   [`session`] (calls as this enrolled device), [`issue`] (a new certificate into the
//!   agent, shared by `jit ssh` and `jit request --wait`), [`approval`] (the access-request
//!   calls and how requests read), [`agent`] (jit certificates in ssh-agent), [`otp`]
//!   (reading a TOTP code), [`roles`] (picking a role by host), [`clock`] (now, and times
//!   for people), [`error`] (errors with a hint of what to do next), [`known_hosts`] (the
//!   host CA keys for ssh), [`atomic`] (replacing files in one step).
//!
//! The private key of a certificate never touches disk: it lives in memory until it is
//! handed to ssh-agent with a lifetime that ends with the certificate.
#![forbid(unsafe_code)]

pub mod agent;
pub mod approval;
pub mod atomic;
pub mod audit;
pub mod cli;
pub mod clock;
pub mod decide;
pub mod enroll;
pub mod error;
pub mod home;
pub mod host;
pub mod http;
pub mod issue;
pub mod known_hosts;
pub mod logout;
pub mod otp;
pub mod request;
pub mod requests;
pub mod roles;
pub mod session;
pub mod signing;
pub mod ssh;
pub mod status;
pub mod tls;

/// Run one parsed command line to completion.
///
/// `jit ssh` (and `jit request --wait HOST`) does not return on success: it replaces the
/// process with `ssh`.
pub async fn run(cli: cli::Cli) -> anyhow::Result<()> {
    match cli.command {
        cli::Command::Enroll(args) => enroll::run(args).await,
        cli::Command::Ssh(args) => ssh::run(args).await,
        cli::Command::Status(args) => status::run(args).await,
        cli::Command::Logout(args) => logout::run(args).await,
        cli::Command::Request(args) => request::run(args).await,
        cli::Command::Requests(args) => requests::run(args).await,
        cli::Command::Approve(args) => decide::approve(args).await,
        cli::Command::Deny(args) => decide::deny(args).await,
        cli::Command::Host(args) => host::run(args).await,
        cli::Command::Audit(args) => audit::run(args).await,
    }
}
