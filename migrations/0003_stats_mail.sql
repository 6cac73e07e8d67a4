-- Statistics history, repository capacity, outgoing mail and webhook deliveries.

-- Repository totals over time: one row each time `borg info --json` totals are stored.
CREATE TABLE repository_stats (
    id                INTEGER PRIMARY KEY,
    repository_id     INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    time              TEXT NOT NULL,
    original_size     INTEGER NOT NULL,
    compressed_size   INTEGER NOT NULL,
    deduplicated_size INTEGER NOT NULL
);
CREATE INDEX repository_stats_repo_time ON repository_stats(repository_id, time);

-- Every change of a repository's totals is kept, whoever writes them.
CREATE TRIGGER repository_stats_on_update
AFTER UPDATE OF original_size, compressed_size, deduplicated_size ON repositories
WHEN NEW.original_size != OLD.original_size OR NEW.compressed_size != OLD.compressed_size
  OR NEW.deduplicated_size != OLD.deduplicated_size OR NEW.original_size > 0
BEGIN
    INSERT INTO repository_stats (repository_id, time, original_size, compressed_size, deduplicated_size)
    VALUES (NEW.id, strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'), NEW.original_size, NEW.compressed_size,
            NEW.deduplicated_size);
END;

-- Capacity of a repository's storage in bytes (NULL: unknown), for "full in N days" forecasts.
ALTER TABLE repositories ADD COLUMN capacity INTEGER;

CREATE INDEX archives_time ON archives(time);
CREATE INDEX jobs_finished ON jobs(finished);

-- Outgoing messages (mail and webhooks), kept with their delivery state and retried.
CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY,
    channel      TEXT NOT NULL CHECK (channel IN ('mail', 'webhook')),
    kind         TEXT NOT NULL,
    recipients   TEXT NOT NULL,
    subject      TEXT NOT NULL DEFAULT '',
    payload      BLOB NOT NULL,
    state        TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT NOT NULL DEFAULT '',
    created      TEXT NOT NULL,
    next_attempt TEXT NOT NULL,
    sent         TEXT
);
CREATE INDEX outbox_due ON outbox(state, next_attempt);

-- Whether the notifications of a finished job (mail, webhook) were queued; jobs finished before
-- this migration count as notified.
ALTER TABLE jobs ADD COLUMN notified INTEGER NOT NULL DEFAULT 0;
UPDATE jobs SET notified = 1;
CREATE INDEX jobs_unnotified ON jobs(notified) WHERE notified = 0;
