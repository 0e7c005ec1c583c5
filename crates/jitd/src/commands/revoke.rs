//! `jitd revoke`: revoke certificates by serial, key ID or user, or a public key.

use std::path::Path;
use std::process::ExitCode;

use crate::cli::RevokeArgs;
use crate::revoke::{revoke, RevokeError, Target};

/// Revoke what the arguments name and say what happened.
pub async fn run(data_dir: &Path, args: RevokeArgs) -> anyhow::Result<ExitCode> {
    let target = match (args.serial, args.key_id, args.user, args.key) {
        (Some(serial), ..) => Target::Serial(serial),
        (_, Some(key_id), ..) => Target::KeyId(key_id),
        (_, _, Some(user), _) => Target::User(user),
        (_, _, _, Some(key)) => Target::Key(key),
        _ => anyhow::bail!("name what to revoke: --serial, --key-id, --user or --key"),
    };
    let reason = args.reason.trim();
    anyhow::ensure!(
        !reason.is_empty() && reason.len() <= 500 && !reason.chars().any(char::is_control),
        "--reason must be 1 to 500 characters without control characters"
    );
    let (config, store) = super::open(data_dir).await?;
    let (_, policy_hash) = super::policy_text(data_dir, &config)?;
    let operator = super::operator_record(args.by);
    let by = operator.name.clone();
    let serials = revoke(
        &store,
        &policy_hash,
        &target,
        reason,
        &by,
        Some(operator),
        super::now(),
    )
    .await
    .map_err(|e| match e {
        RevokeError::BadKey => anyhow::anyhow!(
            "--key is not an OpenSSH public key (give the whole `ssh-ed25519 AAAA...` line)"
        ),
        other => anyhow::anyhow!("{other}"),
    })?;
    match (&target, serials.len()) {
        (Target::Key(_), _) => println!("key revoked: it and every certificate for it are refused"),
        (Target::User(user), 0) => println!("{user} has no unexpired certificate; nothing to revoke (to stop new ones: `jitd user disable {user}`)"),
        (_, _) => println!(
            "revoked serial(s) {}",
            serials.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
        ),
    }
    println!("hosts refuse them once they refresh the KRL (`jit host sync`, GET /v1/krl)");
    Ok(ExitCode::SUCCESS)
}
