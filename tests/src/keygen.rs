//! `ssh-keygen` as an independent reference: making keys and CAs, signing certificates the
//! way an administrator would (also to forge ones from an untrusted CA), reading certificates
//! back with `ssh-keygen -L`, and KRLs (`-k`, `-Q`).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::process::{run_checked, run_with_timeout, OutputExt};
use crate::tools;

/// An OpenSSH key pair on disk, as `ssh-keygen -f PRIVATE` writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPair {
    /// The private key file (mode 0600).
    pub private: PathBuf,
    /// The public key file, `PRIVATE.pub`.
    pub public: PathBuf,
}

impl KeyPair {
    /// Where `ssh-keygen -s` writes the certificate for this key: `PRIVATE-cert.pub`.
    pub fn certificate(&self) -> PathBuf {
        certificate_path(&self.public)
    }

    /// The public key line, e.g. `ssh-ed25519 AAAA… comment`, without the newline.
    pub fn public_key_line(&self) -> String {
        read_trimmed(&self.public)
    }
}

/// Reads a small text file and trims it; panics with the path on error.
fn read_trimmed(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("jit-e2e: cannot read {}: {e}", path.display()))
        .trim()
        .to_string()
}

/// The certificate path `ssh-keygen -s` derives from a public key path: `X.pub` becomes
/// `X-cert.pub`, anything else `X-cert.pub` appended.
pub fn certificate_path(pubkey: &Path) -> PathBuf {
    let text = pubkey.to_string_lossy();
    let stem = text.strip_suffix(".pub").unwrap_or(&text);
    PathBuf::from(format!("{stem}-cert.pub"))
}

/// Generates an unencrypted Ed25519 key pair `DIR/NAME` and `DIR/NAME.pub` with comment
/// `NAME` (`ssh-keygen -q -t ed25519 -N '' -C NAME -f DIR/NAME`).
pub fn generate_ed25519(dir: &Path, name: &str) -> KeyPair {
    let private = dir.join(name);
    run_checked(
        Command::new(tools::ssh_keygen())
            .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
            .arg(&private),
    );
    let public = private.with_file_name(format!("{name}.pub"));
    KeyPair { private, public }
}

/// Signs the user public key `pubkey` with the CA private key `ca_key`
/// (`ssh-keygen -s CA -I KEY_ID -n P1,P2 -V VALIDITY -z SERIAL PUBKEY`) and returns the
/// certificate path ([`certificate_path`]). `validity` uses ssh-keygen's syntax, e.g.
/// `"+5m"`, `"-1h:+1h"`, `"20200101:20200102"`. Panics if ssh-keygen fails.
pub fn ca_sign(
    ca_key: &Path,
    pubkey: &Path,
    key_id: &str,
    principals: &[&str],
    validity: &str,
    serial: u64,
) -> PathBuf {
    ca_sign_with_options(ca_key, pubkey, key_id, principals, validity, serial, &[])
}

/// Like [`ca_sign`], with certificate options passed as `-O OPTION` each (e.g. `"clear"`,
/// `"permit-pty"`, `"source-address=127.0.0.1/32"`, `"force-command=true"`).
pub fn ca_sign_with_options(
    ca_key: &Path,
    pubkey: &Path,
    key_id: &str,
    principals: &[&str],
    validity: &str,
    serial: u64,
    options: &[&str],
) -> PathBuf {
    let mut cmd = Command::new(tools::ssh_keygen());
    cmd.arg("-q")
        .arg("-s")
        .arg(ca_key)
        .args(["-I", key_id])
        .args(["-V", validity])
        .args(["-z", &serial.to_string()]);
    if !principals.is_empty() {
        cmd.args(["-n", &principals.join(",")]);
    }
    for option in options {
        cmd.args(["-O", option]);
    }
    cmd.arg(pubkey);
    run_checked(&mut cmd);
    certificate_path(pubkey)
}

