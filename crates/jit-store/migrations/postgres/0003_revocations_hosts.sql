-- jit store schema, version 3 (PostgreSQL): revocations, the CA key of each certificate,
-- hosts and their certificates. Mirrors migrations/sqlite/0003_revocations_hosts.sql.

ALTER TABLE certificates ADD COLUMN ca_fingerprint TEXT NOT NULL DEFAULT '';

CREATE TABLE revocations (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        TEXT NOT NULL,          -- serial | key_id | key
    value       TEXT NOT NULL,          -- decimal serial, key ID, or OpenSSH public key
    ca_fingerprint TEXT NOT NULL DEFAULT '',  -- for serial / key_id: the CA that signed
    valid_before BIGINT,                -- for certificates: drops out of the KRL after this
    reason      TEXT NOT NULL,
    revoked_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (kind, value, ca_fingerprint)
);

CREATE TABLE hosts (
    name         TEXT PRIMARY KEY,
    principals_json TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    public_key   TEXT,                  -- the host key certified (after enrollment)
    token_hash   TEXT,
    token_expires_at BIGINT,
    token_used_at BIGINT
);
