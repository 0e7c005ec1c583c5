//! `jit host principals`: sshd's `AuthorizedPrincipalsCommand` for hosts that require log
//! receipts. sshd runs it for every certificate login; it prints the account's principals
//! only when the certificate carries a valid receipt (extension `log-receipt@jit`) signed by
//! the jit log key, so a certificate made with the CA key outside the log is refused.

use anyhow::{bail, Context as _};
use jit_log::receipt::{Receipt, ReceiptStatement, EXTENSION};
use ssh_key::{Certificate, HashAlg, PublicKey};

use crate::audit::log_key::LogKey;
use crate::cli::HostPrincipalsArgs;

/// Print the principals for a certificate with a valid receipt; refuse otherwise (exit 1,
/// reason on stderr; sshd logs only "AuthorizedPrincipalsCommand ... failed, status 1").
pub fn run(args: HostPrincipalsArgs) -> anyhow::Result<()> {
    let log_key = LogKey::read(&args.dir.join(crate::host::sync::LOG_KEY))
        .context("run `jit host sync` to fetch the log key")?;
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

/// Check the certificate's log receipt against `log_key`; returns the log index it names.
pub fn verify_receipt(certificate: &Certificate, log_key: &LogKey) -> anyhow::Result<u64> {
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
    log_key
        .check(&statement.signed_bytes(), &receipt.signature)
        .map_err(|_| {
            anyhow::anyhow!(
                "the log receipt of {} does not verify with the log key",
                certificate.key_id()
            )
        })?;
    Ok(receipt.seq)
}
