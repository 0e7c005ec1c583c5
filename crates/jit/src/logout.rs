//! `jit logout`: remove jit certificates from ssh-agent and their `run/` files.

use crate::agent::Agent;
use crate::cli::LogoutArgs;
use crate::home::Home;

/// Run `jit logout`.
pub async fn run(args: LogoutArgs) -> anyhow::Result<()> {
    let home = Home::locate()?;
    let mut agent = Agent::from_env().await?;
    let removed = agent.remove_jit(args.role.as_deref()).await?;

    let cleaned = match &args.role {
        Some(role) => home.remove_run_files(role),
        None => home.clear_run_dir(),
    };
    if let Err(e) = cleaned {
        tracing::warn!(error = %format!("{e:#}"), "cannot delete some run/ files");
    }

    let count = removed.len();
    let noun = if count == 1 {
        "certificate"
    } else {
        "certificates"
    };
    match &args.role {
        Some(role) => println!("jit: removed {count} {noun} of role {role} from ssh-agent"),
        None => println!("jit: removed {count} jit {noun} from ssh-agent"),
    }
    Ok(())
}