/// The SHA256 fingerprint (`SHA256:…`) of a public key, private key or certificate file,
/// as `ssh-add -l` and sshd logs print it.
pub fn fingerprint(path: &Path) -> String {
    let out = run_checked(
        Command::new(tools::ssh_keygen())
            .arg("-l")
            .arg("-f")
            .arg(path),
    );
    out.stdout_text()
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| {
            panic!(
                "jit-e2e: no fingerprint in `ssh-keygen -l -f {}`",
                path.display()
            )
        })
        .to_string()
}

/// Writes a KRL to `krl` with `ssh-keygen -k`. `specs` are lines of a KRL specification
/// (e.g. `"serial: 42"`, `"id: alice"`) and need `ca_pub`; with no specs the KRL is empty,
/// which is what sshd's `RevokedKeys` needs to accept every key. Written atomically.
pub fn krl_create(krl: &Path, ca_pub: Option<&Path>, specs: &[&str]) {
    let dir = krl.parent().unwrap_or(Path::new("."));
    let name = krl
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let spec_file = dir.join(format!(".{name}.spec"));
    let tmp = dir.join(format!(".{name}.new"));
    let mut text = specs.join("\n");
    text.push('\n');
    std::fs::write(&spec_file, if specs.is_empty() { "" } else { &text })
        .unwrap_or_else(|e| panic!("jit-e2e: cannot write {}: {e}", spec_file.display()));
    let _ = std::fs::remove_file(&tmp);
    let mut cmd = Command::new(tools::ssh_keygen());
    cmd.arg("-q").arg("-k").arg("-f").arg(&tmp);
    if let Some(ca) = ca_pub {
        cmd.arg("-s").arg(ca);
    }
    cmd.arg(&spec_file);
    run_checked(&mut cmd);
    let _ = std::fs::remove_file(&spec_file);
    crate::scratch::set_mode(&tmp, 0o644);
    std::fs::rename(&tmp, krl).unwrap_or_else(|e| {
        panic!(
            "jit-e2e: cannot rename {} to {}: {e}",
            tmp.display(),
            krl.display()
        )
    });
}

/// Asks `ssh-keygen -Q -f KRL KEY` whether `key` (a public key or certificate file) is
/// revoked by `krl`.
pub fn krl_is_revoked(krl: &Path, key: &Path) -> bool {
    let out = run_with_timeout(
        Command::new(tools::ssh_keygen())
            .arg("-Q")
            .arg("-f")
            .arg(krl)
            .arg(key),
        std::time::Duration::from_secs(30),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let text = format!("{}{}", out.stdout_text(), out.stderr_text());
    if text.contains("REVOKED") {
        return true;
    }
    if out.status.success() && text.contains(": ok") {
        return false;
    }
    panic!(
        "jit-e2e: unexpected `ssh-keygen -Q` result\n{}",
        out.describe()
    );
}

/// What `ssh-keygen -L` says about a certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertificateInfo {
    /// `Type:` e.g. `ssh-ed25519-cert-v01@openssh.com user certificate`.
    pub cert_type: String,
    /// `Public key:` e.g. `ED25519-CERT SHA256:…`.
    pub public_key: String,
    /// `Signing CA:` e.g. `ED25519 SHA256:… (using ssh-ed25519)`.
    pub signing_ca: String,
    /// `Key ID:` without the surrounding quotes.
    pub key_id: String,
    /// `Serial:`.
    pub serial: u64,
    /// Start of validity as printed (local time, `YYYY-MM-DDTHH:MM:SS`), or `"always"` when
    /// the certificate has no lower bound.
    pub valid_from: String,
    /// End of validity as printed, or `"forever"` when it has no upper bound.
    pub valid_to: String,
    /// `Principals:`, one entry each (empty for `(none)`).
    pub principals: Vec<String>,
    /// `Critical Options:`, each as printed, e.g. `force-command ls` (empty for `(none)`).
    pub critical_options: Vec<String>,
    /// `Extensions:`, each as printed, e.g. `permit-pty` (empty for `(none)`).
    pub extensions: Vec<String>,
    /// The full `ssh-keygen -L` output.
    pub raw: String,
}

