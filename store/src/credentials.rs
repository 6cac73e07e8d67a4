//! Per-(client, repository) SSH credentials: the private key sealed with the master key, the
//! public key and where its restricted `authorized_keys` line was installed. A pair is *wanted*
//! while some policy writes the client into the repository; other rows wait for their line's
//! removal from the repository host.

use crate::db::{params, OptionalExtension, Row};
use crate::{now, parse_opt_ts, Result, Store};
use chrono::{DateTime, Utc};
use model::{ClientId, RepositoryId, Secret};

/// One (client, repository) credential, without its private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryCredential {
    pub client: ClientId,
    pub repository: RepositoryId,
    /// `ssh-ed25519 AAAA…`, no comment.
    pub public_key: String,
    /// The comment ending the line: `cyborg:<client hostname>:<repository id>`.
    pub tag: String,
    /// The repository location the line was installed for; `None` until installed.
    pub installed_location: Option<String>,
    pub installed: Option<DateTime<Utc>>,
}

const COLS: &str = "client_id, repository_id, public_key, tag, installed_location, installed";

fn row(r: &Row) -> rusqlite::Result<RepositoryCredential> {
    Ok(RepositoryCredential {
        client: ClientId(r.get(0)?),
        repository: RepositoryId(r.get(1)?),
        public_key: r.get(2)?,
        tag: r.get(3)?,
        installed_location: r.get(4)?,
        installed: parse_opt_ts(r.get(5)?),
    })
}

/// Rows whose pair no policy wants any longer (client left every policy of the repository,
/// policy or client deleted, policy moved to another repository).
/// (policy_id, repository_id) of every repository a policy writes into: its primary and its
/// copies.
const POLICY_REPOSITORIES: &str = "(SELECT id AS policy_id, repository_id FROM policies
    UNION SELECT policy_id, repository_id FROM policy_copies)";

/// A credential no policy wants: no policy writes its client into its repository.
fn unwanted() -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM {POLICY_REPOSITORIES} p
         JOIN policy_clients pc ON pc.policy_id = p.policy_id
         WHERE p.repository_id = c.repository_id AND pc.client_id = c.client_id)"
    )
}

impl Store {
    /// The credential of a pair, if one was made.
    pub fn repository_credential(
        &self,
        client: ClientId,
        repository: RepositoryId,
    ) -> Result<Option<RepositoryCredential>> {
        Ok(self
            .read()
            .query_row(
                &format!(
                    "SELECT {COLS} FROM repository_credentials c
                     WHERE client_id = ?1 AND repository_id = ?2"
                ),
                params![client.0, repository.0],
                row,
            )
            .optional()?)
    }

    /// The unsealed private key (OpenSSH PEM) of a pair.
    pub fn repository_credential_key(
        &self,
        client: ClientId,
        repository: RepositoryId,
    ) -> Result<Option<Secret>> {
        let sealed: Option<Vec<u8>> = self
            .read()
            .query_row(
                "SELECT private_key FROM repository_credentials
                 WHERE client_id = ?1 AND repository_id = ?2",
                params![client.0, repository.0],
                |r| r.get(0),
            )
            .optional()?;
        sealed.map(|s| self.key().open(&s)).transpose()
    }

    /// Stores a new pair's key; a pair that already has one keeps it (the stored one is
    /// returned either way).
    pub fn create_repository_credential(
        &self,
        client: ClientId,
        repository: RepositoryId,
        private_key: &Secret,
        public_key: &str,
        tag: &str,
    ) -> Result<RepositoryCredential> {
        let sealed = self.key().seal(private_key.expose())?;
        self.conn().execute(
            "INSERT OR IGNORE INTO repository_credentials
             (client_id, repository_id, private_key, public_key, tag, created)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![client.0, repository.0, sealed, public_key, tag, now()],
        )?;
        self.repository_credential(client, repository)?
            .ok_or_else(|| crate::StoreError::not_found("repository credential", client))
    }

    /// Records where the pair's line is installed (`None`: it is installed nowhere).
    pub fn set_repository_credential_installed(
        &self,
        client: ClientId,
        repository: RepositoryId,
        location: Option<&str>,
        tag: &str,
    ) -> Result<()> {
        self.conn().execute(
            "UPDATE repository_credentials SET installed_location = ?3, installed = ?4, tag = ?5
             WHERE client_id = ?1 AND repository_id = ?2",
            params![
                client.0,
                repository.0,
                location,
                location.map(|_| now()),
                tag
            ],
        )?;
        Ok(())
    }

    /// Forgets a pair (after its line was removed from the repository host).
    pub fn delete_repository_credential(
        &self,
        client: ClientId,
        repository: RepositoryId,
    ) -> Result<()> {
        self.conn().execute(
            "DELETE FROM repository_credentials WHERE client_id = ?1 AND repository_id = ?2",
            params![client.0, repository.0],
        )?;
        Ok(())
    }

