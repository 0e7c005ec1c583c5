//! A tiny tmpfs mounted for one test (root only), unmounted when dropped, even when the
//! test fails: a filesystem that can really run out of space.

use std::io::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use crate::process::{run_with_timeout, OutputExt as _};

/// A mounted tmpfs on a fresh directory.
pub struct Tmpfs {
    // unmounted in `drop`, before the directory is removed
    dir: TempDir,
}

impl Tmpfs {
    /// `mount -t tmpfs -o size=SIZE_KIBk tmpfs DIR` on a fresh directory. Panics, saying
    /// why and what to do, when mounting is impossible (not root, a container without
    /// CAP_SYS_ADMIN): the test that needs it must not pass without it.
    pub fn mount(size_kib: u32) -> Tmpfs {
        let dir = tempfile::Builder::new()
            .prefix("jit-e2e-tmpfs-")
            .tempdir()
            .expect("a directory to mount a tmpfs on");
        let out = run_with_timeout(
            Command::new("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={size_kib}k"), "tmpfs"])
                .arg(dir.path()),
            Duration::from_secs(10),
        )
        .expect("mount finishes");
        assert!(
            out.status.success(),
            "jit-e2e: cannot mount a tmpfs on {} ({}); this test needs root with the right to \
             mount (run the suite as root, as CI does, with CAP_SYS_ADMIN in a container)",
            dir.path().display(),
            out.describe()
        );
        Tmpfs { dir }
    }

    /// The mount point.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fill the filesystem: write the file `name` until a write fails with "no space left
    /// on device". Panics if that never happens (the size limit did not hold).
    pub fn fill(&self, name: &str) {
        let path = self.path().join(name);
        let mut file = std::fs::File::create(&path).expect("create the filler file");
        let chunk = [0u8; 4096];
        for _ in 0..4096 {
            if let Err(error) = file.write_all(&chunk) {
                assert_eq!(
                    error.kind(),
                    std::io::ErrorKind::StorageFull,
                    "filling {} failed otherwise: {error}",
                    path.display()
                );
                return;
            }
        }
        panic!("{} took 16 MiB without filling up", self.path().display());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let unmount = |lazy: bool| {
            let mut cmd = Command::new("umount");
            if lazy {
                cmd.arg("-l");
            }
            cmd.arg(self.dir.path());
            run_with_timeout(&mut cmd, Duration::from_secs(10))
                .is_ok_and(|out| out.status.success())
        };
        // A process still holding a file open makes it busy: detach it then.
        if !unmount(false) && !unmount(true) {
            eprintln!(
                "jit-e2e: could not unmount {}; run `umount -l` on it",
                self.dir.path().display()
            );
        }
    }
}
