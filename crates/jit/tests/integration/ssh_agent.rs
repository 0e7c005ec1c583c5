//! A private OpenSSH `ssh-agent -D -a SOCKET` per test, and `ssh-add` against it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A running agent; dropping it stops the agent (by its pid) and removes its directory.
pub struct TestAgent {
    child: Child,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl TestAgent {
    /// Start `ssh-agent -D -a SOCKET` and wait (10 s at most) for its socket.
    pub fn start() -> TestAgent {
        let dir = tempfile::Builder::new()
            .prefix("jit-agent-")
            .tempdir_in("/tmp")
            .expect("temp dir");
        let socket = dir.path().join("agent.sock");
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start ssh-agent ({e}); install it: apt-get install -y openssh-client"
                )
            });
        let agent = TestAgent {
            child,
            socket,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::os::unix::net::UnixStream::connect(&agent.socket).is_err() {
            assert!(Instant::now() < deadline, "ssh-agent socket did not appear");
            std::thread::sleep(Duration::from_millis(20));
        }
        agent
    }

    /// The socket, for `SSH_AUTH_SOCK`.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// `ssh-add ARGS` against this agent.
    pub fn ssh_add(&self, args: &[&str]) -> Output {
        Command::new("ssh-add")
            .args(args)
            .env("SSH_AUTH_SOCK", &self.socket)
            .output()
            .expect("ssh-add runs (apt-get install -y openssh-client)")
    }

    /// `ssh-add -l` output.
    pub fn list(&self) -> String {
        String::from_utf8_lossy(&self.ssh_add(&["-l"]).stdout).into_owned()
    }
}

impl Drop for TestAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
