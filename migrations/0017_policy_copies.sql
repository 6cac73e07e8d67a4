-- Copy repositories of a policy (3-2-1): every run also backs each client up into each copy,
-- as archives of their own made by borg. `position` keeps the order the administrator gave.
CREATE TABLE policy_copies (
    policy_id INTEGER NOT NULL REFERENCES policies(id) ON DELETE CASCADE,
    repository_id INTEGER NOT NULL REFERENCES repositories(id),
    position INTEGER NOT NULL,
    PRIMARY KEY (policy_id, repository_id)
);
CREATE INDEX policy_copies_repository ON policy_copies(repository_id);
