//! `jit host principals`: sshd's `AuthorizedPrincipalsCommand` for hosts that require log
//! receipts. sshd runs it for every certificate login; it prints the account's principals
//! only when the certificate carries a valid receipt (extension `log-receipt@jit`) signed by
//! the jit log key, so a certificate made with the CA key outside the log is refused.

use std::path::Path;

use anyhow::{bail, Context as _};
use jit_log::receipt::{Receipt, ReceiptStatement, EXTENSION};
use signature::Verifier as _;
use ssh_key::public::KeyData;
use ssh_key::{Algorithm, Certificate, HashAlg, PublicKey, Signature};

use crate::cli::HostPrincipalsArgs;

/// Print the principals for a certificate with a valid receipt; refuse (exit 1, reason on
/// stderr, which sshd logs) otherwise.
pub fn run(args: HostPrincipalsArgs) -> anyhow::Result<()> {
    let log_key = load_log_key(&args.dir.join(crate::host::sync::LOG_KEY))?;
    let certificate = Certificate::from_openssh(&format!("{} {}", args.key_type, args.key))
        .context("the key offered is not a certificate; only jit certificates with a log receipt are accepted here")?;
    let seq = verify_receipt(&certificate, &log_key)?;
    jit_proto::names::validate_user_name(&args.user)
        .or_else(|_| jit_proto::names::validate_principal(&args.user))
        .map_err(|e| anyhow::anyhow!("refusing account name: {e}"))?;
    let file = args.dir.join("principals").join(&args.user);
    let principals = std::fs::read_to_string(&file).unwrap_or_default();
    eprintln!(
        "jit: log receipt ok: certificate {} (serial {}) is log entry {seq}",
        certificate.key_id(),
        certificate.serial()
    );
    print!("{principals}");
    Ok(())
}

fn load_log_key(path: &Path) -> anyhow::Result<PublicKey> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read the log key {} (run `jit host sync`)",
            path.display()
        )
    })?;
    PublicKey::from_openssh(text.lines().next().unwrap_or_default().trim())
        .with_context(|| format!("{} is not an OpenSSH public key", path.display()))
}

/// Check the certificate's log receipt against `log_key`; returns the log index it names.
pub fn verify_receipt(certificate: &Certificate, log_key: &PublicKey) -> anyhow::Result<u64> {
    let Some(value) = certificate.extensions().get(EXTENSION) else {
        bail!(
            "certificate {} has no log receipt: it was not issued through the jit log",
            certificate.key_id()
        );
    };
    let receipt = Receipt::parse(value)
        .map_err(|_| anyhow::anyhow!("the certificate's log receipt is malformed"))?;
    let public = PublicKey::from(certificate.public_key().clone());
    let ca = PublicKey::from(certificate.signature_key().clone());
    let statement = ReceiptStatement {
        seq: receipt.seq,
        serial: certificate.serial(),
        key_id: certificate.key_id().to_string(),
        public_key_fingerprint: public.fingerprint(HashAlg::Sha256).to_string(),
        valid_after: certificate.valid_after(),
        valid_before: certificate.valid_before(),
        ca_fingerprint: ca.fingerprint(HashAlg::Sha256).to_string(),
        principals: certificate.valid_principals().to_vec(),
    };
    let KeyData::Ed25519(key) = log_key.key_data() else {
        bail!("the log key is not an Ed25519 key");
    };
    let signature = Signature::new(Algorithm::Ed25519, receipt.signature.clone())
        .map_err(|_| anyhow::anyhow!("the log receipt signature is malformed"))?;
    key.verify(&statement.signed_bytes(), &signature)
        .map_err(|_| {
            anyhow::anyhow!(
                "the log receipt of {} does not verify with the log key",
                certificate.key_id()
            )
        })?;
    Ok(receipt.seq)
}
