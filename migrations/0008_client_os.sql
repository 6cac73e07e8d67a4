-- The operating system a client reported during preparation (e.g. "Debian GNU/Linux 12 (bookworm)").
ALTER TABLE clients ADD COLUMN os TEXT NOT NULL DEFAULT '';
