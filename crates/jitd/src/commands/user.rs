//! `jitd user ...`: add users, hand out enrollment tokens, list, disable, enable.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use jit_log::{Event, Record, UserChange};
use jit_proto::token::EnrollmentToken;
use jit_store::{Change, Store, User};

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
    /// Who runs the command.
    pub(super) operator: jit_log::Operator,
}

impl<'a> Admin<'a> {
    async fn existing_user(&self, name: &str) -> anyhow::Result<User> {
        self.store.user(name).await?.with_context(|| {
            format!("no user {name}; add one with `jitd user add {name} --groups G`")
        })
    }

    /// A log record of `event` at this command's time.
    pub(super) fn record(&self, event: Event) -> Record {
        Record {
            time: self.now,
            policy_hash: self.policy_hash.clone(),
            event,
        }
    }

    /// Commit `change` with the record of an operator's change to a user (naming the
    /// certificates the change revoked, if any).
    async fn commit(
        &self,
        change: Change,
        user: &str,
        action: &str,
        groups: Vec<String>,
    ) -> Result<jit_store::Committed, jit_store::Error> {
        let (time, policy_hash, operator) =
            (self.now, self.policy_hash.clone(), self.operator.clone());
        let (user, action) = (user.to_string(), action.to_string());
        let record: jit_store::RecordFor = Box::new(move |applied| {
            let revoked_serials = match applied {
                jit_store::Applied::RevokedSerials(serials) => serials.clone(),
                _ => Vec::new(),
            };
            Ok(Record {
                time,
                policy_hash,
                event: Event::User(UserChange {
                    user,
                    action,
                    groups,
                    operator: Some(operator),
                    revoked_serials,
                }),
            })
        });
        self.store.commit(change, record).await
    }

    /// Open the data directory for an admin command.
    pub(super) async fn open(data_dir: &'a Path, by: Option<String>) -> anyhow::Result<Self> {
        let (config, store) = super::open(data_dir).await?;
        let (_, policy_hash) = super::policy_text(data_dir, &config)?;
        Ok(Admin {
            data_dir,
            config,
            store,
            policy_hash,
            now: super::now(),
            operator: super::operator_record(by),
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

    /// Store a new single-use token for `name` (only its hash) with its record, and print it.
    async fn issue_token(
        &self,
        name: &str,
        groups: Vec<String>,
        ttl: Duration,
        json: bool,
    ) -> anyhow::Result<()> {
        let (secret, token) = self.new_token()?;
        let expires_at = self.now + ttl.as_secs();
        let change = Change::AddEnrollmentToken {
            token_hash: crate::enroll::token_hash(&secret),
            user: name.to_string(),
            at: self.now,
            expires_at,
        };
        self.commit(change, name, "token_created", groups).await?;
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

    /// Disable (revoking the user's unexpired certificates in the same transaction, so
    /// none issued a moment before escapes) or enable a user; returns the serials revoked.
    async fn set_disabled(&self, name: &str, disabled: bool) -> anyhow::Result<Vec<u64>> {
        let user = self.existing_user(name).await?;
        let change = Change::SetUserDisabled {
            name: name.to_string(),
            disabled,
            at: self.now,
            reason: "user disabled".into(),
            revoked_by: self.operator.name.clone(),
        };
        let action = if disabled { "disabled" } else { "enabled" };
        let committed = self.commit(change, name, action, user.groups).await?;
        Ok(match committed.applied {
            jit_store::Applied::RevokedSerials(serials) => serials,
            _ => Vec::new(),
        })
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
    let admin = Admin::open(data_dir, command.by()).await?;
    match command {
        UserCommand::Add {
            name,
            groups,
            token_ttl,
            json,
            ..
        } => {
            jit_proto::names::validate_user_name(&name)
                .with_context(|| format!("user name {name:?}"))?;
            let groups = parse_groups(groups)?;
            let ttl = admin.token_ttl(token_ttl.as_deref())?;
            let change = Change::AddUser {
                name: name.clone(),
                groups: groups.clone(),
                at: admin.now,
            };
            admin.commit(change, &name, "added", groups.clone()).await.map_err(|e| match e {
                jit_store::Error::AlreadyExists(_) => {
                    anyhow::anyhow!("user {name} already exists; for a new device run `jitd user token {name}`")
                }
                other => other.into(),
            })?;
            admin.issue_token(&name, groups, ttl, json).await?;
        }
        UserCommand::Token {
            name,
            token_ttl,
            json,
            ..
        } => {
            let ttl = admin.token_ttl(token_ttl.as_deref())?;
            let user = admin.existing_user(&name).await?;
            if user.disabled {
                bail!("user {name} is disabled; enable it first with `jitd user enable {name}`");
            }
            admin.issue_token(&name, user.groups, ttl, json).await?;
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
        UserCommand::Disable { name, .. } => {
            let serials = admin.set_disabled(&name, true).await?;
            println!("user {name} disabled: every further request is refused");
            if !serials.is_empty() {
                println!(
                    "revoked {} unexpired certificate(s) of {name}: {} (hosts refuse them at their next KRL refresh)",
                    serials.len(),
                    serials.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
                );
            }
        }
        UserCommand::Enable { name, .. } => {
            admin.set_disabled(&name, false).await?;
            println!("user {name} enabled");
        }
    }
    Ok(ExitCode::SUCCESS)
}
