//! Getting a TOTP code: from `--otp`, from the terminal, or from the first line of stdin.
//!
//! Standard input is read one byte at a time through a duplicate of fd 0, so exactly one
//! line is consumed and the rest is left for the `ssh` that jit runs afterwards. Codes are
//! kept in zeroizing strings and never logged.

use std::io::{IsTerminal as _, Read as _, Write as _};
use std::os::fd::AsFd as _;

use anyhow::Context as _;
use zeroize::Zeroizing;

use crate::error::fail;

/// Digits in a TOTP code.
const DIGITS: usize = 6;
/// Longest line read from stdin (a code with generous spacing fits easily).
const MAX_LINE: usize = 256;
/// The prompt shown on the terminal.
pub const PROMPT: &str = "6-digit code from your authenticator app: ";

/// Whether a person can be asked for a code (stdin is a terminal).
pub fn interactive() -> bool {
    std::io::stdin().is_terminal()
}

/// The code from `flag`, else from the terminal (with [`PROMPT`]), else from the first line
/// of stdin. `None` when stdin is at end of file or the line is empty.
pub fn read_code(flag: Option<&str>) -> anyhow::Result<Option<Zeroizing<String>>> {
    if let Some(text) = flag {
        return normalise(text).map(Some);
    }
    if interactive() {
        let mut stderr = std::io::stderr();
        let _ = write!(stderr, "{PROMPT}");
        let _ = stderr.flush();
    }
    let line = read_stdin_line()?;
    if line.trim().is_empty() {
        return Ok(None);
    }
    normalise(&line).map(Some)
}

/// A code for a request that cannot go on without one: like [`read_code`], but `None`
/// becomes an error that says how to give a code.
pub fn require_code(flag: Option<&str>) -> anyhow::Result<Zeroizing<String>> {
    read_code(flag)?.ok_or_else(|| {
        fail(
            "no TOTP code was given (standard input is empty)",
            "pass `--otp CODE` or run jit in a terminal to be asked for the code",
        )
    })
}

/// Strip spaces and dashes and check for exactly six ASCII digits. The error never repeats
/// the input.
pub fn normalise(input: &str) -> anyhow::Result<Zeroizing<String>> {
    let mut code = Zeroizing::new(String::with_capacity(DIGITS));
    for c in input.trim().chars() {
        match c {
            ' ' | '-' => {}
            '0'..='9' if code.len() < DIGITS => code.push(c),
            _ => return Err(malformed()),
        }
    }
    if code.len() == DIGITS {
        Ok(code)
    } else {
        Err(malformed())
    }
}

fn malformed() -> anyhow::Error {
    fail(
        "that is not a TOTP code (a code is 6 digits)",
        "type the 6-digit code your authenticator app shows for jit",
    )
}

/// One line from stdin without buffering past its newline.
fn read_stdin_line() -> anyhow::Result<Zeroizing<String>> {
    let fd = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .context("cannot read standard input")?;
    let mut input = std::fs::File::from(fd);
    let mut line = Zeroizing::new(Vec::with_capacity(16));
    let mut byte = Zeroizing::new([0u8; 1]);
    while line.len() < MAX_LINE {
        match input.read(byte.as_mut_slice()) {
            Ok(0) => break,
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) => line.push(byte[0]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e).context("cannot read standard input"),
        }
    }
    Ok(Zeroizing::new(String::from_utf8_lossy(&line).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_normalised() {
        for input in ["123456", " 123456\n", "123 456", "123-456"] {
            assert_eq!(normalise(input).unwrap().as_str(), "123456", "{input:?}");
        }
    }

    #[test]
    fn malformed_codes_are_refused_without_echo() {
        for input in ["12345", "1234567", "12a456", "١٢٣٤٥٦", ""] {
            let err = normalise(input).unwrap_err();
            let text = crate::error::report(&err);
            assert!(text.contains("6 digits"), "{input:?}");
            if !input.is_empty() {
                assert!(!text.contains(input), "the input must not be echoed");
            }
        }
    }

    #[test]
    fn the_flag_wins() {
        assert_eq!(
            read_code(Some("654321")).unwrap().unwrap().as_str(),
            "654321"
        );
    }
}
