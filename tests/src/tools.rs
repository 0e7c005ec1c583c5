//! Locating the OpenSSH programs the tests drive. A missing tool is a loud failure, never a
//! silent skip.

use std::path::{Path, PathBuf};

/// Directories searched before `$PATH` (sshd lives in /usr/sbin, often not on `$PATH`).
const SYSTEM_DIRS: &[&str] = &[
    "/usr/sbin",
    "/usr/bin",
    "/usr/local/sbin",
    "/usr/local/bin",
    "/sbin",
    "/bin",
];

/// The install hint printed when a tool is missing.
pub const INSTALL_HINT: &str =
    "install it with `apt-get install -y openssh-server openssh-client` \
     (as root), or run `just test`, which installs it first";

/// Returns the absolute path of the program `name` (for example `"sshd"`, `"ssh"`,
/// `"ssh-agent"`, `"ssh-add"`, `"ssh-keygen"`).
///
/// # Panics
/// When the program cannot be found, with a message naming it and how to install it.
/// End-to-end tests never skip because a tool is missing.
pub fn require(name: &str) -> PathBuf {
    find(name).unwrap_or_else(|| {
        panic!(
            "jit-e2e: required tool `{name}` was not found (searched {} and $PATH); {INSTALL_HINT}. \
             End-to-end tests do not skip when a tool is missing.",
            SYSTEM_DIRS.join(", ")
        )
    })
}

/// Looks for the program `name` in the system directories and then `$PATH`.
pub fn find(name: &str) -> Option<PathBuf> {
    let from_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    SYSTEM_DIRS
        .iter()
        .map(PathBuf::from)
        .chain(from_path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

/// True if `path` is a regular file with an execute bit set.
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// `/usr/sbin/sshd` (or wherever it is), see [`require`].
pub fn sshd() -> PathBuf {
    require("sshd")
}

/// The `ssh` client, see [`require`].
pub fn ssh() -> PathBuf {
    require("ssh")
}

/// `ssh-agent`, see [`require`].
pub fn ssh_agent() -> PathBuf {
    require("ssh-agent")
}

/// `ssh-add`, see [`require`].
pub fn ssh_add() -> PathBuf {
    require("ssh-add")
}

/// `ssh-keygen`, see [`require`].
pub fn ssh_keygen() -> PathBuf {
    require("ssh-keygen")
}
