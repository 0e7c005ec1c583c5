//! `jitd policy check` and `jitd policy explain`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::cli::PolicyCommand;
use crate::config::Config;

/// Run a policy command.
pub async fn run(data_dir: &Path, command: PolicyCommand) -> anyhow::Result<ExitCode> {
    match command {
        PolicyCommand::Check { file } => check(data_dir, file),
        PolicyCommand::Explain { user, role, at } => {
            explain(data_dir, &user, &role, at.as_deref()).await
        }
    }
}

/// Explain the decision for `user` and `role` at `at` (default now).
async fn explain(
    data_dir: &Path,
    user: &str,
    role: &str,
    at: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let (config, store) = super::open(data_dir).await?;
    let (text, _) = super::policy_text(data_dir, &config)?;
    let policy = jit_policy::Policy::parse(&text)
        .map_err(|errors| anyhow::anyhow!("the policy file has errors:\n{errors}"))?;
    let user = store
        .user(user)
        .await?
        .with_context(|| format!("no user {user}; `jitd user list` shows who exists"))?;
    let now = match at {
        Some(text) => super::parse_time(text)?,
        None => super::now(),
    };
    let identity = jit_policy::Identity {
        user: &user.name,
        groups: &user.groups,
    };
    let explanation = policy.explain(&identity, role, now);
    println!("{explanation}");
    if user.disabled {
        println!(
            "note: user {} is disabled, so every request is refused regardless",
            user.name
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Validate a policy file and report every error with its line.
fn check(data_dir: &Path, file: Option<std::path::PathBuf>) -> anyhow::Result<ExitCode> {
    let path = match file {
        Some(file) => file,
        None => {
            let config = Config::load(data_dir)?;
            config.path(data_dir, &config.policy)
        }
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    match jit_policy::Policy::parse(&text) {
        Ok(policy) => {
            println!(
                "{}: OK, {} roles, {}",
                path.display(),
                policy.roles().count(),
                policy.hash()
            );
            for role in policy.roles() {
                println!(
                    "  {}: groups [{}] -> principals [{}], ttl {} (max {})",
                    role.name,
                    role.groups.join(", "),
                    role.principals.join(", "),
                    jit_policy::format_duration(role.default_ttl),
                    jit_policy::format_duration(role.max_ttl)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            eprintln!("{}: {} error(s)", path.display(), errors.len());
            for error in errors.iter() {
                eprintln!("{}:{}", path.display(), error);
            }
            Ok(ExitCode::FAILURE)
        }
    }
}
