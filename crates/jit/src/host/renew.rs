//! `jit host renew`: replace the host certificate before it expires. The request is signed
//! with the host's own private key, which is what proves to the server which host asks.

use std::path::Path;

use anyhow::Context as _;
use jit_proto::api::{HostCertificateResponse, HostRenewRequest};
use jit_proto::ErrorCode;
use ssh_key::PrivateKey;

use super::enroll::{describe, read_public_key, verified, write_certificate};
use super::{read_certificate, HostConfig};
use crate::cli::HostRenewArgs;
use crate::clock::{self, rfc3339, short_duration};
use crate::error::{fail, rehint};
use crate::http::Client;
use crate::signing;

/// How to make sshd read a new `HostCertificate` when no `--reload-command` is given.
pub const RELOAD_HINT: &str = "systemctl reload ssh";

/// Run `jit host renew`.
pub async fn run(args: HostRenewArgs) -> anyhow::Result<()> {
    let config = HostConfig::require(&args.dir)?;
    let now = clock::now();
    let reason = match (read_certificate(&config.certificate), args.force) {
        (_, true) => "--force".to_string(),
        (Err(e), false) => format!("the current certificate cannot be used: {e:#}"),
        (Ok(current), false) => match due(current.valid_before(), now, args.before) {
            Some(reason) => reason,
            None => {
                println!(
                    "jit: the host certificate of {} is valid until {} ({} left): not due for \
                     renewal (renews within {} of expiry; --force renews now)",
                    config.host,
                    rfc3339(current.valid_before()),
                    short_duration(current.valid_before().saturating_sub(now)),
                    short_duration(args.before),
                );
                return Ok(());
            }
        },
    };

    let public = read_public_key(&config.host_key)?;
    let private = read_private_key(&config.private_key_path()?)?;
    if private.public_key().key_data() != public.key_data() {
        return Err(fail(
            format!(
                "the private key next to {} does not belong to it",
                config.host_key.display()
            ),
            "restore the host key pair, or enroll the host again with `jit host enroll TOKEN`",
        ));
    }
    let client = Client::new(&config.server_url, &config.tls_sha256)?;
    eprintln!(
        "jit: renewing the host certificate of {} ({reason}) ...",
        config.host
    );
    let body = HostRenewRequest {
        freshness: signing::freshness(now),
        public_key: public.to_openssh().context("cannot encode the host key")?,
    };
    let response: HostCertificateResponse = client
        .post_signed("/v1/hosts/renew", &body, &private)
        .await
        .map_err(|e| {
            rehint(
                e,
                ErrorCode::UnknownDevice,
                "the server does not know this host key: enroll the host again with \
                 `jit host enroll TOKEN`",
            )
        })
        .context("the host certificate was not renewed (the old one is kept)")?;
    let certificate = verified(&client, &response, &public).await?;
    write_certificate(&config.certificate, &certificate)?;
    print!("{}", describe(&response.host, &certificate, clock::now()));
    println!("jit: wrote {}", config.certificate.display());
    reload(args.reload_command.as_deref())
}

/// Why a certificate valid until `valid_before` is due for renewal at `now` with a
/// renewal window of `before` seconds; `None` when it is not due.
pub fn due(valid_before: u64, now: u64, before: u64) -> Option<String> {
    if valid_before <= now {
        return Some(format!("it expired at {}", rfc3339(valid_before)));
    }
    let left = valid_before - now;
    (left <= before).then(|| format!("it expires in {}", short_duration(left)))
}

/// Read the host private key: OpenSSH format, unencrypted (sshd reads it unattended too).
fn read_private_key(path: &Path) -> anyhow::Result<PrivateKey> {
    let key = PrivateKey::read_openssh_file(path).map_err(|e| {
        fail(
            format!("cannot read the host private key {}: {e}", path.display()),
            "run `jit host renew` as root (the host key is readable by root only)",
        )
    })?;
    if key.is_encrypted() {
        return Err(fail(
            format!("the host private key {} is encrypted", path.display()),
            "host keys are unencrypted (sshd reads them unattended); check --host-key",
        ));
    }
    Ok(key)
}

/// Run `--reload-command` through `sh -c`, or say how to reload sshd.
fn reload(command: Option<&str>) -> anyhow::Result<()> {
    let Some(command) = command else {
        println!("jit: reload sshd so it serves the new certificate: {RELOAD_HINT}");
        return Ok(());
    };
    let status = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(command)
        .status()
        .with_context(|| format!("cannot run the reload command `{command}`"))?;
    if !status.success() {
        return Err(fail(
            format!("the new certificate is written, but `{command}` failed ({status})"),
            format!("reload sshd by hand ({RELOAD_HINT}) so it serves the new certificate"),
        ));
    }
    println!("jit: ran `{command}`");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_is_due_inside_the_window_or_once_expired() {
        let day = 86_400;
        assert_eq!(due(100 * day, 90 * day, 7 * day), None);
        assert_eq!(
            due(100 * day, 95 * day, 7 * day).as_deref(),
            Some("it expires in 5d")
        );
        assert_eq!(
            due(100 * day, 93 * day, 7 * day).as_deref(),
            Some("it expires in 7d")
        );
        assert!(due(100, 100, 0).unwrap().starts_with("it expired at "));
    }

    #[test]
    fn a_failing_reload_command_is_an_error_with_a_hint() {
        assert!(reload(Some("true")).is_ok());
        let err = reload(Some("exit 3")).unwrap_err();
        let text = crate::error::report(&err);
        assert!(text.contains("`exit 3` failed"), "{text}");
        assert!(text.contains("systemctl reload ssh"), "{text}");
    }
}
