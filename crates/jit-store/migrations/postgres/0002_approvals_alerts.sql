-- jit store schema, version 2 (PostgreSQL): access requests and approvals, queued alerts,
-- break-glass reviews. Mirrors migrations/sqlite/0002_approvals_alerts.sql.

CREATE TABLE access_requests (
    id             TEXT COLLATE "C" PRIMARY KEY,
    requester      TEXT NOT NULL REFERENCES users(name),
    role           TEXT NOT NULL,
    reason         TEXT NOT NULL,
    ticket         TEXT,
    ttl_seconds    BIGINT,
    approvals_needed BIGINT NOT NULL,
    window_seconds BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,           -- a pending request lapses here
    state          TEXT NOT NULL,             -- pending | approved | denied | used
    decided_at     BIGINT,
    usable_until   BIGINT,                    -- approved: usable until here
    used_serial    BIGINT
);
CREATE INDEX access_requests_by_requester ON access_requests(requester, role, state);
CREATE INDEX access_requests_by_state ON access_requests(state, created_at);

CREATE TABLE request_decisions (
    request_id  TEXT NOT NULL REFERENCES access_requests(id),
    approver    TEXT COLLATE "C" NOT NULL,
    approve     BOOLEAN NOT NULL,
    reason      TEXT,
    at          BIGINT NOT NULL,
    PRIMARY KEY (request_id, approver)        -- one decision per approver: N distinct people
);

CREATE TABLE alerts (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind             TEXT NOT NULL,
    payload          TEXT NOT NULL,           -- JSON body sent to the webhook
    created_at       BIGINT NOT NULL,
    next_attempt_at  BIGINT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    delivered_at     BIGINT,
    last_error       TEXT
);
CREATE INDEX alerts_due ON alerts(delivered_at, next_attempt_at);

CREATE TABLE break_glass_reviews (
    serial      BIGINT PRIMARY KEY,
    log_seq     BIGINT NOT NULL,
    user_name   TEXT NOT NULL,
    role        TEXT NOT NULL,
    reason      TEXT NOT NULL,
    issued_at   BIGINT NOT NULL,
    acked_at    BIGINT,
    acked_by    TEXT,
    note        TEXT
);
