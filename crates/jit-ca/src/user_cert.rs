//! OpenSSH user certificates: validity arithmetic, key IDs, building and signing.

use std::time::Duration;

use rand_core::CryptoRngCore;
use sha2::{Digest, Sha256};
use ssh_key::certificate::{Builder, CertType};
use ssh_key::{Certificate, PublicKey};

use crate::serial::is_valid_serial;
use crate::signer::{BuilderSigner, CaSigner};
use crate::{Error, Result};

/// What to certify. Everything here was already decided by policy; this module only
/// refuses what would make an unsafe certificate.
#[derive(Debug, Clone)]
pub struct UserCertificateRequest<'a> {
    /// The client's (ephemeral) public key.
    pub public_key: &'a PublicKey,
    /// jit user name (goes into the key ID).
    pub user: &'a str,
    /// Role name (goes into the key ID).
    pub role: &'a str,
    /// Principals; at least one, each from the safe character set.
    pub principals: &'a [String],
    /// Serial allocated for this certificate.
    pub serial: u64,
    /// Current time, Unix seconds.
    pub now: u64,
    /// How far back `valid_after` starts (clock skew allowance).
    pub backdate: Duration,
    /// Lifetime from `now`.
    pub ttl: Duration,
    /// Extensions (`permit-pty`, ...), all with empty values.
    pub extensions: &'a [String],
    /// Critical options (`force-command`, `source-address`) with their values.
    pub critical_options: &'a [(String, String)],
    /// The log receipt to carry in the `log-receipt@jit` extension (roles that opt in).
    pub receipt: Option<&'a str>,
}

/// The non-critical extension that carries a log receipt (sshd ignores unknown extensions).
pub const RECEIPT_EXTENSION: &str = "log-receipt@jit";

/// A signed certificate with what the log records about it.
#[derive(Debug, Clone)]
pub struct IssuedCertificate {
    /// The certificate.
    pub certificate: Certificate,
    /// OpenSSH one-line form.
    pub openssh: String,
    /// SHA-256 (hex) of the certificate's binary encoding.
    pub sha256: String,
    /// The key ID the CA chose.
    pub key_id: String,
    /// Unix seconds.
    pub valid_after: u64,
    /// Unix seconds.
    pub valid_before: u64,
}

/// The key ID sshd logs for a certificate: `user@role#serial`, made by the CA only.
pub fn key_id(user: &str, role: &str, serial: u64) -> String {
    format!("{user}@{role}#{serial}")
}

/// `(valid_after, valid_before)` = `(now - backdate, now + ttl)`, with checked arithmetic.
/// Refuses a zero TTL, a `valid_after` of 0 and a `valid_before` of 2^64-1 ("forever").
pub fn validity(now: u64, backdate: Duration, ttl: Duration) -> Result<(u64, u64)> {
    if ttl.is_zero() {
        return Err(Error::ValidityOutOfRange);
    }
    let valid_after = now
        .checked_sub(backdate.as_secs())
        .filter(|after| *after > 0)
        .ok_or(Error::ValidityOutOfRange)?;
    let valid_before = now
        .checked_add(ttl.as_secs())
        .filter(|before| *before < u64::MAX && *before > valid_after)
        .ok_or(Error::ValidityOutOfRange)?;
    Ok((valid_after, valid_before))
}

/// Build and sign a user certificate.
pub fn sign_user_certificate(
    signer: &dyn CaSigner,
    rng: &mut impl CryptoRngCore,
    request: &UserCertificateRequest<'_>,
) -> Result<IssuedCertificate> {
    for principal in request.principals {
        jit_proto::names::validate_principal(principal)
            .map_err(|e| Error::Certificate(e.to_string()))?;
    }
    let validity = validity(request.now, request.backdate, request.ttl)?;
    let mut extensions: Vec<(String, String)> = request
        .extensions
        .iter()
        .map(|name| (name.clone(), String::new()))
        .collect();
    if let Some(receipt) = request.receipt {
        extensions.push((RECEIPT_EXTENSION.to_string(), receipt.to_string()));
    }
    sign_certificate(
        signer,
        rng,
        &Template {
            cert_type: CertType::User,
            key_id: key_id(request.user, request.role, request.serial),
            public_key: request.public_key,
            principals: request.principals,
            serial: request.serial,
            validity,
            critical_options: request.critical_options,
            extensions: &extensions,
        },
    )
}

