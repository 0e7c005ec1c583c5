-- jit store schema, version 8 (PostgreSQL).
--
-- 1. A replayed TOTP code is not a guess: a code that matched a time step (p_step not NULL)
--    not later than the last one used was right, just used before, so it no longer records
--    a failure (sixteen concurrent retries of one valid code locked the user out). Only a
--    code that matched no step (p_step NULL) is a failure. The outputs keep their meaning
--    (accepted FALSE with p_step given is the replay), so replicas running the previous
--    binary read the answers as before.
-- 2. `health_probe`: the one row a health check upserts to prove the database takes writes.
CREATE OR REPLACE FUNCTION jit_check_totp(
    p_user TEXT,
    p_now BIGINT,
    p_since BIGINT,
    p_max_failures BIGINT,
    p_step BIGINT,
    p_nonce TEXT,
    p_nonce_expires_at BIGINT,
    OUT replayed BOOLEAN,
    OUT accepted BOOLEAN,
    OUT failures BIGINT[]
) LANGUAGE plpgsql AS $$
BEGIN
    replayed := FALSE;
    IF p_nonce IS NOT NULL THEN
        INSERT INTO request_nonces (nonce, expires_at) VALUES (p_nonce, p_nonce_expires_at)
            ON CONFLICT DO NOTHING;
        IF NOT FOUND THEN
            replayed := TRUE;
            RETURN;
        END IF;
    END IF;
    -- One attempt at a time per user, across every replica, until the transaction ends.
    PERFORM pg_advisory_xact_lock(hashtext(p_user));
    SELECT coalesce(array_agg(at), '{}') INTO failures
        FROM totp_failures WHERE user_name = p_user AND at > p_since;
    IF cardinality(failures) >= p_max_failures THEN
        accepted := NULL;
        RETURN;
    END IF;
    IF p_step IS NOT NULL THEN
        UPDATE users SET totp_last_step = p_step
            WHERE name = p_user AND (totp_last_step IS NULL OR totp_last_step < p_step);
        -- Not accepted: the step was used up before (a replay), not recorded.
        accepted := FOUND;
        RETURN;
    END IF;
    INSERT INTO totp_failures (user_name, at) VALUES (p_user, p_now);
    accepted := FALSE;
END
$$;

CREATE TABLE IF NOT EXISTS health_probe (
    id SMALLINT PRIMARY KEY CHECK (id = 1),
    at BIGINT NOT NULL,
    -- bumped by every probe, so every probe really writes
    probes BIGINT NOT NULL DEFAULT 0
);
