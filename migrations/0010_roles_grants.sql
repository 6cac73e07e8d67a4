-- Roles and per-client/per-policy grants. Superusers keep their role; every other existing user
-- becomes a viewer without grants (sees nothing until a superuser grants clients or policies):
-- before roles they could download and restore every file of every archive, so no access is
-- carried over implicitly.
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'viewer'
    CHECK (role IN ('superuser', 'operator', 'viewer'));
UPDATE users SET role = 'superuser' WHERE is_superuser = 1;

CREATE TABLE user_grants (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id  INTEGER REFERENCES clients(id) ON DELETE CASCADE,
    policy_id  INTEGER REFERENCES policies(id) ON DELETE CASCADE,
    restore    INTEGER NOT NULL DEFAULT 0,
    CHECK ((client_id IS NULL) <> (policy_id IS NULL))
);
CREATE UNIQUE INDEX user_grants_client ON user_grants(user_id, client_id) WHERE client_id IS NOT NULL;
CREATE UNIQUE INDEX user_grants_policy ON user_grants(user_id, policy_id) WHERE policy_id IS NOT NULL;
