-- Several nodes on one database: each node's heartbeat, and which node runs a job under a lease
-- it renews. A job whose lease ran out (its node died or lost the database) is ended by another
-- node; a cancel asked on any node reaches the node running the job through `cancel_requested`.
CREATE TABLE nodes (
    name       TEXT PRIMARY KEY,
    -- Base URL the other nodes reach this node's API at (catalog queries); '' when unknown.
    address    TEXT NOT NULL DEFAULT '',
    -- 1 on the node holding the file catalog.
    catalog    INTEGER NOT NULL DEFAULT 0,
    version    TEXT NOT NULL DEFAULT '',
    started    TEXT NOT NULL,
    heartbeat  TEXT NOT NULL
);
ALTER TABLE jobs ADD COLUMN node TEXT;
ALTER TABLE jobs ADD COLUMN lease_until TEXT;
ALTER TABLE jobs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
CREATE INDEX jobs_node ON jobs (node, status);
