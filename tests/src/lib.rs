//! Test harness for jit's end-to-end tests: real OpenSSH `sshd`, `ssh`, `ssh-agent`,
//! `ssh-add` and `ssh-keygen` on 127.0.0.1 (DESIGN §7).
//!
//! - [`tools`]: find the OpenSSH programs, failing loudly when one is missing.
//! - [`accounts`]: create local accounts (root only), unlocked for key logins.
//! - [`sshd`]: a private sshd trusting given user CA keys, with per-account principals.
//! - [`agent`]: a private ssh-agent and `ssh-add`.
//! - [`keygen`]: keys, CA signing, `ssh-keygen -L` parsing, KRLs.
//! - [`ssh`]: run the `ssh` client non-interactively with a timeout.
//! - [`jit`]: the project's own programs: a `jitd` CA and engineers running `jit`.
//! - [`ledger_check`]: a store's whole state and whole log agree, in both directions.
//! - [`webhook`]: a real HTTP receiver for alert webhooks.
//! - [`tmpfs`]: a tiny tmpfs (root only) that can really run out of space.
//! - [`net`], [`process`], [`scratch`]: ports, guarded child processes, sshd-safe dirs.
//!
//! Tests never skip: a missing tool or missing root privileges is a panic that says what
//! to do (`just test` installs OpenSSH and runs as root in CI).

#![forbid(unsafe_code)]

pub mod accounts;
pub mod agent;
pub mod jit;
pub mod keygen;
pub mod ledger_check;
pub mod net;
pub mod process;
pub mod scratch;
pub mod ssh;
pub mod sshd;
pub mod tmpfs;
pub mod tools;
pub mod webhook;

pub use agent::SshAgent;
pub use keygen::{CertificateInfo, KeyPair};
pub use process::{ChildGuard, OutputExt};
pub use ssh::SshCommand;
pub use sshd::{Sshd, SshdConfig};
