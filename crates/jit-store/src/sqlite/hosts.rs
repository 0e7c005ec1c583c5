//! Hosts in SQLite: the reads (changes go through the ledger).

use rusqlite::{params, Connection};

use super::query::first;
use crate::model::Host;
use crate::stored::{self, to_i64};
use crate::Result;

/// See [`crate::Store::host_by_token`].
pub(super) fn by_token(c: &Connection, token_hash: &str, now: u64) -> Result<Option<Host>> {
    first(
        c,
        "SELECT * FROM hosts WHERE token_hash = ? AND token_used_at IS NULL AND token_expires_at > ?",
        params![token_hash, to_i64(now)],
        |row| stored::host(row),
    )
}

/// See [`crate::Store::host`].
pub(super) fn by_name(c: &Connection, name: &str) -> Result<Option<Host>> {
    first(c, "SELECT * FROM hosts WHERE name = ?", [name], |row| {
        stored::host(row)
    })
}

/// See [`crate::Store::host_by_key`].
pub(super) fn by_key(c: &Connection, public_key: &str) -> Result<Option<Host>> {
    first(
        c,
        "SELECT * FROM hosts WHERE public_key = ?",
        [public_key],
        |row| stored::host(row),
    )
}