/// What to certify for a host.
#[derive(Debug, Clone)]
pub struct HostCertificateRequest<'a> {
    /// The host's public key (e.g. `/etc/ssh/ssh_host_ed25519_key.pub`).
    pub public_key: &'a PublicKey,
    /// Host name in jitd (goes into the key ID).
    pub host: &'a str,
    /// Names clients connect to: host names and IP addresses.
    pub principals: &'a [String],
    /// Serial allocated for this certificate.
    pub serial: u64,
    /// Current time, Unix seconds.
    pub now: u64,
    /// Lifetime from `now` (hosts renew before it ends).
    pub ttl: Duration,
}

/// Build and sign a host certificate (key ID `host:NAME#serial`, valid from 5 minutes ago).
pub fn sign_host_certificate(
    signer: &dyn CaSigner,
    rng: &mut impl CryptoRngCore,
    request: &HostCertificateRequest<'_>,
) -> Result<IssuedCertificate> {
    for principal in request.principals {
        jit_proto::names::validate_host_principal(principal)
            .map_err(|e| Error::Certificate(e.to_string()))?;
    }
    let validity = validity(request.now, Duration::from_secs(300), request.ttl)?;
    sign_certificate(
        signer,
        rng,
        &Template {
            cert_type: CertType::Host,
            key_id: format!("host:{}#{}", request.host, request.serial),
            public_key: request.public_key,
            principals: request.principals,
            serial: request.serial,
            validity,
            critical_options: &[],
            extensions: &[],
        },
    )
}

/// Everything a certificate holds, decided by the caller.
struct Template<'a> {
    cert_type: CertType,
    key_id: String,
    public_key: &'a PublicKey,
    principals: &'a [String],
    serial: u64,
    validity: (u64, u64),
    critical_options: &'a [(String, String)],
    extensions: &'a [(String, String)],
}

/// Refuse unsafe certificates (no principals, serial 0 or 2^64-1), then build and sign.
fn sign_certificate(
    signer: &dyn CaSigner,
    rng: &mut impl CryptoRngCore,
    template: &Template<'_>,
) -> Result<IssuedCertificate> {
    if template.principals.is_empty() {
        return Err(Error::Certificate(
            "a certificate needs at least one principal".into(),
        ));
    }
    if !is_valid_serial(template.serial) {
        return Err(Error::Certificate("serial must be in 1..2^64-1".into()));
    }
    let (valid_after, valid_before) = template.validity;
    let cert_error = |e: ssh_key::Error| Error::Certificate(e.to_string());
    let mut builder = Builder::new_with_random_nonce(
        rng,
        template.public_key.key_data().clone(),
        valid_after,
        valid_before,
    )
    .map_err(cert_error)?;
    builder
        .serial(template.serial)
        .and_then(|b| b.cert_type(template.cert_type))
        .and_then(|b| b.key_id(template.key_id.clone()))
        .map_err(cert_error)?;
    for principal in template.principals {
        builder
            .valid_principal(principal.clone())
            .map_err(cert_error)?;
    }
    for (name, value) in template.critical_options {
        builder
            .critical_option(name.clone(), value.clone())
            .map_err(cert_error)?;
    }
    for (name, value) in template.extensions {
        builder
            .extension(name.clone(), value.clone())
            .map_err(cert_error)?;
    }
    let certificate = builder.sign(&BuilderSigner(signer)).map_err(cert_error)?;
    let openssh = certificate.to_openssh().map_err(cert_error)?;
    let sha256 = certificate_sha256(&certificate)?;
    Ok(IssuedCertificate {
        certificate,
        openssh,
        sha256,
        key_id: template.key_id.clone(),
        valid_after,
        valid_before,
    })
}

