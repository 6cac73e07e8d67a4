-- Proven copies (issue 17): per-copy retention and schedule offset, a recovery-point objective
-- on the policy, an integrity check schedule per repository, jobs that wait for a start time,
-- the verdict of each copy archive compared with its primary, and the recoverability alerts
-- already sent (one per episode).
ALTER TABLE policy_copies ADD COLUMN keep_hourly INTEGER;
ALTER TABLE policy_copies ADD COLUMN keep_daily INTEGER;
ALTER TABLE policy_copies ADD COLUMN keep_weekly INTEGER;
ALTER TABLE policy_copies ADD COLUMN keep_monthly INTEGER;
ALTER TABLE policy_copies ADD COLUMN keep_yearly INTEGER;
ALTER TABLE policy_copies ADD COLUMN offset_minutes INTEGER NOT NULL DEFAULT 0;

ALTER TABLE policies ADD COLUMN rpo_hours INTEGER;

-- A cron expression ('' for none): when `borg check` of the repository runs by itself.
ALTER TABLE repositories ADD COLUMN check_cron TEXT NOT NULL DEFAULT '';

-- A queued job does not start before this time (a copy's schedule offset).
ALTER TABLE jobs ADD COLUMN not_before TEXT;

-- A copy archive compared with the primary archive of the same run, once both are catalogued.
-- verdict: identical, consistent (every difference is a file changed between the two runs) or
-- differs (files missing from the copy, or changed without a change between the runs).
CREATE TABLE copy_verifications (
    archive_id          INTEGER PRIMARY KEY REFERENCES archives(id) ON DELETE CASCADE,
    primary_archive_id  INTEGER REFERENCES archives(id) ON DELETE SET NULL,
    verdict             TEXT NOT NULL CHECK (verdict IN ('identical', 'consistent', 'differs')),
    same                INTEGER NOT NULL DEFAULT 0,
    missing             INTEGER NOT NULL DEFAULT 0,
    extra               INTEGER NOT NULL DEFAULT 0,
    changed             INTEGER NOT NULL DEFAULT 0,
    between_runs        INTEGER NOT NULL DEFAULT 0,
    summary             TEXT NOT NULL DEFAULT '',
    checked             TEXT NOT NULL
);

-- The recoverability state last alerted for a series (policy × client): an alert is queued when
-- the state becomes worse than this, so each episode alerts once.
CREATE TABLE recoverability_alerts (
    policy_id  INTEGER NOT NULL REFERENCES policies(id) ON DELETE CASCADE,
    client_id  INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    state      TEXT NOT NULL,
    since      TEXT NOT NULL,
    PRIMARY KEY (policy_id, client_id)
);

-- Recoverability and fleet health read the newest archive, job and check of each series and
-- repository: indexes that keep those reads per series, not per repository or policy.
CREATE INDEX archives_series ON archives (policy_id, client_id, repository_id, time);
CREATE INDEX jobs_series ON jobs (policy_id, client_id, job_type, finished);
CREATE INDEX jobs_repository ON jobs (repository_id, job_type, finished);
