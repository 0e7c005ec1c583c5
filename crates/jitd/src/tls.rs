//! The API's TLS: a self-signed certificate made at init, loaded with the ring provider,
//! and the SHA-256 fingerprint that enrollment tokens carry so clients pin it.

use std::io::Write as _;
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest as _, Sha256};

/// Make a self-signed certificate for `host` (an IP or DNS name) and `localhost`,
/// write it and its key (0600, never overwriting), and return the certificate's fingerprint.
pub fn generate_self_signed(
    host: &str,
    cert_path: &Path,
    key_path: &Path,
) -> anyhow::Result<String> {
    let mut names = vec![host.to_string()];
    for extra in ["localhost", "127.0.0.1", "::1"] {
        if !names.iter().any(|n| n == extra) {
            names.push(extra.to_string());
        }
    }
    // rcgen turns names that parse as IP addresses into IP SANs.
    debug_assert!(names.iter().any(|n| n.parse::<IpAddr>().is_ok()));
    let certified =
        rcgen::generate_simple_self_signed(names).context("cannot make the TLS certificate")?;
    if let Some(parent) = cert_path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    write_new(
        key_path,
        certified.signing_key.serialize_pem().as_bytes(),
        0o600,
    )?;
    write_new(cert_path, certified.cert.pem().as_bytes(), 0o644)?;
    Ok(fingerprint_der(certified.cert.der()))
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| {
            format!(
                "cannot create {} (refusing to overwrite an existing file)",
                path.display()
            )
        })?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}

/// SHA-256 of a DER certificate, lowercase hex.
pub fn fingerprint_der(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

fn read_certificates(cert_path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let pem =
        std::fs::read(cert_path).with_context(|| format!("cannot read {}", cert_path.display()))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{} is not a PEM certificate", cert_path.display()))?;
    anyhow::ensure!(
        !certs.is_empty(),
        "{} holds no certificate",
        cert_path.display()
    );
    Ok(certs)
}

/// Fingerprint of the first certificate in a PEM file.
pub fn fingerprint_file(cert_path: &Path) -> anyhow::Result<String> {
    Ok(fingerprint_der(&read_certificates(cert_path)?[0]))
}

/// The rustls server configuration for the API (ring provider, TLS 1.2 and 1.3, HTTP/1.1).
pub fn server_config(
    cert_path: &Path,
    key_path: &Path,
) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let certs = read_certificates(cert_path)?;
    let key_pem = zeroize::Zeroizing::new(
        std::fs::read(key_path).with_context(|| format!("cannot read {}", key_path.display()))?,
    );
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .with_context(|| format!("{} is not a PEM private key", key_path.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the TLS certificate and key do not match")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_certificate_loads_and_is_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("tls/cert.pem");
        let key = dir.path().join("tls/key.pem");
        let fp = generate_self_signed("127.0.0.1", &cert, &key).unwrap();
        assert_eq!(fp, fingerprint_file(&cert).unwrap());
        assert_eq!(fp.len(), 64);
        server_config(&cert, &key).unwrap();
        assert!(generate_self_signed("127.0.0.1", &cert, &key).is_err());
        assert_eq!(fp, fingerprint_file(&cert).unwrap());
    }
}
