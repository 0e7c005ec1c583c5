//! `jitd user ...`: add users, hand out enrollment tokens, list, disable, enable.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context as _};
use jit_log::{Event, Record, UserChange};
use jit_proto::token::EnrollmentToken;
use jit_store::Store;

use crate::cli::UserCommand;
use crate::clock::{random_hex, OsRandomness};
use crate::config::Config;

/// Run a user command.
pub async fn run(data_dir: &Path, command: UserCommand) -> anyhow::Result<ExitCode> {
    let (config, store) = super::open(data_dir).await?;
    let (_, policy_hash) = super::policy_text(data_dir, &config)?;
    let now = super::now();
    let log = |user: &str, action: &str, groups: Vec<String>| Record {
        time: now,
        policy_hash: policy_hash.clone(),
        event: Event::User(UserChange {
            user: user.to_string(),
            action: action.to_string(),
            groups,
        }),
    };
    match command {
        UserCommand::Add {
            name,
            groups,
            token_ttl,
            json,
        } => {
            jit_proto::names::validate_user_name(&name)
                .with_context(|| format!("user name {name:?}"))?;
            let groups: Vec<String> = groups
                .into_iter()
                .map(|g| g.trim().to_string())
                .filter(|g| !g.is_empty())
                .collect();
            if groups.is_empty() {
                bail!("give at least one group with --groups (policy roles allow groups)");
            }
            for group in &groups {
                jit_proto::names::validate_group_name(group)
                    .with_context(|| format!("group {group:?}"))?;
            }
            store
                .add_user(&name, &groups, now)
                .await
                .map_err(|e| match e {
                    jit_store::Error::AlreadyExists(_) => anyhow::anyhow!(
                        "user {name} already exists; for a new device run `jitd user token {name}`"
                    ),
                    other => other.into(),
                })?;
            store
                .append_log(&log(&name, "added", groups.clone()))
                .await?;
            print_token(
                data_dir,
                &config,
                &store,
                &name,
                token_ttl.as_deref(),
                json,
                now,
            )
            .await?;
        }
        UserCommand::Token {
            name,
            token_ttl,
            json,
        } => {
            let user = store
                .user(&name)
                .await?
                .with_context(|| format!("no user {name}; add one with `jitd user add`"))?;
            if user.disabled {
                bail!("user {name} is disabled; enable it first with `jitd user enable {name}`");
            }
            store
                .append_log(&log(&name, "token_created", user.groups))
                .await?;
            print_token(
                data_dir,
                &config,
                &store,
                &name,
                token_ttl.as_deref(),
                json,
                now,
            )
            .await?;
        }
        UserCommand::List { json } => {
            let users = store.users().await?;
            if json {
                let list: Vec<_> = users
                    .iter()
                    .map(|u| serde_json::json!({"name": u.name, "groups": u.groups, "disabled": u.disabled, "created_at": u.created_at}))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                println!("{:<24} {:<10} GROUPS", "NAME", "STATE");
                for user in users {
                    let state = if user.disabled { "disabled" } else { "active" };
                    println!("{:<24} {:<10} {}", user.name, state, user.groups.join(","));
                }
            }
        }
        UserCommand::Disable { name } => {
            let user = store
                .user(&name)
                .await?
                .with_context(|| format!("no user {name}"))?;
            store.set_user_disabled(&name, true).await?;
            store
                .append_log(&log(&name, "disabled", user.groups))
                .await?;
            let live = store.unexpired_certificates(&name, now).await?;
            println!("user {name} disabled: every further request is refused");
            if !live.is_empty() {
                println!(
                    "note: {} certificate(s) of {name} are still valid until they expire (serials: {})",
                    live.len(),
                    live.iter().map(|c| c.serial.to_string()).collect::<Vec<_>>().join(", ")
                );
            }
        }
        UserCommand::Enable { name } => {
            let user = store
                .user(&name)
                .await?
                .with_context(|| format!("no user {name}"))?;
            store.set_user_disabled(&name, false).await?;
            store
                .append_log(&log(&name, "enabled", user.groups))
                .await?;
            println!("user {name} enabled");
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn print_token(
    data_dir: &Path,
    config: &Config,
    store: &Arc<dyn Store>,
    name: &str,
    token_ttl: Option<&str>,
    json: bool,
    now: u64,
) -> anyhow::Result<()> {
    let ttl = match token_ttl {
        Some(text) => {
            humantime::parse_duration(text).with_context(|| format!("--token-ttl {text:?}"))?
        }
        None => config.enrollment_token_ttl,
    };
    let secret = random_hex(&OsRandomness, 32);
    let expires_at = now + ttl.as_secs();
    store
        .add_enrollment_token(&crate::enroll::token_hash(&secret), name, now, expires_at)
        .await?;
    let token = EnrollmentToken {
        url: config.public_url.clone(),
        tls_sha256: crate::tls::fingerprint_file(&config.path(data_dir, &config.tls_cert))?,
        secret,
    }
    .encode();
    if json {
        println!(
            "{}",
            serde_json::json!({"user": name, "token": token, "expires_at": expires_at})
        );
    } else {
        println!(
            "enrollment token for {name} (single use, valid {}):",
            humantime::format_duration(ttl)
        );
        println!();
        println!("  {token}");
        println!();
        println!("hand it over privately; {name} runs: jit enroll <token>");
    }
    Ok(())
}
