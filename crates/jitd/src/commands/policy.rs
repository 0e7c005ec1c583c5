//! `jitd policy check`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::cli::PolicyCommand;
use crate::config::Config;

/// Validate a policy file and report every error with its line.
pub async fn run(data_dir: &Path, command: PolicyCommand) -> anyhow::Result<ExitCode> {
    let PolicyCommand::Check { file } = command;
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
