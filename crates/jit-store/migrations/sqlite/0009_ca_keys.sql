-- jit store schema, version 9 (SQLite): the CA keys in force, kept with the log that records
-- their rotation and retirement (the key material stays in its files).

CREATE TABLE ca_keys (
    fingerprint TEXT PRIMARY KEY,        -- SHA256: fingerprint of the public key
    kind        TEXT NOT NULL CHECK (kind IN ('user', 'host')),
    file        TEXT NOT NULL,           -- the key file, relative to the data directory
    public_key  TEXT NOT NULL,           -- OpenSSH public key line
    state       TEXT NOT NULL CHECK (state IN ('active', 'previous', 'retired')),
    added_at    INTEGER NOT NULL,
    retired_at  INTEGER
);
CREATE UNIQUE INDEX ca_keys_one_active ON ca_keys (kind) WHERE state = 'active';