impl CertificateInfo {
    /// The `SHA256:…` fingerprint of the signing CA, taken from [`CertificateInfo::signing_ca`].
    pub fn signing_ca_fingerprint(&self) -> Option<&str> {
        self.signing_ca
            .split_whitespace()
            .find(|w| w.starts_with("SHA256:"))
    }

    /// True when [`CertificateInfo::cert_type`] says it is a user certificate.
    pub fn is_user_certificate(&self) -> bool {
        self.cert_type.ends_with("user certificate")
    }

    /// The value of a critical option by name (`force-command`, `source-address`), if set.
    pub fn critical_option(&self, name: &str) -> Option<&str> {
        self.critical_options.iter().find_map(|o| {
            let (key, value) = o.split_once(' ').unwrap_or((o.as_str(), ""));
            (key == name).then_some(value.trim())
        })
    }
}

/// Runs `ssh-keygen -L -f PATH` and parses its output with [`parse_certificate_listing`].
/// Panics if ssh-keygen fails or the output cannot be parsed.
pub fn inspect_certificate(path: &Path) -> CertificateInfo {
    let out = run_checked(
        Command::new(tools::ssh_keygen())
            .arg("-L")
            .arg("-f")
            .arg(path),
    );
    parse_certificate_listing(&out.stdout_text()).unwrap_or_else(|e| {
        panic!(
            "jit-e2e: cannot parse `ssh-keygen -L -f {}`: {e}\n{}",
            path.display(),
            out.stdout_text()
        )
    })
}

/// The sections of a listing whose entries follow on their own, deeper-indented lines.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    None,
    Principals,
    CriticalOptions,
    Extensions,
}

/// Parses the text `ssh-keygen -L` prints for one certificate. Tolerant of indentation,
/// blank lines, the leading `PATH:` line and fields it does not know; requires at least
/// `Type`, `Key ID`, `Serial` and `Valid`.
pub fn parse_certificate_listing(text: &str) -> Result<CertificateInfo, String> {
    let mut info = CertificateInfo {
        raw: text.to_string(),
        ..CertificateInfo::default()
    };
    let mut seen = [false; 4]; // type, key id, serial, valid
    let mut section = Section::None;
    let mut label_indent: Option<usize> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let at_label_level = label_indent.is_none_or(|l| indent <= l);
        let field = split_label(trimmed).filter(|_| at_label_level);
        let Some((label, value)) = field else {
            if section != Section::None && !at_label_level {
                let list = match section {
                    Section::Principals => &mut info.principals,
                    Section::CriticalOptions => &mut info.critical_options,
                    Section::Extensions => &mut info.extensions,
                    Section::None => unreachable!("checked above"),
                };
                list.push(trimmed.to_string());
            }
            continue;
        };
        section = Section::None;
        let is_list_start = value.is_empty();
        match label {
            "Type" => {
                label_indent = Some(indent);
                info.cert_type = value.to_string();
                seen[0] = true;
            }
            "Public key" => info.public_key = value.to_string(),
            "Signing CA" => info.signing_ca = value.to_string(),
            "Key ID" => {
                info.key_id = unquote(value).to_string();
                seen[1] = true;
            }
            "Serial" => {
                info.serial = value
                    .parse()
                    .map_err(|e| format!("bad serial {value:?}: {e}"))?;
                seen[2] = true;
            }
            "Valid" => {
                (info.valid_from, info.valid_to) = parse_validity(value)?;
                seen[3] = true;
            }
            "Principals" if is_list_start => section = Section::Principals,
            "Critical Options" if is_list_start => section = Section::CriticalOptions,
            "Extensions" if is_list_start => section = Section::Extensions,
            "Principals" | "Critical Options" | "Extensions" if value == "(none)" => {}
            "Principals" | "Critical Options" | "Extensions" => {
                return Err(format!("unexpected value for {label}: {value:?}"));
            }
            _ => {} // the `PATH:` line, or a field this parser does not need
        }
    }
    let names = ["Type", "Key ID", "Serial", "Valid"];
    match seen.iter().position(|s| !s) {
        Some(i) => Err(format!("no `{}:` line", names[i])),
        None => Ok(info),
    }
}

