//! `jitd ca show | rotate | retire`: the CA public keys, and replacing a CA key without an
//! outage (old and new are both published and trusted until the old one retires).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use jit_ca::signer::CaSigner as _;
use jit_ca::PublicKey;

use crate::cli::CaCommand;
use crate::config::{Config, CONFIG_FILE};

/// Public keys of the earlier CA key files (read without the passphrase).
pub fn previous_keys(data_dir: &Path, files: &[PathBuf]) -> anyhow::Result<Vec<PublicKey>> {
    files
        .iter()
        .map(|file| {
            let path = data_dir.join(file);
            jit_ca::custody::public_key_of_file(&path)
                .with_context(|| format!("earlier CA key {}", path.display()))
        })
        .collect()
}

/// The active key file and the earlier ones, for the user or the host CA.
fn keys_of(config: &Config, host: bool) -> (PathBuf, Vec<PathBuf>) {
    match host {
        false => (config.user_ca_key.clone(), config.user_ca_previous.clone()),
        true => (config.host_ca_key.clone(), config.host_ca_previous.clone()),
    }
}

/// Run a CA command.
pub async fn run(data_dir: &Path, command: CaCommand) -> anyhow::Result<ExitCode> {
    let mut config = Config::load(data_dir)?;
    match command {
        CaCommand::Show { user, host, log } => {
            if log {
                let key =
                    jit_ca::custody::public_key_of_file(&config.path(data_dir, &config.log_key))?;
                println!("{}", key.to_openssh().map_err(anyhow::Error::msg)?);
                return Ok(ExitCode::SUCCESS);
            }
            for (is_host, wanted) in [(false, !host), (true, !user)] {
                if !wanted {
                    continue;
                }
                let (active, previous) = keys_of(&config, is_host);
                for file in std::iter::once(active).chain(previous) {
                    let key = jit_ca::custody::public_key_of_file(&data_dir.join(&file))?;
                    println!("{}", key.to_openssh().map_err(anyhow::Error::msg)?);
                }
            }
        }
        CaCommand::Rotate {
            user: _,
            host,
            passphrase,
            insecure_no_passphrase,
        } => {
            let passphrase = super::passphrase(&passphrase)?;
            if passphrase.is_none() && !insecure_no_passphrase {
                bail!("give the passphrase for the new key with --passphrase-file or JITD_CA_PASSPHRASE (or --insecure-no-passphrase)");
            }
            let (active, mut previous) = keys_of(&config, host);
            let kind = if host { "host" } else { "user" };
            let file = PathBuf::from(format!("{kind}_ca-{}", super::now()));
            let signer = jit_ca::custody::generate_key_file(
                &mut rand::rngs::OsRng,
                &data_dir.join(&file),
                &format!("jit {kind} CA"),
                passphrase.as_ref(),
            )?;
            previous.insert(0, active);
            match host {
                false => (config.user_ca_key, config.user_ca_previous) = (file.clone(), previous),
                true => (config.host_ca_key, config.host_ca_previous) = (file.clone(), previous),
            }
            write_config(data_dir, &config)?;
            println!(
                "new {kind} CA key {} ({}) signs from now on:",
                file.display(),
                signer.fingerprint()
            );
            println!("  {}", signer.public_key().to_openssh()?);
            println!(
                "the earlier key(s) stay published and trusted until `jitd ca retire FINGERPRINT`"
            );
            println!(
                "restart `jitd serve`; hosts pick the new key up at their next `jit host sync`"
            );
        }
        CaCommand::Retire { fingerprint, force } => {
            let (_, store) = super::open(data_dir).await?;
            let mut retired = None;
            for host in [false, true] {
                let (_, previous) = keys_of(&config, host);
                for file in &previous {
                    let key = jit_ca::custody::public_key_of_file(&data_dir.join(file))?;
                    if jit_ca::device::fingerprint(&key) == fingerprint {
                        retired = Some((host, file.clone()));
                    }
                }
            }
            let Some((host, file)) = retired else {
                bail!("{fingerprint} is not an earlier CA key (the signing key cannot be retired; rotate first). `jitd ca show` lists them");
            };
            if !host {
                let live = store
                    .unexpired_certificates_by_ca(&fingerprint, super::now())
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
            let list = if host {
                &mut config.host_ca_previous
            } else {
                &mut config.user_ca_previous
            };
            list.retain(|f| f != &file);
            write_config(data_dir, &config)?;
            let retired_dir = data_dir.join("retired");
            std::fs::create_dir_all(&retired_dir)?;
            std::fs::rename(data_dir.join(&file), retired_dir.join(&file)).with_context(|| {
                format!(
                    "cannot move {} to {}",
                    file.display(),
                    retired_dir.display()
                )
            })?;
            println!("retired {fingerprint} (key file moved to retired/); restart `jitd serve`");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Replace jitd.toml atomically (write, fsync, rename).
fn write_config(data_dir: &Path, config: &Config) -> anyhow::Result<()> {
    use std::io::Write as _;
    config.validate()?;
    let path = data_dir.join(CONFIG_FILE);
    let temp = data_dir.join(format!(".{CONFIG_FILE}.tmp"));
    let mut file =
        std::fs::File::create(&temp).with_context(|| format!("cannot write {}", temp.display()))?;
    file.write_all(config.render().as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temp, &path).with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}
