//! Local Unix accounts that sshd logs tests into. Creating them needs root.

use std::fs::{File, OpenOptions};
use std::process::Command;
use std::sync::Mutex;

use crate::process::{describe, run_with_timeout};

/// Serialises account changes between threads of one test process.
static IN_PROCESS: Mutex<()> = Mutex::new(());

/// `useradd` exit code for "username already in use".
const USERADD_EXISTS: i32 = 9;

/// True when the current process runs as root (effective uid 0).
pub fn is_root() -> bool {
    effective_uid() == Some(0)
}

/// The effective uid, from `/proc/self/status` (falls back to `id -u`).
fn effective_uid() -> Option<u32> {
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        // "Uid:\treal\teffective\tsaved\tfs"
        if let Some(line) = status.lines().find(|l| l.starts_with("Uid:")) {
            return line.split_whitespace().nth(2).and_then(|s| s.parse().ok());
        }
    }
    let out = Command::new("id").arg("-u").output().ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// Panics with a clear message unless the process runs as root; `what` names the action.
pub fn require_root(what: &str) {
    if !is_root() {
        panic!(
            "jit-e2e: {what} needs root (the end-to-end tests create local accounts and run \
             sshd); run the tests as root, as CI does, e.g. `sudo -E cargo test -p jit-e2e`"
        );
    }
}

/// True if `/etc/passwd` has an entry for `name`.
pub fn exists(name: &str) -> bool {
    passwd_field(name, "/etc/passwd", 0).is_some()
}

/// Field `index` after the name of `name`'s entry in a colon-separated file.
fn passwd_field(name: &str, file: &str, index: usize) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines().find_map(|line| {
        let mut fields = line.split(':');
        (fields.next() == Some(name)).then(|| fields.nth(index).unwrap_or_default().to_string())
    })
}

/// The home directory of `name`, if the account exists.
pub fn home_dir(name: &str) -> Option<std::path::PathBuf> {
    passwd_field(name, "/etc/passwd", 4).map(Into::into)
}

/// Makes sure the local account `name` exists (`useradd -m -s /bin/sh NAME`) and can log in
/// with keys: an account made by `useradd` is locked (`!` password), which sshd with
/// `UsePAM no` refuses, so a locked password is replaced by `*` (`usermod -p '*' NAME`).
///
/// Idempotent and safe to call from concurrent tests and test processes: a process-wide
/// mutex and an exclusive lock on a file in the temp directory serialise the changes, and
/// "already exists" from `useradd` counts as success.
///
/// # Panics
/// If not root, if `name` is not a plain account name, or if `useradd`/`usermod` fail.
pub fn ensure(name: &str) {
    require_root(&format!("creating the account `{name}`"));
    let valid = !name.is_empty()
        && name.len() <= 32
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    assert!(valid, "jit-e2e: `{name}` is not a plain account name");

    let _in_process = IN_PROCESS.lock().unwrap_or_else(|e| e.into_inner());
    let _across_processes = lock_file();

    if !exists(name) {
        let out = run(Command::new("useradd").args(["-m", "-s", "/bin/sh", name]));
        let created = out.status.success();
        let raced = out.status.code() == Some(USERADD_EXISTS) && exists(name);
        if !(created || raced) {
            panic!(
                "jit-e2e: `useradd -m -s /bin/sh {name}` failed\n{}",
                describe(&out)
            );
        }
    }

    let locked = passwd_field(name, "/etc/shadow", 0)
        .map(|p| p.starts_with('!'))
        .unwrap_or(true);
    if locked {
        let out = run(Command::new("usermod").args(["-p", "*", name]));
        if !out.status.success() {
            panic!(
                "jit-e2e: `usermod -p '*' {name}` failed\n{}",
                describe(&out)
            );
        }
    }
}

/// Runs an account command with a generous limit.
fn run(cmd: &mut Command) -> std::process::Output {
    run_with_timeout(cmd, std::time::Duration::from_secs(60)).unwrap_or_else(|e| panic!("{e}"))
}

/// Opens and exclusively locks the cross-process lock file; the lock ends when it drops.
fn lock_file() -> File {
    let path = std::env::temp_dir().join("jit-e2e-accounts.lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("jit-e2e: cannot open lock file {}: {e}", path.display()));
    file.lock()
        .unwrap_or_else(|e| panic!("jit-e2e: cannot lock {}: {e}", path.display()));
    file
}
