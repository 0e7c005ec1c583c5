-- jit store schema, version 6 (PostgreSQL): a TOTP attempt is counted by one function call,
-- so `check_totp` is one statement (one round trip, its own transaction) instead of five.
-- It takes the same per-user advisory lock as the client-side transaction it replaces, so
-- replicas running either version still count one attempt at a time per user.
--
-- With a request nonce (p_nonce not NULL) the nonce is remembered first, in the same
-- transaction; a nonce seen before returns replayed = TRUE and nothing else happens.
-- Returns whether the code was accepted (NULL: locked out, nothing checked or recorded) and
-- the times of the failures in the window before this attempt.
CREATE FUNCTION jit_check_totp(
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
        IF FOUND THEN
            accepted := TRUE;
            RETURN;
        END IF;
    END IF;
    INSERT INTO totp_failures (user_name, at) VALUES (p_user, p_now);
    accepted := FALSE;
END
$$;
