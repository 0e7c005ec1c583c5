//! `jitd ca show`: the CA public keys, read from the key files without decrypting them.

use std::path::Path;
use std::process::ExitCode;

use crate::cli::CaCommand;
use crate::config::Config;

/// Print CA public keys.
pub fn run(data_dir: &Path, command: CaCommand) -> anyhow::Result<ExitCode> {
    let CaCommand::Show { user, host } = command;
    let config = Config::load(data_dir)?;
    let mut keys = Vec::new();
    if !host {
        keys.push(config.path(data_dir, &config.user_ca_key));
    }
    if !user {
        keys.push(config.path(data_dir, &config.host_ca_key));
    }
    for path in keys {
        println!(
            "{}",
            jit_ca::custody::public_key_of_file(&path)?
                .to_openssh()
                .map_err(anyhow::Error::msg)?
        );
    }
    Ok(ExitCode::SUCCESS)
}
