//! `jitd`: the jit SSH certificate authority (server and admin commands).
#![forbid(unsafe_code)]

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser as _;
use jitd::{cli, commands, logging};

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let log = match logging::init(cli.log_format) {
        Ok(log) => log,
        Err(error) => return fail(&format!("cannot start the log writer thread: {error}")),
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => return fail(&format!("cannot start the async runtime: {error}")),
    };
    let result = runtime.block_on(commands::run(cli, log.counters()));
    // Queued log lines first, so the error comes last; a stuck stderr holds exit up briefly.
    log.flush(logging::EXIT_FLUSH);
    match result {
        Ok(code) => code,
        Err(error) => fail(&format!("{error:#}")),
    }
}

/// Print `error: MESSAGE` on stderr (ignoring a stderr that cannot be written: `eprintln!`
/// would panic) and fail.
fn fail(message: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "error: {message}");
    ExitCode::FAILURE
}
