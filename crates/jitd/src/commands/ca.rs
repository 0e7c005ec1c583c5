//! `jitd ca show | rotate | retire`: the CA public keys, and replacing a CA key without an
//! outage (old and new are both published and trusted until the old one retires). The keys
//! in force are kept in the store, each change committed with its log record
//! ([`crate::ca_keys`]); `jitd serve` reads them when it starts.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use jit_ca::signer::CaSigner as _;
use jit_store::{CaKeyState, CaKind, Change};

use crate::ca_keys::{key_row, record};
use crate::cli::CaCommand;

/// Run a CA command.
pub async fn run(data_dir: &Path, command: CaCommand) -> anyhow::Result<ExitCode> {
    let (config, store) = super::open(data_dir).await?;
    let (_, policy_hash) = super::policy_text(data_dir, &config)?;
    let now = super::now();
    crate::ca_keys::adopt(store.as_ref(), data_dir, &config, &policy_hash, now).await?;
    match command {
        CaCommand::Show { user, host, log } => {
            if log {
                let key =
                    jit_ca::custody::public_key_of_file(&config.path(data_dir, &config.log_key))?;
                println!("{}", key.to_openssh().map_err(anyhow::Error::msg)?);
                return Ok(ExitCode::SUCCESS);
            }
            // Active key first, then earlier ones (newest first), per kind.
            let keys = store.ca_keys().await?;
            for (kind, wanted) in [(CaKind::User, !host), (CaKind::Host, !user)] {
                if !wanted {
                    continue;
                }
                for state in [CaKeyState::Active, CaKeyState::Previous] {
                    for key in keys.iter().filter(|k| k.kind == kind && k.state == state) {
                        println!("{}", key.public_key);
                    }
                }
            }
        }
        CaCommand::Rotate {
            user: _,
            host,
            passphrase,
            insecure_no_passphrase,
            by,
        } => {
            let passphrase = super::passphrase(&passphrase)?;
            if passphrase.is_none() && !insecure_no_passphrase {
                bail!("give the passphrase for the new key with --passphrase-file or JITD_CA_PASSPHRASE (or --insecure-no-passphrase)");
            }
            let kind = if host { CaKind::Host } else { CaKind::User };
            let file = PathBuf::from(format!("{}_ca-{now}", kind.as_str()));
            // The new file is inert until the store names it (a crash leaves a stray file).
            let signer = jit_ca::custody::generate_key_file(
                &mut rand::rngs::OsRng,
                &data_dir.join(&file),
                &format!("jit {} CA", kind.as_str()),
                passphrase.as_ref(),
            )?;
            let key = key_row(signer.public_key(), &file, kind, CaKeyState::Active, now)?;
            let operator = super::operator_record(by);
            let record = record(&key, "rotated", Some(operator), &policy_hash, now);
            store
                .commit(Change::AddCaKey { key }, jit_store::ledger::record(record))
                .await?;
            println!(
                "new {} CA key {} ({}) signs from now on:",
                kind.as_str(),
                file.display(),
                signer.fingerprint()
            );
            println!("  {}", signer.public_key().to_openssh()?);
            println!(
                "the earlier key(s) stay published and trusted until `jitd ca retire FINGERPRINT`"
            );
            println!("restart `jitd serve` (every replica) to sign with it; hosts pick it up at their next `jit host sync`");
        }
        CaCommand::Retire {
            fingerprint,
            force,
            by,
        } => {
            let keys = store.ca_keys().await?;
            let Some(key) = keys.iter().find(|k| k.fingerprint == fingerprint) else {
                bail!("{fingerprint} is not a CA key of this jitd; `jitd ca show` lists them");
            };
            match key.state {
                CaKeyState::Active => bail!("{fingerprint} is the signing key and cannot be retired; rotate first (`jitd ca rotate`)"),
                CaKeyState::Retired => bail!("{fingerprint} is retired already"),
                CaKeyState::Previous => {}
            }
            if key.kind == CaKind::User {
                let live = store
                    .unexpired_certificates_by_ca(&fingerprint, now)
                    .await?;
                if !live.is_empty() && !force {
                    let last = live
                        .iter()
                        .map(|c| c.valid_before)
                        .max()
                        .unwrap_or_default();
                    bail!(
                        "{} certificate(s) signed by {fingerprint} are still valid (the last until {}); retire after that, or use --force to cut them off now",
                        live.len(),
                        humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(last))
                    );
                }
            }
            let operator = super::operator_record(by);
            let record = record(key, "retired", Some(operator), &policy_hash, now);
            let change = Change::RetireCaKey {
                fingerprint: fingerprint.clone(),
                at: now,
            };
            store
                .commit(change, jit_store::ledger::record(record))
                .await?;
            // The store no longer names the file; moving it aside is tidying up.
            let retired_dir = data_dir.join("retired");
            std::fs::create_dir_all(&retired_dir)?;
            let file = PathBuf::from(&key.file);
            std::fs::rename(
                data_dir.join(&file),
                retired_dir.join(file.file_name().unwrap_or(file.as_os_str())),
            )
            .with_context(|| {
                format!(
                    "{fingerprint} is retired, but its key file {} could not be moved to {}",
                    file.display(),
                    retired_dir.display()
                )
            })?;
            println!("retired {fingerprint} (key file moved to retired/); restart `jitd serve` (every replica)");
        }
    }
    Ok(ExitCode::SUCCESS)
}
