-- jit store schema, version 5 (PostgreSQL): TOTP attempts are reserved before the code is
-- checked (so concurrent attempts each count); a successful one is removed by its id.
ALTER TABLE totp_failures ADD COLUMN id BIGINT GENERATED ALWAYS AS IDENTITY;
