-- Why the catalog flagged an archive as an anomaly (mass deletion or change); empty when not.
ALTER TABLE archives ADD COLUMN anomaly TEXT NOT NULL DEFAULT '';