/// SHA-256 (hex) of a certificate's binary encoding: what the log binds to.
pub fn certificate_sha256(certificate: &Certificate) -> Result<String> {
    use ssh_encoding::Encode as _;
    let mut bytes = Vec::new();
    certificate
        .encode(&mut bytes)
        .map_err(|e| Error::Certificate(e.to_string()))?;
    Ok(hex::encode(Sha256::digest(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signer::Ed25519Signer;
    use ssh_key::{Algorithm, PrivateKey};

    fn ca() -> Ed25519Signer {
        Ed25519Signer::new(
            ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng),
            "ca",
        )
    }

    #[test]
    fn validity_is_checked_arithmetic() {
        let m = Duration::from_secs(60);
        assert_eq!(
            validity(1000, Duration::from_secs(30), m).expect("ok"),
            (970, 1060)
        );
        assert!(
            validity(10, Duration::from_secs(30), m).is_err(),
            "valid_after would underflow"
        );
        assert!(
            validity(30, Duration::from_secs(30), m).is_err(),
            "valid_after would be 0"
        );
        assert!(
            validity(u64::MAX - 10, Duration::ZERO, m).is_err(),
            "overflow"
        );
        assert!(
            validity(u64::MAX - 60, Duration::ZERO, m).is_err(),
            "2^64-1 means forever"
        );
        assert!(
            validity(1000, Duration::ZERO, Duration::ZERO).is_err(),
            "zero ttl"
        );
    }

    #[test]
    fn signs_a_certificate_that_verifies_under_the_ca() {
        let ca = ca();
        let client = PrivateKey::random(&mut rand_core::OsRng, Algorithm::Ed25519).expect("key");
        let principals = vec!["deploy".to_string(), "web".to_string()];
        let request = UserCertificateRequest {
            public_key: client.public_key(),
            user: "alice",
            role: "web-oncall",
            principals: &principals,
            serial: 77,
            now: 1_800_000_000,
            backdate: Duration::from_secs(30),
            ttl: Duration::from_secs(900),
            extensions: &["permit-pty".to_string()],
            critical_options: &[("force-command".to_string(), "/bin/true".to_string())],
            receipt: Some("v1 1 AAAA"),
        };
        let issued = sign_user_certificate(&ca, &mut rand_core::OsRng, &request).expect("sign");
        let cert = &issued.certificate;
        assert_eq!(cert.key_id(), "alice@web-oncall#77");
        assert_eq!(cert.serial(), 77);
        assert_eq!(cert.valid_principals(), principals.as_slice());
        assert_eq!(cert.valid_after(), 1_800_000_000 - 30);
        assert_eq!(cert.valid_before(), 1_800_000_900);
        assert_eq!(cert.cert_type(), CertType::User);
        let ca_fp = ca.public_key().fingerprint(ssh_key::HashAlg::Sha256);
        cert.validate_at(1_800_000_100, &[ca_fp])
            .expect("valid under the CA");
        assert!(
            cert.validate_at(1_800_000_900, &[ca_fp]).is_err(),
            "expired at valid_before"
        );
        assert_eq!(issued.sha256.len(), 64);
        assert_eq!(
            cert.extensions().get(RECEIPT_EXTENSION).map(String::as_str),
            Some("v1 1 AAAA")
        );
        assert_eq!(
            cert.extensions().get("permit-pty").map(String::as_str),
            Some("")
        );
    }

    #[test]
    fn host_certificates_are_host_type_with_host_principals() {
        let ca = ca();
        let host = PrivateKey::random(&mut rand_core::OsRng, Algorithm::Ed25519).expect("key");
        let principals = vec![
            "web-1".to_string(),
            "10.0.0.5".to_string(),
            "::1".to_string(),
        ];
        let request = HostCertificateRequest {
            public_key: host.public_key(),
            host: "web-1",
            principals: &principals,
            serial: 9,
            now: 1_800_000_000,
            ttl: Duration::from_secs(86400),
        };
        let issued = sign_host_certificate(&ca, &mut rand_core::OsRng, &request).expect("sign");
        assert_eq!(issued.certificate.cert_type(), CertType::Host);
        assert_eq!(issued.key_id, "host:web-1#9");
        assert_eq!(issued.certificate.valid_principals(), principals.as_slice());
        let bad = vec!["*.prod".to_string()];
        let request = HostCertificateRequest {
            principals: &bad,
            ..request
        };
        assert!(
            sign_host_certificate(&ca, &mut rand_core::OsRng, &request).is_err(),
            "no wildcards"
        );
    }

    #[test]
    fn refuses_unsafe_requests() {
        let ca = ca();
        let client = PrivateKey::random(&mut rand_core::OsRng, Algorithm::Ed25519).expect("key");
        let base = |principals: &[String], serial: u64| {
            let request = UserCertificateRequest {
                public_key: client.public_key(),
                user: "alice",
                role: "r",
                principals,
                serial,
                now: 1_800_000_000,
                backdate: Duration::from_secs(30),
                ttl: Duration::from_secs(60),
                extensions: &[],
                critical_options: &[],
                receipt: None,
            };
            sign_user_certificate(&ca, &mut rand_core::OsRng, &request)
        };
        assert!(base(&[], 1).is_err(), "no principals");
        assert!(base(&["root,admin".to_string()], 1).is_err(), "comma");
        assert!(base(&["*".to_string()], 1).is_err(), "wildcard");
        assert!(base(&["ok".to_string()], 0).is_err(), "serial 0");
        assert!(base(&["ok".to_string()], u64::MAX).is_err(), "serial max");
        assert!(base(&["ok".to_string()], u64::MAX - 1).is_ok());
    }
}
