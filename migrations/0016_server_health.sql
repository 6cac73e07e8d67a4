-- One row the readiness probe (`GET /readyz`) rewrites: proof that the database accepts writes.
CREATE TABLE server_health (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at TEXT NOT NULL
);
