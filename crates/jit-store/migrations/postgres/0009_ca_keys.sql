-- jit store schema, version 9 (PostgreSQL): the CA keys in force, kept with the log that
-- records their rotation and retirement (the key material stays in its files).

CREATE TABLE ca_keys (
    fingerprint TEXT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('user', 'host')),
    file        TEXT NOT NULL,
    public_key  TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('active', 'previous', 'retired')),
    added_at    BIGINT NOT NULL,
    retired_at  BIGINT
);
CREATE UNIQUE INDEX ca_keys_one_active ON ca_keys (kind) WHERE state = 'active';
