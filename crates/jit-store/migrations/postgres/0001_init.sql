-- jit store schema, version 1 (PostgreSQL), mirroring migrations/sqlite/0001_init.sql.
-- Integers that are u64 in Rust (serials) are stored bit-cast to BIGINT, as in SQLite.
-- Text columns that are sorted on use the "C" collation: byte order, like SQLite, whatever
-- the database's default collation is.

CREATE TABLE users (
    name            TEXT COLLATE "C" PRIMARY KEY,
    groups_json     TEXT NOT NULL,
    disabled        BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      BIGINT NOT NULL,
    -- highest TOTP time step accepted for this user (RFC 6238 §5.2: single use)
    totp_last_step  BIGINT
);

CREATE TABLE enrollment_tokens (
    token_hash  TEXT PRIMARY KEY,          -- SHA-256 of the secret; the secret is never stored
    user_name   TEXT NOT NULL REFERENCES users(name),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);

CREATE TABLE devices (
    fingerprint   TEXT PRIMARY KEY,        -- SHA256:... of the device public key
    user_name     TEXT NOT NULL REFERENCES users(name),
    public_key    TEXT NOT NULL,
    name          TEXT NOT NULL,
    totp_secret   TEXT NOT NULL,           -- base32
    created_at    BIGINT NOT NULL,
    confirmed_at  BIGINT
);
CREATE INDEX devices_by_user ON devices(user_name);

CREATE TABLE totp_failures (
    user_name  TEXT NOT NULL,
    at         BIGINT NOT NULL
);
CREATE INDEX totp_failures_by_user ON totp_failures(user_name, at);

CREATE TABLE request_nonces (
    nonce       TEXT PRIMARY KEY,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX request_nonces_by_expiry ON request_nonces(expires_at);

-- the hash-chained issuance log; one row per record
CREATE TABLE log_entries (
    seq   BIGINT PRIMARY KEY,
    time  BIGINT NOT NULL,
    body  TEXT NOT NULL,
    hash  TEXT NOT NULL
);

-- the chain head, one row: appends lock it, so the chain stays one linear sequence
CREATE TABLE log_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seq   BIGINT NOT NULL,
    hash  TEXT NOT NULL
);
INSERT INTO log_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE certificates (
    serial        BIGINT PRIMARY KEY,      -- unique: a serial is never issued twice
    user_name     TEXT NOT NULL,
    role          TEXT NOT NULL,
    key_id        TEXT NOT NULL,
    valid_after   BIGINT NOT NULL,
    valid_before  BIGINT NOT NULL,
    log_seq       BIGINT NOT NULL REFERENCES log_entries(seq)
);
CREATE INDEX certificates_by_user ON certificates(user_name, valid_before);
