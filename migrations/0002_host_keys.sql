-- SSH host keys pinned on first use, one per host and port. A key that differs from the pinned one
-- is kept as pending until an administrator accepts it; until then connections are refused.
CREATE TABLE host_keys (
    host                TEXT NOT NULL,
    port                INTEGER NOT NULL,
    key_type            TEXT NOT NULL,
    fingerprint         TEXT NOT NULL,
    public_key          TEXT NOT NULL,
    first_seen          TEXT NOT NULL,
    last_seen           TEXT NOT NULL,
    -- NULL when pinned automatically on first use; the user who accepted a changed key otherwise.
    accepted_by         TEXT,
    accepted            TEXT,
    pending_key_type    TEXT,
    pending_fingerprint TEXT,
    pending_public_key  TEXT,
    pending_seen        TEXT,
    PRIMARY KEY (host, port)
);
