//! `$JIT_HOME/known_hosts`: the server's host CA keys as `@cert-authority` lines, so ssh
//! trusts a host certified by jit (`jit host enroll`) without a first-connection prompt.
//!
//! `jit enroll` writes the file once enrollment is confirmed, and every new certificate
//! (`jit ssh`, `jit request --wait`) refreshes it, so a host CA rotation reaches engineers.
//! `jit ssh` hands it to ssh with [`ssh_option`] unless the engineer chose a
//! `UserKnownHostsFile` of their own ([`chosen_by_user`]).

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt as _, OsStringExt as _};
use std::path::Path;

use anyhow::Context as _;
use jit_proto::api::CaKeys;
use ssh_key::PublicKey;

use crate::atomic;
use crate::error::fail;
use crate::home::Home;
use crate::http::Client;

/// The other file ssh reads after jit's (ssh's own default, first of the two).
pub const PERSONAL_KNOWN_HOSTS: &str = "~/.ssh/known_hosts";

/// The file's text: a comment naming the server, then `@cert-authority * KEY` per host CA
/// key. A key that does not parse is refused rather than half-written.
pub fn render(server_url: &str, host_ca: &[String]) -> anyhow::Result<String> {
    let mut text = format!(
        "# Host CA keys of the jit server {server_url}, written by jit (refreshed by \
         `jit enroll` and by each new certificate). Do not edit: changes are overwritten.\n"
    );
    for line in host_ca {
        let mut key = PublicKey::from_openssh(line.trim()).map_err(|e| {
            fail(
                format!("the server sent a host CA key jit cannot read ({e})"),
                "the server and this jit may be different versions; ask your operator",
            )
        })?;
        key.set_comment("");
        let key = key.to_openssh().context("cannot encode a host CA key")?;
        text.push_str(&format!("@cert-authority * {key}\n"));
    }
    Ok(text)
}

/// `GET /v1/ca` and rewrite `$JIT_HOME/known_hosts` (0644, atomically) when it changed.
/// Returns how many host CA keys it holds.
pub async fn refresh(home: &Home, client: &Client) -> anyhow::Result<usize> {
    let keys: CaKeys = client
        .get("/v1/ca")
        .await
        .context("cannot fetch the host CA keys")?;
    let text = render(client.base_url(), &keys.host_ca)?;
    let path = home.known_hosts_path();
    if std::fs::read(&path).ok().as_deref() != Some(text.as_bytes()) {
        home.ensure()?;
        atomic::write(&path, text.as_bytes(), 0o644)?;
    }
    Ok(keys.host_ca.len())
}

/// [`refresh`], turning a failure into a warning: the certificate or enrollment it follows
/// has already succeeded, and the next one tries again.
pub async fn refresh_or_warn(home: &Home, client: &Client) {
    if let Err(e) = refresh(home, client).await {
        eprintln!(
            "jit: warning: {} was not refreshed ({e:#}); hosts certified by jit may ask you to \
             confirm their key",
            home.known_hosts_path().display()
        );
    }
}

/// Whether one of the engineer's `-o` options sets `UserKnownHostsFile` (ssh keeps the first
/// value, so jit must then stay out of the way).
pub fn chosen_by_user(options: &[String]) -> bool {
    options.iter().any(|option| {
        let keyword = option
            .trim_start()
            .split(|c: char| c == '=' || c.is_whitespace())
            .next()
            .unwrap_or_default();
        keyword.eq_ignore_ascii_case("UserKnownHostsFile")
    })
}

/// The `-o` value `UserKnownHostsFile="JIT_FILE" ~/.ssh/known_hosts` (ssh reads several
/// files from one value). `None` when the path cannot be written safely in an ssh option:
/// it holds a `"`, a line break or `${` (ssh would expand it). `%` is escaped as `%%`.
pub fn ssh_option(jit_file: &Path) -> Option<OsString> {
    let absolute = std::path::absolute(jit_file).ok()?;
    let bytes = absolute.as_os_str().as_bytes();
    if bytes.iter().any(|b| matches!(b, b'"' | b'\n' | b'\r' | 0))
        || bytes.windows(2).any(|w| w == b"${")
    {
        return None;
    }
    let mut value = b"UserKnownHostsFile=\"".to_vec();
    for &b in bytes {
        if b == b'%' {
            value.push(b'%');
        }
        value.push(b);
    }
    value.extend_from_slice(format!("\" {PERSONAL_KNOWN_HOSTS}").as_bytes());
    Some(OsString::from_vec(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

    #[test]
    fn host_ca_keys_become_cert_authority_lines_without_comments() {
        let text = render("https://jit:8443", &[format!("{KEY} jit host CA")]).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("# Host CA keys of the jit server https://jit:8443"));
        assert_eq!(lines[1], format!("@cert-authority * {KEY}"));
        assert_eq!(lines.len(), 2);
        assert!(render("x", &["not a key\n@cert-authority * evil".into()]).is_err());
    }

    #[test]
    fn user_choices_are_found_in_either_spelling() {
        let given = |o: &str| chosen_by_user(&[o.to_string()]);
        assert!(given("UserKnownHostsFile=/dev/null"));
        assert!(given("userknownhostsfile /dev/null"));
        assert!(given(" UserKnownHostsFile = x"));
        assert!(!given("GlobalKnownHostsFile=/dev/null"));
        assert!(!given("StrictHostKeyChecking=yes"));
        assert!(!chosen_by_user(&[]));
    }

    #[test]
    fn the_option_quotes_the_path_and_escapes_percent() {
        let value = ssh_option(Path::new("/home/a b/100%/known_hosts")).unwrap();
        assert_eq!(
            value.to_str().unwrap(),
            "UserKnownHostsFile=\"/home/a b/100%%/known_hosts\" ~/.ssh/known_hosts"
        );
        assert!(ssh_option(Path::new("/x\"y/known_hosts")).is_none());
        assert!(ssh_option(Path::new("/x${HOME}/known_hosts")).is_none());
    }
}
