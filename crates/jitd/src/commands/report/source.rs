//! Where the audit commands read log entries from: the database in the data directory, a
//! page at a time, or an export file written by `jitd audit export`.

use std::io::BufRead as _;
use std::path::Path;

use anyhow::Context as _;
use jit_log::Entry;
use jit_store::Store;

/// Entries read from the store per query.
pub const PAGE: u64 = 1000;

/// The store's log entries from one sequence number on, a page at a time (so an export of
/// a large log never holds it all in memory).
pub struct Pages<'a> {
    store: &'a dyn Store,
    next: u64,
}

impl std::fmt::Debug for Pages<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pages").field("next", &self.next).finish()
    }
}

impl<'a> Pages<'a> {
    /// Pages of `store`'s entries starting at sequence number `from`.
    pub fn new(store: &'a dyn Store, from: u64) -> Pages<'a> {
        Pages { store, next: from }
    }

    /// The next page, or `None` once the log is exhausted.
    pub async fn next(&mut self) -> anyhow::Result<Option<Vec<Entry>>> {
        let page = self
            .store
            .log_entries(self.next, PAGE)
            .await
            .context("cannot read the issuance log from the database")?;
        let Some(last) = page.last() else {
            return Ok(None);
        };
        self.next = last.seq + 1;
        Ok(Some(page))
    }
}

/// Every entry in the store, in order.
pub async fn all(store: &dyn Store) -> anyhow::Result<Vec<Entry>> {
    let mut pages = Pages::new(store, 1);
    let mut entries = Vec::new();
    while let Some(page) = pages.next().await? {
        entries.extend(page);
    }
    Ok(entries)
}

/// The entries of an export file (JSON lines of `{"seq","body","hash"}`; blank lines skipped).
pub fn read_export(path: &Path) -> anyhow::Result<Vec<Entry>> {
    let file = std::fs::File::open(path).with_context(|| {
        format!(
            "cannot read {} (write one with `jitd audit export > FILE`)",
            path.display()
        )
    })?;
    std::io::BufReader::new(file)
        .lines()
        .enumerate()
        .filter(|(_, line)| !matches!(line, Ok(l) if l.trim().is_empty()))
        .map(|(n, line)| {
            let line = line.with_context(|| format!("cannot read {}", path.display()))?;
            serde_json::from_str(&line).with_context(|| {
                format!(
                    "{} line {}: not a log entry (is it `jitd audit export` output?)",
                    path.display(),
                    n + 1
                )
            })
        })
        .collect()
}

/// The entries of `file` when one is given, else every entry in the database of `data_dir`.
pub async fn load(data_dir: &Path, file: Option<&Path>) -> anyhow::Result<Vec<Entry>> {
    match file {
        Some(path) => read_export(path),
        None => {
            let (_, store) = super::super::open(data_dir).await?;
            all(store.as_ref()).await
        }
    }
}
