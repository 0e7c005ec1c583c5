//! `jitd host add`: register a host and print its one-time enrollment token.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;

use super::user::Admin;
use crate::cli::HostCommand;

/// Run a host command.
pub async fn run(data_dir: &Path, command: HostCommand) -> anyhow::Result<ExitCode> {
    let HostCommand::Add {
        name,
        principals,
        token_ttl,
        json,
        by,
    } = command;
    jit_proto::names::validate_user_name(&name).with_context(|| format!("host name {name:?}"))?;
    let principals: Vec<String> = principals
        .into_iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    anyhow::ensure!(
        !principals.is_empty(),
        "give the names clients use with --principals"
    );
    for principal in &principals {
        jit_proto::names::validate_host_principal(principal)
            .with_context(|| format!("principal {principal:?}"))?;
    }
    let admin = Admin::open(data_dir, by).await?;
    let ttl = admin.token_ttl(token_ttl.as_deref())?;
    let (secret, token) = admin.new_token()?;
    let expires_at = admin.now + ttl.as_secs();
    let record = admin.record(jit_log::Event::Host(jit_log::HostChange {
        host: name.clone(),
        action: "added".into(),
        principals: principals.clone(),
        key_fingerprint: None,
        serial: None,
        valid_before: None,
        source_ip: None,
        operator: Some(admin.operator.clone()),
    }));
    let change = jit_store::Change::AddHost {
        name: name.clone(),
        principals: principals.clone(),
        token_hash: crate::enroll::token_hash(&secret),
        expires_at,
        at: admin.now,
    };
    admin
        .store
        .commit(change, jit_store::ledger::record(record))
        .await?;
    if json {
        println!(
            "{}",
            serde_json::json!({"host": name, "token": token, "expires_at": expires_at})
        );
    } else {
        println!(
            "host token for {name} ({}), single use, valid {}:",
            principals.join(", "),
            humantime::format_duration(ttl)
        );
        println!();
        println!("  {token}");
        println!();
        println!("on the host, as root: jit host enroll <token>   (or deploy/host/setup.sh --token <token> ...)");
    }
    Ok(ExitCode::SUCCESS)
}
