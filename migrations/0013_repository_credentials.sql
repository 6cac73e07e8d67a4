-- One SSH key pair per (client, repository): the client reaches its repository only with it,
-- authorized on the repository host as a forced `borg serve --restrict-to-repository PATH
-- --append-only`. No foreign keys: when a client, policy or repository goes away the row stays
-- until the server has removed the line from the repository host, then it is deleted.
CREATE TABLE repository_credentials (
    client_id          INTEGER NOT NULL,
    repository_id      INTEGER NOT NULL,
    -- OpenSSH private key (unencrypted PEM), sealed with the master key.
    private_key        BLOB NOT NULL,
    -- `ssh-ed25519 AAAA…` (no comment): the line's key, also how the line is found again.
    public_key         TEXT NOT NULL,
    -- Comment ending the authorized_keys line: `cyborg:<client hostname>:<repository id>`.
    tag                TEXT NOT NULL,
    -- The repository location (as stored on the repository) where the line was installed, and
    -- when; NULL until installed.
    installed_location TEXT,
    installed          TEXT,
    created            TEXT NOT NULL,
    PRIMARY KEY (client_id, repository_id)
);
