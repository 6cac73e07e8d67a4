-- Overdue alerts already queued: one row per series (policy × client) with the last successful
-- backup it was overdue after ('' when it never had one), so each overdue episode alerts once.
CREATE TABLE overdue_alerts (
    policy_id     INTEGER NOT NULL REFERENCES policies(id) ON DELETE CASCADE,
    client_id     INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    last_success  TEXT NOT NULL,
    alerted       TEXT NOT NULL,
    PRIMARY KEY (policy_id, client_id)
);
