-- jit store schema, version 7 (PostgreSQL): the fingerprint of the key each certificate certifies, unique,
-- so that no key is ever certified twice (checked by the issuance's own insert). Rows from
-- before this version have none (NULL; NULLs do not collide in a unique index).

ALTER TABLE certificates ADD COLUMN client_key_fingerprint TEXT;
CREATE UNIQUE INDEX certificates_client_key ON certificates(client_key_fingerprint);
