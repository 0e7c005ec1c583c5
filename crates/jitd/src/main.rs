//! `jitd`: the jit SSH certificate authority (server and admin commands).
#![forbid(unsafe_code)]

use clap::Parser as _;
use jitd::{cli, commands};

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    commands::init_tracing(cli.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
