//! Hosts in SQLite: added (or re-added) with a one-time token hash, the token redeemed once,
//! the certified host key remembered.

use rusqlite::{params, Connection};

use super::query::{execute, first};
use crate::model::Host;
use crate::stored::{self, to_i64};
use crate::Result;

/// See [`crate::Store::add_host`]; adding a known host replaces its principals and token.
pub(super) fn add(
    c: &Connection,
    name: &str,
    principals_json: &str,
    token_hash: &str,
    expires_at: u64,
    now: u64,
) -> Result<()> {
    execute(
        c,
        "INSERT INTO hosts (name, principals_json, created_at, token_hash, token_expires_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET principals_json = excluded.principals_json, token_hash = excluded.token_hash, token_expires_at = excluded.token_expires_at, token_used_at = NULL",
        params![name, principals_json, to_i64(now), token_hash, to_i64(expires_at)],
    )
    .map(drop)
}

/// See [`crate::Store::redeem_host_token`].
pub(super) fn redeem_token(c: &Connection, token_hash: &str, now: u64) -> Result<Option<Host>> {
    first(
        c,
        "UPDATE hosts SET token_used_at = ? WHERE token_hash = ? AND token_used_at IS NULL AND token_expires_at > ? RETURNING *",
        params![to_i64(now), token_hash, to_i64(now)],
        |row| stored::host(row),
    )
}

/// See [`crate::Store::set_host_key`].
pub(super) fn set_key(c: &Connection, name: &str, public_key: &str) -> Result<()> {
    execute(
        c,
        "UPDATE hosts SET public_key = ? WHERE name = ?",
        params![public_key, name],
    )
    .map(drop)
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
