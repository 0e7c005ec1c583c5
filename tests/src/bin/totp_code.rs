//! `totp-code SECRET [--offset SECONDS]`: print the TOTP code for a base32 secret, as an
//! authenticator app would. Used by `just demo` and the end-to-end tests (never by jit itself).
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (secret, offset) = match args.as_slice() {
        [secret] => (secret, 0),
        [secret, flag, seconds] if flag == "--offset" => match seconds.parse::<u64>() {
            Ok(seconds) => (secret, seconds),
            Err(_) => return usage(),
        },
        _ => return usage(),
    };
    let secret = match jit_mfa::TotpSecret::from_base32(secret) {
        Ok(secret) => secret,
        Err(error) => {
            eprintln!("error: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    println!("{}", jit_mfa::code_at(&secret, now + offset));
    std::process::ExitCode::SUCCESS
}

fn usage() -> std::process::ExitCode {
    eprintln!("usage: totp-code BASE32_SECRET [--offset SECONDS]");
    std::process::ExitCode::from(2)
}
