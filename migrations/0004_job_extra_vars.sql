-- Per-job options (as the original's Job.extra_vars): e.g. {"verify_data": true} for checks.
ALTER TABLE jobs ADD COLUMN extra_vars TEXT NOT NULL DEFAULT '';