/// Splits `Label: value` (or `Label:` alone) into its parts.
fn split_label(line: &str) -> Option<(&str, &str)> {
    let (label, value) = line.split_once(':')?;
    let label = label.trim();
    let plain = !label.is_empty() && label.chars().all(|c| c.is_ascii_alphabetic() || c == ' ');
    plain.then_some((label, value.trim()))
}

/// Removes one pair of surrounding double quotes.
fn unquote(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value)
}

/// Parses `from A to B`, `after A`, `before B` or `forever`.
fn parse_validity(value: &str) -> Result<(String, String), String> {
    let words: Vec<&str> = value.split_whitespace().collect();
    match words.as_slice() {
        ["from", from, "to", to] => Ok((from.to_string(), to.to_string())),
        ["after", from] => Ok((from.to_string(), "forever".to_string())),
        ["before", to] => Ok(("always".to_string(), to.to_string())),
        ["forever"] => Ok(("always".to_string(), "forever".to_string())),
        _ => Err(format!("unrecognised validity {value:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTING: &str = "user-cert.pub:
        Type: ssh-ed25519-cert-v01@openssh.com user certificate
        Public key: ED25519-CERT SHA256:eWhDWt3hd+uFluMWyzrY1jsKREsrSfAEp3DkbPtYJkk
        Signing CA: ED25519 SHA256:iGztjilO7IX7cIxsU9sa5X0dIzuefFCxDsRDYIvftrE (using ssh-ed25519)
        Key ID: \"id2\"
        Serial: 1
        Valid: from 2026-11-27T01:38:00 to 2026-11-27T01:44:40
        Principals: 
                a
        Critical Options: 
                force-command ls
                source-address 127.0.0.1/32
        Extensions: 
                permit-pty
";

    #[test]
    fn parses_a_listing_with_options() {
        let info = parse_certificate_listing(LISTING).expect("parses");
        assert_eq!(info.key_id, "id2");
        assert_eq!(info.serial, 1);
        assert_eq!(info.principals, ["a"]);
        assert_eq!(info.valid_from, "2026-11-27T01:38:00");
        assert_eq!(info.valid_to, "2026-11-27T01:44:40");
        assert_eq!(info.critical_option("force-command"), Some("ls"));
        assert_eq!(info.critical_option("source-address"), Some("127.0.0.1/32"));
        assert_eq!(info.extensions, ["permit-pty"]);
        assert!(info.is_user_certificate());
        assert_eq!(
            info.signing_ca_fingerprint(),
            Some("SHA256:iGztjilO7IX7cIxsU9sa5X0dIzuefFCxDsRDYIvftrE")
        );
    }

    #[test]
    fn parses_none_and_forever() {
        let text = "Type: x user certificate\nKey ID: \"k\"\nSerial: 0\nValid: forever\n\
                    Principals: (none)\nCritical Options: (none)\nExtensions: (none)\n";
        let info = parse_certificate_listing(text).expect("parses");
        assert!(info.principals.is_empty() && info.extensions.is_empty());
        assert_eq!(
            (info.valid_from.as_str(), info.valid_to.as_str()),
            ("always", "forever")
        );
    }

    #[test]
    fn rejects_text_without_a_certificate() {
        assert!(parse_certificate_listing("nothing here\n").is_err());
    }

    #[test]
    fn certificate_path_follows_ssh_keygen() {
        assert_eq!(
            certificate_path(Path::new("/a/k.pub")),
            PathBuf::from("/a/k-cert.pub")
        );
        assert_eq!(
            certificate_path(Path::new("/a/k")),
            PathBuf::from("/a/k-cert.pub")
        );
    }
}
