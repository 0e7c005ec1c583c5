-- jit store schema, version 4 (SQLite): signed checkpoints of the issuance log's Merkle tree.

CREATE TABLE checkpoints (
    tree_size  INTEGER PRIMARY KEY,
    signed     TEXT NOT NULL,   -- the SignedCheckpoint as JSON (text, key ID, signature)
    created_at INTEGER NOT NULL
);
