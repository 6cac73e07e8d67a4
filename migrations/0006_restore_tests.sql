-- Restore drills: evidence that a series' archives restore (sample files extracted and verified
-- against the catalog and the live files, or a database dump loaded into a scratch database).
CREATE TABLE restore_tests (
    id             INTEGER PRIMARY KEY,
    job_id         INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
    policy_id      INTEGER NOT NULL REFERENCES policies(id) ON DELETE CASCADE,
    client_id      INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    repository_id  INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    -- JSON list of the archive names the drill extracted from.
    archives       TEXT NOT NULL DEFAULT '[]',
    files_checked  INTEGER NOT NULL DEFAULT 0,
    bytes          INTEGER NOT NULL DEFAULT 0,
    duration       REAL NOT NULL DEFAULT 0,
    -- JSON list of {"path", "archive", "reason"}: what failed verification.
    mismatches     TEXT NOT NULL DEFAULT '[]',
    -- JSON list of {"path", "archive", "reason"}: checks skipped and why (live file changed).
    notes          TEXT NOT NULL DEFAULT '[]',
    verdict        TEXT NOT NULL CHECK (verdict IN ('passed', 'failed')),
    summary        TEXT NOT NULL DEFAULT '',
    created        TEXT NOT NULL
);
CREATE INDEX restore_tests_series ON restore_tests (policy_id, client_id, created);
CREATE INDEX restore_tests_client ON restore_tests (client_id, created);
