//! `jit host enroll TOKEN`: trade a one-time host token for a certificate of this server's
//! SSH host key, write it next to the key, and remember the server in `host.json`.
//!
//! Also home of what `jit host renew` shares: reading the host key, and checking that a
//! certificate the server sends is a host certificate for exactly that key, signed by one of
//! the server's host CA keys, and valid now.

use std::path::Path;

use anyhow::Context as _;
use jit_proto::api::{CaKeys, HostCertificateResponse, HostEnrollRequest};
use jit_proto::token::EnrollmentToken;
use jit_proto::ErrorCode;
use ssh_key::certificate::CertType;
use ssh_key::{Certificate, HashAlg, PublicKey};

use super::{certificate_path, prepare_dir, HostConfig};
use crate::atomic;
use crate::cli::HostEnrollArgs;
use crate::clock::{self, rfc3339, short_duration};
use crate::error::{fail, rehint};
use crate::http::Client;

/// Run `jit host enroll`.
pub async fn run(args: HostEnrollArgs) -> anyhow::Result<()> {
    let token = EnrollmentToken::decode(&args.token).map_err(|e| {
        fail(
            e.to_string(),
            "copy the whole host token (it starts with `jit1_`) from your operator",
        )
    })?;
    let host_key = std::path::absolute(&args.host_key)
        .with_context(|| format!("cannot resolve {}", args.host_key.display()))?;
    let cert_path = certificate_path(&host_key)?;
    let public = read_public_key(&host_key)?;
    let client = Client::new(&token.url, &token.tls_sha256)?;
    // The token is single use: fail on a directory problem before spending it.
    prepare_dir(&args.dir)?;

    eprintln!(
        "jit: asking {} for a certificate of the host key {} ({}) ...",
        client.base_url(),
        host_key.display(),
        public.fingerprint(HashAlg::Sha256)
    );
    let request = HostEnrollRequest {
        token_secret: token.secret.clone(),
        public_key: public.to_openssh().context("cannot encode the host key")?,
    };
    let response: HostCertificateResponse = client
        .post("/v1/hosts/enroll", &request)
        .await
        .map_err(|e| {
            rehint(
                e,
                ErrorCode::InvalidToken,
                "ask your operator for a new host token (`jitd host add NAME`); a token works \
                 once and expires",
            )
        })
        .context("host enrollment failed")?;
    let certificate = verified(&client, &response, &public).await?;
    write_certificate(&cert_path, &certificate)?;
    let config = HostConfig {
        server_url: client.base_url().to_string(),
        tls_sha256: hex::encode(crate::tls::parse_pin(&token.tls_sha256)?),
        host: response.host.clone(),
        host_key,
        certificate: cert_path.clone(),
    };
    config.save(&args.dir)?;

    eprint!("{}", describe(&response.host, &certificate, clock::now()));
    eprintln!(
        "jit: wrote {} and {}",
        cert_path.display(),
        args.dir.join(super::HOST_JSON).display()
    );
    eprintln!(
        "jit: add the line below to sshd_config (setup.sh puts it in \
         /etc/ssh/sshd_config.d/50-jit.conf), then reload sshd (`systemctl reload ssh`):"
    );
    println!("HostCertificate {}", cert_path.display());
    Ok(())
}

/// Read the host public key (`.pub`, one OpenSSH line).
pub fn read_public_key(path: &Path) -> anyhow::Result<PublicKey> {
    PublicKey::read_openssh_file(path).map_err(|e| {
        fail(
            format!("cannot read the host public key {}: {e}", path.display()),
            "pass the host's public key with --host-key (e.g. /etc/ssh/ssh_host_ed25519_key.pub; \
             `ssh-keygen -A` creates missing host keys)",
        )
    })
}

/// The certificate in `response`, once checked: a host certificate for exactly `key`,
/// valid now, signed by one of the server's host CA keys (`GET /v1/ca`), so engineers'
/// `@cert-authority` lines accept it.
pub async fn verified(
    client: &Client,
    response: &HostCertificateResponse,
    key: &PublicKey,
) -> anyhow::Result<Certificate> {
    let unreadable = |why: String| {
        fail(
            format!("the server sent a host certificate jit cannot use: {why}"),
            "the server and this jit may be different versions; ask your operator",
        )
    };
    let certificate = Certificate::from_openssh(response.certificate.trim())
        .map_err(|e| unreadable(e.to_string()))?;
    if certificate.cert_type() != CertType::Host {
        return Err(unreadable("it is not a host certificate".into()));
    }
    if certificate.public_key() != key.key_data() {
        return Err(unreadable("it certifies another key".into()));
    }
    let now = clock::now();
    if certificate.valid_before() <= now || certificate.valid_after() > now + 300 {
        return Err(fail(
            format!(
                "the new host certificate is not valid now (valid from {} until {})",
                rfc3339(certificate.valid_after()),
                rfc3339(certificate.valid_before())
            ),
            "check this machine's clock (it must agree with the server's)",
        ));
    }
    let keys: CaKeys = client
        .get("/v1/ca")
        .await
        .context("cannot fetch the host CA keys to check the certificate")?;
    let signer = certificate.signature_key().fingerprint(HashAlg::Sha256);
    let trusted = keys
        .host_ca
        .iter()
        .filter_map(|line| PublicKey::from_openssh(line.trim()).ok())
        .map(|ca| ca.fingerprint(HashAlg::Sha256))
        .collect::<Vec<_>>();
    let at = now.max(certificate.valid_after());
    if !trusted.contains(&signer) || certificate.validate_at(at, &trusted).is_err() {
        return Err(fail(
            format!("the host certificate is not signed by a host CA key of the server ({signer})"),
            "ask your operator: the server's host CA (GET /v1/ca) must sign host certificates",
        ));
    }
    Ok(certificate)
}

/// Write `certificate` as one OpenSSH line to `path` (0644, atomically).
pub fn write_certificate(path: &Path, certificate: &Certificate) -> anyhow::Result<()> {
    let line = certificate
        .to_openssh()
        .context("cannot encode the host certificate")?;
    atomic::write(path, format!("{line}\n").as_bytes(), 0o644)
}

/// `jit: host certificate for NAME (names a, b; serial N) valid until T (Nd left)`.
pub fn describe(host: &str, certificate: &Certificate, now: u64) -> String {
    format!(
        "jit: host certificate for {host} (names {}; serial {}) valid until {} ({} left)\n",
        certificate.valid_principals().join(", "),
        certificate.serial(),
        rfc3339(certificate.valid_before()),
        short_duration(certificate.valid_before().saturating_sub(now)),
    )
}
