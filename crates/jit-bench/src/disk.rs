//! The storage ceiling of this disk: how many small appends followed by `fdatasync` it
//! completes per second, which is what every durable SQLite commit (WAL, `synchronous=FULL`)
//! pays at least once.

use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;

/// Most syncs done (a fast disk stops here before the time is up).
const MAX_SYNCS: usize = 50_000;

/// Append 4 KiB and `fdatasync`, repeatedly, for about `duration` in a file under `dir`.
pub fn syncs_per_sec(dir: &Path, duration: Duration) -> anyhow::Result<f64> {
    let file_dir = tempfile::tempdir_in(dir).context("cannot make a scratch directory")?;
    let path = file_dir.path().join("sync-probe");
    let mut file = std::fs::File::create(&path).context("cannot create the sync probe file")?;
    let page = [0x5a_u8; 4096];
    let started = Instant::now();
    let mut done = 0;
    while done < MAX_SYNCS && started.elapsed() < duration {
        file.write_all(&page)?;
        file.sync_data()?;
        done += 1;
    }
    Ok(done as f64 / started.elapsed().as_secs_f64())
}
