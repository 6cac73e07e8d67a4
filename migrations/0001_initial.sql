-- Initial schema: inventory, users and tokens, jobs and their output, archives, settings.
CREATE TABLE users (
    id              INTEGER PRIMARY KEY,
    email           TEXT NOT NULL UNIQUE COLLATE NOCASE,
    first_name      TEXT NOT NULL DEFAULT '',
    last_name       TEXT NOT NULL DEFAULT '',
    password_hash   TEXT NOT NULL,
    is_superuser    INTEGER NOT NULL DEFAULT 0,
    is_active       INTEGER NOT NULL DEFAULT 1,
    created         TEXT NOT NULL,
    modified        TEXT NOT NULL,
    last_login      TEXT,
    notify_backup_success  INTEGER NOT NULL DEFAULT 0,
    notify_backup_failed   INTEGER NOT NULL DEFAULT 1,
    notify_launch_summary  INTEGER NOT NULL DEFAULT 0,
    notify_daily           INTEGER NOT NULL DEFAULT 0,
    notify_weekly          INTEGER NOT NULL DEFAULT 0,
    notify_monthly         INTEGER NOT NULL DEFAULT 0
);

-- Login sessions and long-lived API tokens; only a SHA-256 of the token is stored.
CREATE TABLE tokens (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash  TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL CHECK (kind IN ('session', 'api')),
    name        TEXT NOT NULL DEFAULT '',
    created     TEXT NOT NULL,
    expires     TEXT,
    last_used   TEXT,
    revoked     INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE clients (
    id               INTEGER PRIMARY KEY,
    uuid             TEXT NOT NULL UNIQUE,
    hostname         TEXT NOT NULL UNIQUE,
    port             INTEGER NOT NULL DEFAULT 22,
    ip               TEXT NOT NULL DEFAULT '',
    version          TEXT NOT NULL DEFAULT '',
    ready            INTEGER NOT NULL DEFAULT 0,
    hypervisor_ready INTEGER NOT NULL DEFAULT 0,
    hypervisor_name  TEXT NOT NULL DEFAULT '',
    enabled          INTEGER NOT NULL DEFAULT 1,
    created          TEXT NOT NULL,
    modified         TEXT NOT NULL,
    created_by       INTEGER REFERENCES users(id) ON DELETE SET NULL,
    modified_by      INTEGER REFERENCES users(id) ON DELETE SET NULL
);

CREATE TABLE repositories (
    id                INTEGER PRIMARY KEY,
    uuid              TEXT NOT NULL UNIQUE,
    name              TEXT NOT NULL,
    path              TEXT NOT NULL UNIQUE,
    repository_key    BLOB,            -- passphrase, AEAD-encrypted with the master key
    original_size     INTEGER NOT NULL DEFAULT 0,
    compressed_size   INTEGER NOT NULL DEFAULT 0,
    deduplicated_size INTEGER NOT NULL DEFAULT 0,
    ready             INTEGER NOT NULL DEFAULT 0,
    enabled           INTEGER NOT NULL DEFAULT 1,
    created           TEXT NOT NULL,
    modified          TEXT NOT NULL,
    created_by        INTEGER REFERENCES users(id) ON DELETE SET NULL,
    modified_by       INTEGER REFERENCES users(id) ON DELETE SET NULL
);

CREATE TABLE schedules (
    id          INTEGER PRIMARY KEY,
    uuid        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    crontab     TEXT NOT NULL,
    enabled     INTEGER NOT NULL DEFAULT 1,
    created     TEXT NOT NULL,
    modified    TEXT NOT NULL,
    created_by  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    modified_by INTEGER REFERENCES users(id) ON DELETE SET NULL
);

CREATE TABLE policies (
    id            INTEGER PRIMARY KEY,
    uuid          TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    policy_type   TEXT NOT NULL,
    extra_vars    TEXT NOT NULL DEFAULT '',
    repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE RESTRICT,
    schedule_id   INTEGER NOT NULL REFERENCES schedules(id) ON DELETE RESTRICT,
    keep_hourly   INTEGER,
    keep_daily    INTEGER,
    keep_weekly   INTEGER,
    keep_monthly  INTEGER,
    keep_yearly   INTEGER,
    vmprovider    TEXT NOT NULL DEFAULT '',
    next_run      TEXT,
    mode_pull     INTEGER NOT NULL DEFAULT 0,
    enabled       INTEGER NOT NULL DEFAULT 1,
    prehook       TEXT NOT NULL DEFAULT '',
    posthook      TEXT NOT NULL DEFAULT '',
    created       TEXT NOT NULL,
    modified      TEXT NOT NULL,
    created_by    INTEGER REFERENCES users(id) ON DELETE SET NULL,
    modified_by   INTEGER REFERENCES users(id) ON DELETE SET NULL
);

CREATE TABLE policy_clients (
    policy_id INTEGER NOT NULL REFERENCES policies(id) ON DELETE CASCADE,
    client_id INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    PRIMARY KEY (policy_id, client_id)
);

CREATE TABLE jobs (
    id                INTEGER PRIMARY KEY,
    uuid              TEXT NOT NULL UNIQUE,
    name              TEXT NOT NULL,
    job_type          TEXT NOT NULL,
    status            TEXT NOT NULL,
    policy_id         INTEGER REFERENCES policies(id) ON DELETE SET NULL,
    client_id         INTEGER REFERENCES clients(id) ON DELETE SET NULL,
    repository_id     INTEGER REFERENCES repositories(id) ON DELETE SET NULL,
    archive_name      TEXT NOT NULL DEFAULT '',
    depends_on        INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
    launch_type       TEXT NOT NULL DEFAULT 'manual',
    created           TEXT NOT NULL,
    started           TEXT,
    finished          TEXT,
    elapsed           REAL NOT NULL DEFAULT 0,
    exit_code         INTEGER,
    job_explanation   TEXT NOT NULL DEFAULT '',
    original_size     INTEGER NOT NULL DEFAULT 0,
    compressed_size   INTEGER NOT NULL DEFAULT 0,
    deduplicated_size INTEGER NOT NULL DEFAULT 0,
    nfiles            INTEGER NOT NULL DEFAULT 0,
    created_by        INTEGER REFERENCES users(id) ON DELETE SET NULL
);
CREATE INDEX jobs_status ON jobs(status);
CREATE INDEX jobs_policy ON jobs(policy_id);

CREATE TABLE job_events (
    id      INTEGER PRIMARY KEY,
    job_id  INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    seq     INTEGER NOT NULL,
    stream  TEXT NOT NULL,
    text    TEXT NOT NULL,
    at      TEXT NOT NULL
);
CREATE INDEX job_events_job ON job_events(job_id, seq);

CREATE TABLE archives (
    id                INTEGER PRIMARY KEY,
    name              TEXT NOT NULL,
    repository_id     INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    policy_id         INTEGER NOT NULL,
    client_id         INTEGER NOT NULL,
    job_id            INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
    time              TEXT NOT NULL,
    original_size     INTEGER NOT NULL DEFAULT 0,
    compressed_size   INTEGER NOT NULL DEFAULT 0,
    deduplicated_size INTEGER NOT NULL DEFAULT 0,
    nfiles            INTEGER NOT NULL DEFAULT 0,
    catalog_state     TEXT NOT NULL DEFAULT 'pending',
    catalog_error     TEXT NOT NULL DEFAULT '',
    catalog_entries   INTEGER NOT NULL DEFAULT 0,
    UNIQUE (repository_id, name)
);

-- Settings: plain values in `value`, secrets AEAD-encrypted in `secret`.
CREATE TABLE settings (
    key       TEXT PRIMARY KEY,
    value     TEXT NOT NULL DEFAULT '',
    secret    BLOB,
    modified  TEXT NOT NULL
);
