//! `jitd user ...`: add users, hand out enrollment tokens, list, disable, enable.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use jit_log::{Event, Record, UserChange};
use jit_proto::token::EnrollmentToken;
use jit_store::{Store, User};

use crate::cli::UserCommand;
use crate::clock::{random_hex, OsRandomness};
use crate::config::Config;

/// What every user and host command works with.
pub(super) struct Admin<'a> {
    pub(super) data_dir: &'a Path,
    pub(super) config: Config,
    pub(super) store: Arc<dyn Store>,
    pub(super) policy_hash: String,
    pub(super) now: u64,
}

impl<'a> Admin<'a> {
    async fn existing_user(&self, name: &str) -> anyhow::Result<User> {
        self.store.user(name).await?.with_context(|| {
            format!("no user {name}; add one with `jitd user add {name} --groups G`")
        })
    }

    /// Record an operator's change to a user in the issuance log.
    async fn log(&self, user: &str, action: &str, groups: Vec<String>) -> anyhow::Result<()> {
        let record = Record {
            time: self.now,
            policy_hash: self.policy_hash.clone(),
            event: Event::User(UserChange {
                user: user.to_string(),
                action: action.to_string(),
                groups,
            }),
        };
        self.store.append_log(&record).await?;
        Ok(())
    }

    /// Open the data directory for an admin command.
    pub(super) async fn open(data_dir: &'a Path) -> anyhow::Result<Self> {
        let (config, store) = super::open(data_dir).await?;
        let (_, policy_hash) = super::policy_text(data_dir, &config)?;
        Ok(Admin {
            data_dir,
            config,
            store,
            policy_hash,
            now: super::now(),
        })
    }

    /// The token lifetime: `--token-ttl` (1m to 30 days) or the configured default.
    pub(super) fn token_ttl(&self, token_ttl: Option<&str>) -> anyhow::Result<Duration> {
        let ttl = match token_ttl {
            Some(text) => {
                humantime::parse_duration(text).with_context(|| format!("--token-ttl {text:?}"))?
            }
            None => self.config.enrollment_token_ttl,
        };
        if ttl < Duration::from_secs(60) || ttl > Duration::from_secs(30 * 86400) {
            bail!("--token-ttl must be between 1m and 30 days");
        }
        Ok(ttl)
    }

    /// A fresh token: its secret (to store hashed) and its text (carrying URL and TLS pin).
    pub(super) fn new_token(&self) -> anyhow::Result<(String, String)> {
        let secret = random_hex(&OsRandomness, 32);
        let tls_cert = self.config.path(self.data_dir, &self.config.tls_cert);
        let token = EnrollmentToken {
            url: self.config.public_url.clone(),
            tls_sha256: crate::tls::fingerprint_file(&tls_cert)?,
            secret: secret.clone(),
        }
        .encode();
        Ok((secret, token))
    }

    /// Store a new single-use token for `name` (only its hash) and print it.
    async fn issue_token(&self, name: &str, ttl: Duration, json: bool) -> anyhow::Result<()> {
        let (secret, token) = self.new_token()?;
        let expires_at = self.now + ttl.as_secs();
        self.store
            .add_enrollment_token(
                &crate::enroll::token_hash(&secret),
                name,
                self.now,
                expires_at,
            )
            .await?;
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

    async fn set_disabled(&self, name: &str, disabled: bool) -> anyhow::Result<()> {
        let user = self.existing_user(name).await?;
        self.store.set_user_disabled(name, disabled).await?;
        self.log(
            name,
            if disabled { "disabled" } else { "enabled" },
            user.groups,
        )
        .await
    }
}

fn parse_groups(groups: Vec<String>) -> anyhow::Result<Vec<String>> {
    let groups: Vec<String> = groups
        .into_iter()
        .map(|g| g.trim().to_string())
        .filter(|g| !g.is_empty())
        .collect();
    if groups.is_empty() {
        bail!("give at least one group with --groups (policy roles allow groups)");
    }
    for group in &groups {
        jit_proto::names::validate_group_name(group).with_context(|| format!("group {group:?}"))?;
    }
    Ok(groups)
}

/// Run a user command.
pub async fn run(data_dir: &Path, command: UserCommand) -> anyhow::Result<ExitCode> {
    let admin = Admin::open(data_dir).await?;
    match command {
        UserCommand::Add {
            name,
            groups,
            token_ttl,
            json,
        } => {
            jit_proto::names::validate_user_name(&name)
                .with_context(|| format!("user name {name:?}"))?;
            let groups = parse_groups(groups)?;
            let ttl = admin.token_ttl(token_ttl.as_deref())?;
            admin.store.add_user(&name, &groups, admin.now).await.map_err(|e| match e {
                jit_store::Error::AlreadyExists(_) => {
                    anyhow::anyhow!("user {name} already exists; for a new device run `jitd user token {name}`")
                }
                other => other.into(),
            })?;
            admin.log(&name, "added", groups).await?;
            admin.issue_token(&name, ttl, json).await?;
        }
        UserCommand::Token {
            name,
            token_ttl,
            json,
        } => {
            let ttl = admin.token_ttl(token_ttl.as_deref())?;
            let user = admin.existing_user(&name).await?;
            if user.disabled {
                bail!("user {name} is disabled; enable it first with `jitd user enable {name}`");
            }
            admin.log(&name, "token_created", user.groups).await?;
            admin.issue_token(&name, ttl, json).await?;
        }
        UserCommand::List { json } => {
            let users = admin.store.users().await?;
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
            admin.set_disabled(&name, true).await?;
            println!("user {name} disabled: every further request is refused");
            let target = crate::revoke::Target::User(name.clone());
            let by = super::operator(None);
            let serials = crate::revoke::revoke(
                &admin.store,
                &admin.policy_hash,
                &target,
                "user disabled",
                &by,
                admin.now,
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            if !serials.is_empty() {
                println!(
                    "revoked {} unexpired certificate(s) of {name}: {} (hosts refuse them at their next KRL refresh)",
                    serials.len(),
                    serials.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
                );
            }
        }
        UserCommand::Enable { name } => {
            admin.set_disabled(&name, false).await?;
            println!("user {name} enabled");
        }
    }
    Ok(ExitCode::SUCCESS)
}
