-- jit store schema, version 4 (PostgreSQL): signed checkpoints of the issuance log's Merkle tree.

CREATE TABLE checkpoints (
    tree_size  BIGINT PRIMARY KEY,
    signed     TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
