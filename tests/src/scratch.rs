//! Scratch directories and files that satisfy sshd's `StrictModes`: under the cargo target
//! directory when no ancestor is group/world-writable, else under `/var/lib/jit-e2e`
//! (a checkout under /tmp would fail), directories 0755, files 0644.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tempfile::TempDir;

/// Set this environment variable to `1` to keep scratch directories (and sshd logs) after
/// the tests, for debugging.
pub const KEEP_ENV: &str = "JIT_E2E_KEEP";

/// The base directory for scratch directories.
///
/// In order: `$CARGO_TARGET_TMPDIR` at run time; `<target>/tmp` where `<target>` is found
/// from the running test binary (`<target>/<profile>/deps/<binary>`); `$CARGO_TARGET_DIR/tmp`;
/// finally `target/tmp` of the workspace that holds this crate. The directory is created.
pub fn base_dir() -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_TMPDIR")
        .map(PathBuf::from)
        .or_else(target_dir_from_exe)
        .or_else(|| std::env::var_os("CARGO_TARGET_DIR").map(|d| PathBuf::from(d).join("tmp")))
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("target")
                .join("tmp")
        });
    fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("jit-e2e: cannot create {}: {e}", dir.display()));
    dir.canonicalize().unwrap_or(dir)
}

/// `<target>/tmp` from the path of the running test binary, when it looks like cargo's.
fn target_dir_from_exe() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let deps = exe.parent()?;
    if deps.file_name()? != "deps" {
        return None;
    }
    let target = deps.parent()?.parent()?;
    target
        .join("CACHEDIR.TAG")
        .exists()
        .then(|| target.join("tmp"))
}

/// Where sshd-visible scratch files may live: [`base_dir`] if sshd's `StrictModes` accepts
/// it, else [`FALLBACK_DIR`] (for a checkout below /tmp, say), which root can create.
pub fn strict_base_dir() -> PathBuf {
    let base = base_dir();
    if strict_modes_problem(&base).is_none() {
        return base;
    }
    let fallback = PathBuf::from(FALLBACK_DIR);
    fs::create_dir_all(&fallback)
        .unwrap_or_else(|e| panic!("jit-e2e: cannot create {}: {e}", fallback.display()));
    set_mode(&fallback, 0o755);
    fallback
}

/// The scratch base used when the target directory sits below a world-writable directory.
pub const FALLBACK_DIR: &str = "/var/lib/jit-e2e";

/// True if [`KEEP_ENV`] asks to keep scratch directories.
pub fn keep_requested() -> bool {
    std::env::var(KEEP_ENV).is_ok_and(|v| v == "1")
}

/// Creates a fresh directory `PREFIX…` (mode 0755) under [`base_dir`], checks that sshd's
/// `StrictModes` will accept paths inside it, and returns it; it is removed when dropped.
pub fn scratch_dir(prefix: &str) -> TempDir {
    let base = strict_base_dir();
    check_strict_modes(&base);
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(&base)
        .unwrap_or_else(|e| {
            panic!(
                "jit-e2e: cannot create a directory in {}: {e}",
                base.display()
            )
        });
    set_mode(dir.path(), 0o755);
    dir
}

/// Creates `path` and its missing parents with mode 0755.
pub fn create_dir(path: &Path) {
    fs::create_dir_all(path)
        .unwrap_or_else(|e| panic!("jit-e2e: cannot create {}: {e}", path.display()));
    set_mode(path, 0o755);
}

/// Sets the permission bits of `path`.
pub fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("jit-e2e: cannot chmod {}: {e}", path.display()));
}

/// Writes `contents` to `path` with `mode`, atomically: a sibling temporary file is written
/// and renamed over `path`, so a reader (sshd) never sees a half-written file.
pub fn write_file(path: &Path, contents: impl AsRef<[u8]>, mode: u32) {
    let parent = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = parent.join(format!(".{name}.{}.tmp", std::process::id()));
    fs::write(&tmp, contents)
        .unwrap_or_else(|e| panic!("jit-e2e: cannot write {}: {e}", tmp.display()));
    set_mode(&tmp, mode);
    fs::rename(&tmp, path).unwrap_or_else(|e| {
        panic!(
            "jit-e2e: cannot rename {} to {}: {e}",
            tmp.display(),
            path.display()
        )
    });
}

/// Panics if `path` or one of its ancestors would make sshd's `StrictModes` refuse files
/// below it: each must be owned by root (or the current user) and not group- or
/// world-writable.
pub fn check_strict_modes(path: &Path) {
    if let Some(problem) = strict_modes_problem(path) {
        panic!("jit-e2e: {problem}");
    }
}

/// Why sshd's `StrictModes` would refuse files below `path`, if it would.
pub fn strict_modes_problem(path: &Path) -> Option<String> {
    let me = fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(0);
    path.ancestors().find_map(|dir| {
        let meta = fs::metadata(dir).ok()?;
        let bad_owner = meta.uid() != 0 && meta.uid() != me;
        let writable = meta.mode() & 0o022 != 0;
        (bad_owner || writable).then(|| {
            format!(
                "{} (mode {:o}, uid {}) is group/world-writable or foreign-owned; sshd \
                 StrictModes would refuse files under {}",
                dir.display(),
                meta.mode() & 0o7777,
                meta.uid(),
                path.display()
            )
        })
    })
}
