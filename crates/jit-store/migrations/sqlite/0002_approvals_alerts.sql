-- jit store schema, version 2 (SQLite): access requests and approvals, queued alerts,
-- break-glass reviews.

CREATE TABLE access_requests (
    id             TEXT PRIMARY KEY,
    requester      TEXT NOT NULL REFERENCES users(name),
    role           TEXT NOT NULL,
    reason         TEXT NOT NULL,
    ticket         TEXT,
    ttl_seconds    INTEGER,
    approvals_needed INTEGER NOT NULL,
    window_seconds INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,          -- a pending request lapses here
    state          TEXT NOT NULL,             -- pending | approved | denied | used
    decided_at     INTEGER,
    usable_until   INTEGER,                   -- approved: usable until here
    used_serial    INTEGER
);
CREATE INDEX access_requests_by_requester ON access_requests(requester, role, state);
CREATE INDEX access_requests_by_state ON access_requests(state, created_at);

CREATE TABLE request_decisions (
    request_id  TEXT NOT NULL REFERENCES access_requests(id),
    approver    TEXT NOT NULL,
    approve     INTEGER NOT NULL,
    reason      TEXT,
    at          INTEGER NOT NULL,
    PRIMARY KEY (request_id, approver)        -- one decision per approver: N distinct people
);

CREATE TABLE alerts (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    kind             TEXT NOT NULL,
    payload          TEXT NOT NULL,           -- JSON body sent to the webhook
    created_at       INTEGER NOT NULL,
    next_attempt_at  INTEGER NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    delivered_at     INTEGER,
    last_error       TEXT
);
CREATE INDEX alerts_due ON alerts(delivered_at, next_attempt_at);

CREATE TABLE break_glass_reviews (
    serial      INTEGER PRIMARY KEY,
    log_seq     INTEGER NOT NULL,
    user_name   TEXT NOT NULL,
    role        TEXT NOT NULL,
    reason      TEXT NOT NULL,
    issued_at   INTEGER NOT NULL,
    acked_at    INTEGER,
    acked_by    TEXT,
    note        TEXT
);
