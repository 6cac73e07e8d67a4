//! Database passwords inside policies' `extra_vars`, sealed at rest: the `extra_vars` column holds
//! the masked text, `extra_vars_sealed` the secrets sealed with the master key. Only the executor
//! reads the full text back ([`Store::policy_extra_vars`]); clear values written by older
//! versions are sealed when the store opens.

use crate::db::{params, OptionalExtension};
use crate::{Result, Store, StoreError};
use model::policy_secrets::{merge_extra_vars, split_extra_vars};
use model::{PolicyId, Secret};
use serde_json::{Map, Value};

/// `extra_vars` as stored: the masked text and the sealed secrets, if any.
pub(crate) struct SealedVars {
    pub masked: String,
    pub sealed: Option<Vec<u8>>,
}

impl Store {
    /// Splits full `extra_vars` text for storage, sealing its secrets.
    pub(crate) fn seal_extra_vars(&self, full: &str) -> Result<SealedVars> {
        let split = split_extra_vars(full);
        let sealed = if split.secrets.is_empty() {
            None
        } else {
            let json = Value::Object(split.secrets).to_string();
            Some(self.key().seal(&json)?)
        };
        Ok(SealedVars {
            masked: split.masked,
            sealed,
        })
    }

    fn open_secrets(&self, sealed: Option<&[u8]>) -> Result<Map<String, Value>> {
        let Some(sealed) = sealed else {
            return Ok(Map::new());
        };
        let text = self.key().open(sealed)?;
        match serde_json::from_str::<Value>(text.expose()) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(StoreError::Crypto(
                "sealed policy secrets are not a JSON object".into(),
            )),
        }
    }

    /// Masked text and sealed secrets back into the full `extra_vars` text.
    pub(crate) fn unseal_extra_vars(&self, masked: &str, sealed: Option<&[u8]>) -> Result<Secret> {
        let secrets = self.open_secrets(sealed)?;
        Ok(Secret::new(merge_extra_vars(masked, &secrets)))
    }

    /// A policy's `extra_vars` with its secrets (database passwords), for the executor only:
    /// every API returns [`model::Policy::extra_vars`], where they are masked.
    pub fn policy_extra_vars(&self, id: PolicyId) -> Result<Secret> {
        let row: Option<(String, Option<Vec<u8>>)> = self
            .read()
            .query_row(
                "SELECT extra_vars, extra_vars_sealed FROM policies WHERE id = ?1",
                [id.0],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let (masked, sealed) = row.ok_or_else(|| StoreError::not_found("policy", id))?;
        self.unseal_extra_vars(&masked, sealed.as_deref())
    }

    /// Seals secrets that older versions stored in clear in `policies.extra_vars`; returns how
    /// many policies were rewritten. Overwritten pages are zeroed (`secure_delete`) and the WAL
    /// is truncated, so the clear values do not linger in the files.
    pub(crate) fn seal_clear_policy_secrets(&self, conn: &crate::db::Conn) -> Result<usize> {
        let rows: Vec<(i64, String, Option<Vec<u8>>)> = {
            let mut st = conn.prepare(
                "SELECT id, extra_vars, extra_vars_sealed FROM policies WHERE extra_vars <> ''",
            )?;

            st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?
        };
        let tx = conn.transaction()?;
        let mut n = 0;
        for (id, text, sealed) in rows {
            let split = split_extra_vars(&text);
            if split.secrets.is_empty() {
                continue;
            }
            // Clear values win over older sealed ones of the same key.
            let mut secrets = self.open_secrets(sealed.as_deref())?;
            secrets.extend(split.secrets);
            let blob = self.key().seal(&Value::Object(secrets).to_string())?;
            tx.execute(
                "UPDATE policies SET extra_vars = ?2, extra_vars_sealed = ?3 WHERE id = ?1",
                params![id, split.masked, blob],
            )?;
            n += 1;
        }
        tx.commit()?;
        if n > 0 {
            if let Some(c) = conn.sqlite() {
                // The clear text left the database file: also drop it from the WAL.
                c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            }
            tracing::info!(
                policies = n,
                "sealed database passwords found in clear in policies"
            );
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use crate::Store;
    use model::{PolicyInput, RepositoryId, RepositoryInput, ScheduleId, ScheduleInput};

    fn repo_and_schedule(s: &Store) -> (RepositoryId, ScheduleId) {
        let r = s
            .create_repository(
                &RepositoryInput {
                    name: Some("r".into()),
                    path: Some("/srv/r".into()),
                    ..Default::default()
                },
                None,
            )
            .unwrap();
        let sc = s
            .create_schedule(
                &ScheduleInput {
                    name: Some("s".into()),
                    crontab: Some("0 1 * * *".into()),
                    enabled: None,
                },
                None,
            )
            .unwrap();
        (r.id, sc.id)
    }

    #[test]
    fn clear_passwords_are_sealed_at_open_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let options = crate::testing::options(dir.path());
        let s = Store::open_with(&options).unwrap();
        let (repo, sched) = repo_and_schedule(&s);
        let p = s
            .create_policy(
                &PolicyInput {
                    name: Some("db".into()),
                    policy_type: Some("mysql".into()),
                    extra_vars: Some(r#"{"user":"root","password":"hunter2-secret"}"#.into()),
                    repository: Some(repo.0),
                    schedule: Some(sched.0),
                    ..Default::default()
                },
                None,
            )
            .unwrap();
        assert!(!p.extra_vars.contains("hunter2"), "{}", p.extra_vars);
        let full = s.policy_extra_vars(p.id).unwrap();
        assert!(full.expose().contains("hunter2-secret"));
        // An older version wrote the password in clear.
        s.conn()
            .execute(
                "UPDATE policies SET extra_vars = ?2, extra_vars_sealed = NULL WHERE id = ?1",
                crate::db::params![p.id.0, r#"{"user":"root","password":"old-clear-pw"}"#],
            )
            .unwrap();
        drop(s);
        let s = Store::open_with(&options).unwrap();
        let stored: String = s
            .conn()
            .query_row("SELECT extra_vars FROM policies", [], |r| r.get(0))
            .unwrap();
        assert!(!stored.contains("old-clear-pw"), "{stored}");
        let full = s.policy_extra_vars(p.id).unwrap();
        assert!(full.expose().contains("old-clear-pw"));
        // Sending the mask back keeps the password; a new value replaces it.
        let shown = s.policy(p.id).unwrap().extra_vars;
        let upd = |vars: &str| PolicyInput {
            extra_vars: Some(vars.into()),
            ..Default::default()
        };
        s.update_policy(p.id, &upd(&shown), None).unwrap();
        assert!(s
            .policy_extra_vars(p.id)
            .unwrap()
            .expose()
            .contains("old-clear-pw"));
        s.update_policy(p.id, &upd(r#"{"password":"new-pw"}"#), None)
            .unwrap();
        assert!(s
            .policy_extra_vars(p.id)
            .unwrap()
            .expose()
            .contains("new-pw"));
        s.update_policy(p.id, &upd(r#"{"user":"u"}"#), None)
            .unwrap();
        assert!(!s.policy_extra_vars(p.id).unwrap().expose().contains("pw"));
    }
}
