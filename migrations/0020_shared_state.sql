-- State every server node sharing one database must see (issue 16): restore download tickets
-- and the login throttle's counts, formerly in each process's memory. Rows live minutes to
-- hours: expired tickets and forgotten failures are deleted as new ones arrive.

-- A download ticket, kept only as the hex SHA-256 of the ticket handed out. `used` is set once,
-- atomically, by the node that serves it; the row stays until `expires` to answer "already
-- used".
CREATE TABLE download_tickets (
    ticket_hash  TEXT PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    archive_id   INTEGER NOT NULL,
    paths        TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('file', 'tar')),
    filename     TEXT NOT NULL,
    created      TEXT NOT NULL,
    expires      TEXT NOT NULL,
    used         TEXT
);
CREATE INDEX download_tickets_expires ON download_tickets (expires);

-- Failed logins of one (client address, lower-case email) pair and its lock-out.
CREATE TABLE login_pairs (
    address       TEXT NOT NULL,
    email         TEXT NOT NULL,
    failures      INTEGER NOT NULL,
    last_failure  TEXT NOT NULL,
    locked_until  TEXT,
    PRIMARY KEY (address, email)
);
CREATE INDEX login_pairs_last_failure ON login_pairs (last_failure);

-- Every failed (or not yet checked) login attempt of a client address, for its sliding window.
CREATE TABLE login_failures (
    id       INTEGER PRIMARY KEY,
    address  TEXT NOT NULL,
    at       TEXT NOT NULL
);
CREATE INDEX login_failures_address ON login_failures (address, at);
CREATE INDEX login_failures_at ON login_failures (at);
