-- Repository identity, recorded at preparation (`borg` repository id and encryption mode) and
-- verified before every job that touches the repository; empty until recorded.
ALTER TABLE repositories ADD COLUMN borg_id TEXT NOT NULL DEFAULT '';
ALTER TABLE repositories ADD COLUMN encryption_mode TEXT NOT NULL DEFAULT '';
-- Tamper mark: '' (clean), 'tampered' (archives vanished without a prune by this server: prune
-- and compact stop), 'cleared' (an administrator cleared it after recovery: the next prune takes
-- the repository's archive list as it then is).
ALTER TABLE repositories ADD COLUMN tamper_state TEXT NOT NULL DEFAULT '';
-- JSON array of the vanished archive names.
ALTER TABLE repositories ADD COLUMN tampered_archives TEXT NOT NULL DEFAULT '[]';
ALTER TABLE repositories ADD COLUMN tampered_at TEXT;
ALTER TABLE repositories ADD COLUMN tamper_cleared_at TEXT;
ALTER TABLE repositories ADD COLUMN tamper_cleared_by INTEGER REFERENCES users(id) ON DELETE SET NULL;
-- The repository's last transaction (its `index.N`) seen with every known archive present:
-- the rollback point of the recovery steps.
ALTER TABLE repositories ADD COLUMN last_good_transaction INTEGER;
ALTER TABLE repositories ADD COLUMN last_good_at TEXT;
-- Set on the archives this server's own prune deleted, until a listing confirms them gone.
ALTER TABLE archives ADD COLUMN pruned INTEGER NOT NULL DEFAULT 0;
-- An anomaly pauses prune and compact of its series until an administrator acknowledges it.
ALTER TABLE archives ADD COLUMN anomaly_acknowledged_at TEXT;
ALTER TABLE archives ADD COLUMN anomaly_acknowledged_by INTEGER REFERENCES users(id) ON DELETE SET NULL;
