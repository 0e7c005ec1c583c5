//! The test bench for `jit host ...`: the real jitd and a scratch root holding an SSH host
//! key made by ssh-keygen at `etc/ssh/ssh_host_ed25519_key`, and the host directory
//! `etc/ssh/jit` (not created: the commands must create it).

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::bench::{text, Bench};
use crate::server::{Jitd as _, TestServer};

/// The real jitd and a host's file system.
pub struct HostBench {
    /// The server.
    pub server: TestServer,
    root: tempfile::TempDir,
}

impl HostBench {
    /// Start the server and make the host key.
    pub fn new() -> HostBench {
        let root = tempfile::tempdir().unwrap();
        let ssh = root.path().join("etc/ssh");
        std::fs::create_dir_all(&ssh).unwrap();
        let out = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "root@web-1", "-f"])
            .arg(ssh.join("ssh_host_ed25519_key"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        HostBench {
            server: crate::server::start(),
            root,
        }
    }

    /// The scratch root (`/` of the host).
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// `etc/ssh/ssh_host_ed25519_key.pub`.
    pub fn host_key(&self) -> PathBuf {
        self.root().join("etc/ssh/ssh_host_ed25519_key.pub")
    }

    /// `etc/ssh/ssh_host_ed25519_key-cert.pub`.
    pub fn certificate(&self) -> PathBuf {
        self.root().join("etc/ssh/ssh_host_ed25519_key-cert.pub")
    }

    /// `etc/ssh/jit`.
    pub fn dir(&self) -> PathBuf {
        self.root().join("etc/ssh/jit")
    }

    /// A file in `etc/ssh/jit`.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir().join(name)
    }

    /// `jit ARGS` with no JIT_HOME of any engineer around.
    pub fn run(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_jit"));
        cmd.args(args)
            .env_remove("JIT_LOG")
            .env_remove("SSH_AUTH_SOCK")
            .env("JIT_HOME", self.root().join("no-jit-home"));
        Bench::run_cmd(cmd, "")
    }

    /// `jit host enroll` with a fresh token for `web-1`; must succeed.
    pub fn enroll(&self) -> Output {
        self.enroll_with(&self.server.host_token("web-1"))
    }

    /// `jit host enroll TOKEN`; must succeed.
    pub fn enroll_with(&self, token: &str) -> Output {
        let out = self.run(&[
            "host",
            "enroll",
            token,
            "--host-key",
            &self.host_key().display().to_string(),
            "--dir",
            &self.dir().display().to_string(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        out
    }

    /// `jit host sync --dir DIR --server URL --tls-sha256 PIN EXTRA...` from this jitd.
    pub fn sync_with_server(&self, extra: &[&str]) -> Output {
        self.sync_from(&self.server.url, &self.server.tls_sha256, extra)
    }

    /// `jit host sync --dir DIR --server URL --tls-sha256 PIN EXTRA...`.
    pub fn sync_from(&self, url: &str, pin: &str, extra: &[&str]) -> Output {
        let mut args = vec![
            "host".to_string(),
            "sync".into(),
            "--dir".into(),
            self.dir().display().to_string(),
            "--server".into(),
            url.to_string(),
            "--tls-sha256".into(),
            pin.to_string(),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        self.run(&args.iter().map(String::as_str).collect::<Vec<_>>())
    }

    /// `jit host sync --dir DIR EXTRA...` (server from host.json or the last sync).
    pub fn sync(&self, extra: &[&str]) -> Output {
        let dir = self.dir().display().to_string();
        let mut args = vec!["host", "sync", "--dir", dir.as_str()];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    /// Edit `sync.json`.
    pub fn edit_sync_json(&self, edit: impl FnOnce(&mut serde_json::Value)) {
        let path = self.file("sync.json");
        let mut value: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        edit(&mut value);
        std::fs::write(&path, serde_json::to_vec(&value).unwrap()).unwrap();
    }
}

/// Permission bits of a file.
pub fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The inode of a file: unchanged means the file was not replaced.
pub fn inode(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().ino()
}

/// The names in a directory (to spot leftover temporary files).
pub fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
