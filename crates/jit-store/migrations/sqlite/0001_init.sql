-- jit store schema, version 1 (SQLite).
-- Integers that are u64 in Rust (serials) are stored bit-cast to i64.

CREATE TABLE users (
    name            TEXT PRIMARY KEY,
    groups_json     TEXT NOT NULL,
    disabled        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    -- highest TOTP time step accepted for this user (RFC 6238 §5.2: single use)
    totp_last_step  INTEGER
);

CREATE TABLE enrollment_tokens (
    token_hash  TEXT PRIMARY KEY,          -- SHA-256 of the secret; the secret is never stored
    user_name   TEXT NOT NULL REFERENCES users(name),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);

CREATE TABLE devices (
    fingerprint   TEXT PRIMARY KEY,        -- SHA256:... of the device public key
    user_name     TEXT NOT NULL REFERENCES users(name),
    public_key    TEXT NOT NULL,
    name          TEXT NOT NULL,
    totp_secret   TEXT NOT NULL,           -- base32
    created_at    INTEGER NOT NULL,
    confirmed_at  INTEGER
);
CREATE INDEX devices_by_user ON devices(user_name);

CREATE TABLE totp_failures (
    user_name  TEXT NOT NULL,
    at         INTEGER NOT NULL
);
CREATE INDEX totp_failures_by_user ON totp_failures(user_name, at);

CREATE TABLE request_nonces (
    nonce       TEXT PRIMARY KEY,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX request_nonces_by_expiry ON request_nonces(expires_at);

-- the hash-chained issuance log; one row per record
CREATE TABLE log_entries (
    seq   INTEGER PRIMARY KEY,
    time  INTEGER NOT NULL,
    body  TEXT NOT NULL,
    hash  TEXT NOT NULL
);

-- the chain head, one row: appends lock it, so the chain stays one linear sequence
CREATE TABLE log_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seq   INTEGER NOT NULL,
    hash  TEXT NOT NULL
);
INSERT INTO log_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE certificates (
    serial        INTEGER PRIMARY KEY,     -- unique: a serial is never issued twice
    user_name     TEXT NOT NULL,
    role          TEXT NOT NULL,
    key_id        TEXT NOT NULL,
    valid_after   INTEGER NOT NULL,
    valid_before  INTEGER NOT NULL,
    log_seq       INTEGER NOT NULL REFERENCES log_entries(seq)
);
CREATE INDEX certificates_by_user ON certificates(user_name, valid_before);
