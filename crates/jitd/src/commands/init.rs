//! `jitd init`: a new CA in a data directory.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use jit_ca::signer::CaSigner as _;

use crate::cli::InitArgs;
use crate::config::{Config, CONFIG_FILE};

/// Create keys, TLS certificate, configuration, example policy and database.
pub async fn run(data_dir: &Path, args: InitArgs) -> anyhow::Result<ExitCode> {
    let passphrase = super::passphrase(&args.passphrase)?;
    if passphrase.is_none() && !args.insecure_no_passphrase {
        bail!(
            "no CA passphrase given: pass --passphrase-file FILE or set JITD_CA_PASSPHRASE \
             (or --insecure-no-passphrase to store the CA keys unencrypted)"
        );
    }
    let config = Config {
        listen: args.listen,
        public_url: args
            .public_url
            .unwrap_or_else(|| format!("https://{}", args.listen)),
        ..Config::default()
    };
    config.validate()?;
    for existing in [CONFIG_FILE, "user_ca", "host_ca", "log_key"] {
        if data_dir.join(existing).exists() {
            bail!(
                "{} already holds a CA ({} exists); refusing to overwrite it",
                data_dir.display(),
                existing
            );
        }
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))?;

    let mut rng = rand::rngs::OsRng;
    let user_ca = jit_ca::custody::generate_key_file(
        &mut rng,
        &config.path(data_dir, &config.user_ca_key),
        "jit user CA",
        passphrase.as_ref(),
    )?;
    let host_ca = jit_ca::custody::generate_key_file(
        &mut rng,
        &config.path(data_dir, &config.host_ca_key),
        "jit host CA",
        passphrase.as_ref(),
    )?;
    let log_key = jit_ca::custody::generate_key_file(
        &mut rng,
        &config.path(data_dir, &config.log_key),
        "jit log key",
        passphrase.as_ref(),
    )?;
    let host = config.listen.ip().to_string();
    let tls_fingerprint = crate::tls::generate_self_signed(
        &host,
        &config.path(data_dir, &config.tls_cert),
        &config.path(data_dir, &config.tls_key),
    )?;
    std::fs::write(
        config.path(data_dir, &config.policy),
        jit_policy::EXAMPLE_POLICY,
    )?;
    std::fs::write(data_dir.join(CONFIG_FILE), config.render())?;
    let store = jit_store::open(&config.database, data_dir).await?;
    let policy_hash = jit_policy::hash_text(jit_policy::EXAMPLE_POLICY);
    crate::ca_keys::adopt(
        store.as_ref(),
        data_dir,
        &config,
        &policy_hash,
        super::now(),
    )
    .await?;

    println!("jit CA created in {}", data_dir.display());
    println!(
        "CA keys are {}",
        if passphrase.is_some() {
            "encrypted with your passphrase"
        } else {
            "NOT encrypted (--insecure-no-passphrase)"
        }
    );
    println!();
    println!("user CA (sshd TrustedUserCAKeys):");
    println!("  {}", user_ca.public_key().to_openssh()?);
    println!("host CA (known_hosts @cert-authority):");
    println!("  {}", host_ca.public_key().to_openssh()?);
    println!(
        "log key (verifies signed checkpoints): {}",
        log_key.fingerprint()
    );
    println!("TLS certificate SHA-256: {tls_fingerprint}");
    println!();
    println!(
        "next: edit {}/policy.toml, then run `jitd serve --data-dir {}`",
        data_dir.display(),
        data_dir.display()
    );
    Ok(ExitCode::SUCCESS)
}