    /// Whether some policy writes `client` into `repository`.
    pub fn repository_pair_wanted(
        &self,
        client: ClientId,
        repository: RepositoryId,
    ) -> Result<bool> {
        Ok(self.read().query_row(
            &format!(
                "SELECT EXISTS (SELECT 1 FROM {POLICY_REPOSITORIES} p
                 JOIN policy_clients pc ON pc.policy_id = p.policy_id
                 WHERE p.repository_id = ?2 AND pc.client_id = ?1)"
            ),
            params![client.0, repository.0],
            |r| r.get(0),
        )?)
    }

    /// The clients some policy writes into `repository`.
    pub fn repository_pair_clients(&self, repository: RepositoryId) -> Result<Vec<ClientId>> {
        let conn = self.read();
        let mut st = conn.prepare(&format!(
            "SELECT DISTINCT pc.client_id FROM {POLICY_REPOSITORIES} p
             JOIN policy_clients pc ON pc.policy_id = p.policy_id
             WHERE p.repository_id = ?1 ORDER BY pc.client_id"
        ))?;
        let ids = st
            .query_map([repository.0], |r| r.get(0).map(ClientId))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(ids)
    }

    /// The repositories some policy writes `client` into.
    pub fn client_pair_repositories(&self, client: ClientId) -> Result<Vec<RepositoryId>> {
        let conn = self.read();
        let mut st = conn.prepare(&format!(
            "SELECT DISTINCT p.repository_id FROM {POLICY_REPOSITORIES} p
             JOIN policy_clients pc ON pc.policy_id = p.policy_id
             WHERE pc.client_id = ?1 ORDER BY p.repository_id"
        ))?;
        let ids = st
            .query_map([client.0], |r| r.get(0).map(RepositoryId))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(ids)
    }

    /// Credentials no policy wants any longer, oldest first.
    pub fn unwanted_repository_credentials(&self) -> Result<Vec<RepositoryCredential>> {
        let conn = self.read();
        let mut st = conn.prepare(&format!(
            "SELECT {COLS} FROM repository_credentials c WHERE {} ORDER BY created",
            unwanted()
        ))?;
        let rows = st.query_map([], row)?.collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use model::*;

    #[test]
    fn pairs_are_wanted_while_a_policy_writes_the_client_into_the_repository() {
        let dir = tempfile::tempdir().unwrap();
        let s = crate::testing::open(dir.path());
        let c = s
            .create_client(
                &ClientInput {
                    hostname: Some("web1".into()),
                    ..Default::default()
                },
                None,
            )
            .unwrap();
        let r = s
            .create_repository(
                &RepositoryInput {
                    name: Some("r".into()),
                    path: Some("root@repo:/srv/r".into()),
                    ..Default::default()
                },
                None,
            )
            .unwrap();
        let pem = Secret::new("-----BEGIN OPENSSH PRIVATE KEY-----\nx\n");
        let made = s
            .create_repository_credential(c.id, r.id, &pem, "ssh-ed25519 AAAA", "cyborg:web1:1")
            .unwrap();
        assert_eq!(made.installed_location, None);
        // A second creation keeps the first key.
        let again = s
            .create_repository_credential(
                c.id,
                r.id,
                &Secret::new("other"),
                "ssh-ed25519 BBBB",
                "t",
            )
            .unwrap();
        assert_eq!(again.public_key, "ssh-ed25519 AAAA");
        assert_eq!(
            s.repository_credential_key(c.id, r.id)
                .unwrap()
                .unwrap()
                .expose(),
            pem.expose()
        );
        // No policy: unwanted.
        assert!(!s.repository_pair_wanted(c.id, r.id).unwrap());
        assert_eq!(s.unwanted_repository_credentials().unwrap().len(), 1);
        s.set_repository_credential_installed(
            c.id,
            r.id,
            Some("root@repo:/srv/r"),
            "cyborg:web1:1",
        )
        .unwrap();
        let got = s.repository_credential(c.id, r.id).unwrap().unwrap();
        assert_eq!(got.installed_location.as_deref(), Some("root@repo:/srv/r"));
        assert!(got.installed.is_some());
        // Deleting the client keeps the row until the line is removed.
        s.delete_client(c.id).unwrap();
        assert_eq!(s.unwanted_repository_credentials().unwrap().len(), 1);
        s.delete_repository_credential(c.id, r.id).unwrap();
        assert!(s.unwanted_repository_credentials().unwrap().is_empty());
    }

    #[test]
    fn a_copy_repository_wants_the_pair_like_the_primary() {
        let dir = tempfile::tempdir().unwrap();
        let s = crate::testing::open(dir.path());
        let c = s
            .create_client(
                &ClientInput {
                    hostname: Some("web1".into()),
                    ..Default::default()
                },
                None,
            )
            .unwrap();
        let repo = |name: &str| {
            s.create_repository(
                &RepositoryInput {
                    name: Some(name.into()),
                    path: Some(format!("root@repo:/srv/{name}")),
                    ..Default::default()
                },
                None,
            )
            .unwrap()
        };
        let (primary, copy) = (repo("primary"), repo("copy"));
        let sched = s
            .create_schedule(
                &model::ScheduleInput {
                    name: Some("n".into()),
                    crontab: Some("0 3 * * *".into()),
                    enabled: None,
                },
                None,
            )
            .unwrap();
        s.create_policy(
            &model::PolicyInput {
                name: Some("p".into()),
                policy_type: Some("folders".into()),
                extra_vars: Some(r#"{"folders": ["/srv"]}"#.into()),
                clients: Some(vec![c.id.0]),
                repository: Some(primary.id.0),
                copies: Some(vec![model::CopyInput::id(copy.id.0)]),
                schedule: Some(sched.id.0),
                ..Default::default()
            },
            None,
        )
        .unwrap();
        let pem = Secret::new("k");
        s.create_repository_credential(c.id, copy.id, &pem, "ssh-ed25519 AAAA", "t")
            .unwrap();
        assert!(s.repository_pair_wanted(c.id, copy.id).unwrap());
        assert!(s.unwanted_repository_credentials().unwrap().is_empty());
        assert_eq!(s.repository_pair_clients(copy.id).unwrap(), vec![c.id]);
        assert_eq!(
            s.client_pair_repositories(c.id).unwrap(),
            vec![primary.id, copy.id]
        );
    }
}
