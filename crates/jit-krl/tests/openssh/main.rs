//! KRLs checked against real OpenSSH: keys and certificates made by `ssh-keygen -s`,
//! KRLs written by [`jit_krl::Krl::encode`] and by `ssh-keygen -k`, answers from
//! `ssh-keygen -Q` compared with [`jit_krl::Krl::parse`] and the revocation check.
#![allow(clippy::unwrap_used)]

mod encoder;
mod lab;
mod parser;
