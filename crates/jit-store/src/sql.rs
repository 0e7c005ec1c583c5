//! SQL that both backends run word for word: the statements of the ledger's state changes.
//!
//! Placeholders are `$1`, `$2`...: PostgreSQL's own, and for SQLite named parameters that
//! take their index from their first appearance, so each statement names `$1` first, then
//! `$2`, and so on (a unit test checks it). Booleans are compared with `TRUE` (SQLite knows
//! it as 1); bound values differ by backend (SQLite stores booleans as integers).

/// Create a user.
pub(crate) const INSERT_USER: &str =
    "INSERT INTO users (name, groups_json, created_at) VALUES ($1, $2, $3)";
/// Enable or disable a user.
pub(crate) const SET_USER_DISABLED: &str = "UPDATE users SET disabled = $1 WHERE name = $2";
/// Whether a user exists and is disabled.
pub(crate) const USER_DISABLED: &str = "SELECT disabled FROM users WHERE name = $1";
/// Remember an enrollment token.
pub(crate) const INSERT_ENROLLMENT_TOKEN: &str = "INSERT INTO enrollment_tokens (token_hash, user_name, created_at, expires_at) VALUES ($1, $2, $3, $4)";
/// Use an enrollment token once; returns its user.
pub(crate) const REDEEM_ENROLLMENT_TOKEN: &str = "UPDATE enrollment_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING user_name";
/// Register a device.
pub(crate) const INSERT_DEVICE: &str = "INSERT INTO devices (fingerprint, user_name, public_key, name, totp_secret, created_at) VALUES ($1, $2, $3, $4, $5, $6)";
/// Confirm a device.
pub(crate) const CONFIRM_DEVICE: &str =
    "UPDATE devices SET confirmed_at = $1 WHERE fingerprint = $2 AND confirmed_at IS NULL";
/// Store a pending request.
pub(crate) const INSERT_REQUEST: &str = "INSERT INTO access_requests (id, requester, role, reason, ticket, ttl_seconds, approvals_needed, window_seconds, created_at, expires_at, state) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending')";
/// One decision on a request.
pub(crate) const INSERT_DECISION: &str = "INSERT INTO request_decisions (request_id, approver, approve, reason, at) VALUES ($1, $2, $3, $4, $5)";
/// A denial denies.
pub(crate) const DENY_REQUEST: &str =
    "UPDATE access_requests SET state = 'denied', decided_at = $1 WHERE id = $2";
/// Approvals so far.
pub(crate) const COUNT_APPROVALS: &str =
    "SELECT COUNT(*) FROM request_decisions WHERE request_id = $1 AND approve = TRUE";
/// The N-th approval approves.
pub(crate) const APPROVE_REQUEST: &str =
    "UPDATE access_requests SET state = 'approved', decided_at = $1, usable_until = $2 WHERE id = $3";
/// Record a revocation (a repeat changes nothing).
pub(crate) const INSERT_REVOCATION: &str = "INSERT INTO revocations (kind, value, ca_fingerprint, valid_before, reason, revoked_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING";
/// Add (or re-add) a host with a fresh token.
pub(crate) const UPSERT_HOST: &str = "INSERT INTO hosts (name, principals_json, created_at, token_hash, token_expires_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE SET principals_json = excluded.principals_json, token_hash = excluded.token_hash, token_expires_at = excluded.token_expires_at, token_used_at = NULL";
/// Use a host token once and remember the key; returns the host.
pub(crate) const ENROLL_HOST: &str = "UPDATE hosts SET token_used_at = $1, public_key = $2 WHERE token_hash = $3 AND token_used_at IS NULL AND token_expires_at > $1 RETURNING *";
/// Remember a host's renewed key.
pub(crate) const SET_HOST_KEY: &str = "UPDATE hosts SET public_key = $1 WHERE name = $2";
/// Close an open review; returns it.
pub(crate) const ACK_REVIEW: &str = "UPDATE break_glass_reviews SET acked_at = $1, acked_by = $2, note = $3 WHERE serial = $4 AND acked_at IS NULL RETURNING *";
/// Whether a review exists.
pub(crate) const REVIEW_EXISTS: &str = "SELECT serial FROM break_glass_reviews WHERE serial = $1";

/// The active key of a kind steps back when a new one arrives.
pub(crate) const DEMOTE_ACTIVE_CA_KEY: &str =
    "UPDATE ca_keys SET state = 'previous' WHERE kind = $1 AND state = 'active'";
/// A CA key.
pub(crate) const INSERT_CA_KEY: &str = "INSERT INTO ca_keys (fingerprint, kind, file, public_key, state, added_at) VALUES ($1, $2, $3, $4, $5, $6)";
/// Retire an earlier key.
pub(crate) const RETIRE_CA_KEY: &str = "UPDATE ca_keys SET state = 'retired', retired_at = $1 WHERE fingerprint = $2 AND state = 'previous'";
/// Where a CA key stands.
pub(crate) const CA_KEY_STATE: &str = "SELECT state FROM ca_keys WHERE fingerprint = $1";
/// Every CA key, newest first within each kind.
pub(crate) const CA_KEYS: &str =
    "SELECT * FROM ca_keys ORDER BY kind DESC, added_at DESC, fingerprint";

/// A user's certificates still valid at a time (what disabling the user revokes).
pub(crate) const UNEXPIRED_CERTIFICATES_OF: &str = "SELECT serial, ca_fingerprint, valid_before FROM certificates WHERE user_name = $1 AND valid_before > $2";

/// Every shared statement, for the placeholder check.
#[cfg(test)]
const ALL: &[&str] = &[
    INSERT_USER,
    SET_USER_DISABLED,
    USER_DISABLED,
    INSERT_ENROLLMENT_TOKEN,
    REDEEM_ENROLLMENT_TOKEN,
    INSERT_DEVICE,
    CONFIRM_DEVICE,
    INSERT_REQUEST,
    INSERT_DECISION,
    DENY_REQUEST,
    COUNT_APPROVALS,
    APPROVE_REQUEST,
    INSERT_REVOCATION,
    UPSERT_HOST,
    ENROLL_HOST,
    SET_HOST_KEY,
    ACK_REVIEW,
    REVIEW_EXISTS,
    DEMOTE_ACTIVE_CA_KEY,
    INSERT_CA_KEY,
    RETIRE_CA_KEY,
    CA_KEY_STATE,
    CA_KEYS,
    UNEXPIRED_CERTIFICATES_OF,
];

#[cfg(test)]
mod tests {
    use super::ALL;

    /// The placeholders of `sql` in order of first appearance.
    fn first_appearances(sql: &str) -> Vec<u32> {
        let mut seen = Vec::new();
        let mut rest = sql;
        while let Some(at) = rest.find('$') {
            rest = &rest[at + 1..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            let n: u32 = digits.parse().expect("a $ followed by a number");
            if !seen.contains(&n) {
                seen.push(n);
            }
        }
        seen
    }

    #[test]
    fn placeholders_first_appear_in_order_so_sqlite_binds_them_by_position() {
        for sql in ALL {
            let seen = first_appearances(sql);
            let expected: Vec<u32> = (1..=seen.len() as u32).collect();
            assert_eq!(seen, expected, "{sql}");
        }
    }

    #[test]
    fn every_shared_statement_prepares_on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jit.db");
        let mut connection = crate::sqlite::test_connection(&path);
        let tx = connection.transaction().unwrap();
        for sql in ALL {
            tx.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
    }
}
