-- jit store schema, version 8 (SQLite; numbered like PostgreSQL's version 8, which adds the
-- same table): the one row a health check upserts to prove the database takes writes.
CREATE TABLE IF NOT EXISTS health_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    at INTEGER NOT NULL,
    -- bumped by every probe, so every probe really writes (SQLite skips rewriting a row
    -- with identical content, and two probes can share a second)
    probes INTEGER NOT NULL DEFAULT 0
);
