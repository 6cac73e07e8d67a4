//! Repository trust: the recorded identity, the tamper mark and its clearing, the last good
//! transaction, archives pruned by this server, and anomaly acknowledgements.

use crate::archives::{archive_row, ARCHIVE_COLS};
use crate::db::{params, OptionalExtension};
use crate::{now, parse_opt_ts, Result, Store, StoreError};
use model::*;
use std::collections::HashSet;

impl Store {
    /// The trust record of a repository.
    pub fn repository_security(&self, id: RepositoryId) -> Result<RepositorySecurity> {
        self.conn()
            .query_row(
                "SELECT borg_id, encryption_mode, tamper_state, tampered_archives, tampered_at,
                        tamper_cleared_at, tamper_cleared_by, last_good_transaction, last_good_at
                 FROM repositories WHERE id = ?1",
                [id.0],
                |r| {
                    Ok(RepositorySecurity {
                        repository: id,
                        identity: RepositoryIdentity {
                            borg_id: r.get(0)?,
                            encryption_mode: r.get(1)?,
                        },
                        tamper: TamperState::parse(&r.get::<_, String>(2)?),
                        tampered_archives: serde_json::from_str(&r.get::<_, String>(3)?)
                            .unwrap_or_default(),
                        tampered_at: parse_opt_ts(r.get(4)?),
                        tamper_cleared_at: parse_opt_ts(r.get(5)?),
                        tamper_cleared_by: r.get::<_, Option<i64>>(6)?.map(UserId),
                        last_good_transaction: r.get(7)?,
                        last_good_at: parse_opt_ts(r.get(8)?),
                    })
                },
            )
            .optional()?
            .ok_or_else(|| StoreError::not_found("repository", id))
    }

    /// Records the identity borg reported at preparation (or on first verification).
    pub fn record_repository_identity(
        &self,
        id: RepositoryId,
        identity: &RepositoryIdentity,
    ) -> Result<()> {
        let n = self.conn().execute(
            "UPDATE repositories SET borg_id = ?2, encryption_mode = ?3 WHERE id = ?1",
            params![id.0, identity.borg_id, identity.encryption_mode],
        )?;
        if n == 0 {
            return Err(StoreError::not_found("repository", id));
        }
        Ok(())
    }

    /// Marks a repository tampered: these archives vanished without a prune by this server.
    pub fn mark_repository_tampered(&self, id: RepositoryId, missing: &[String]) -> Result<()> {
        let names = serde_json::to_string(missing).unwrap_or_else(|_| "[]".into());
        self.conn().execute(
            "UPDATE repositories SET tamper_state = 'tampered', tampered_archives = ?2,
                 tampered_at = ?3, tamper_cleared_at = NULL, tamper_cleared_by = NULL
             WHERE id = ?1",
            params![id.0, names, now()],
        )?;
        Ok(())
    }

    /// An administrator clears the tamper mark after recovery: the next prune takes the
    /// repository's archive list as it then is. Conflict when the repository is not marked.
    pub fn clear_repository_tamper(
        &self,
        id: RepositoryId,
        by: Option<UserId>,
    ) -> Result<RepositorySecurity> {
        let current = self.repository_security(id)?;
        if current.tamper != TamperState::Tampered {
            return Err(StoreError::Conflict(format!(
                "repository {id} is not marked tampered"
            )));
        }
        self.conn().execute(
            "UPDATE repositories SET tamper_state = 'cleared', tamper_cleared_at = ?2,
                 tamper_cleared_by = ?3 WHERE id = ?1 AND tamper_state = 'tampered'",
            params![id.0, now(), by.map(|u| u.0)],
        )?;
        self.repository_security(id)
    }

    /// Ends the `cleared` state once a prune accepted the repository's archive list.
    pub fn finish_tamper_clearing(&self, id: RepositoryId) -> Result<()> {
        self.conn().execute(
            "UPDATE repositories SET tamper_state = '' WHERE id = ?1 AND tamper_state = 'cleared'",
            [id.0],
        )?;
        Ok(())
    }

    /// Records the repository's last transaction seen with every known archive present.
    pub fn set_last_good_transaction(&self, id: RepositoryId, transaction: i64) -> Result<()> {
        self.conn().execute(
            "UPDATE repositories SET last_good_transaction = ?2, last_good_at = ?3 WHERE id = ?1",
            params![id.0, transaction, now()],
        )?;
        Ok(())
    }

    /// Marks archives as deleted by this server's prune (`true`) or present again (`false`).
    pub fn set_archives_pruned(&self, ids: &[ArchiveId], pruned: bool) -> Result<()> {
        let conn = self.conn();
        let mut st = conn.prepare("UPDATE archives SET pruned = ?2 WHERE id = ?1")?;
        for id in ids {
            st.execute(params![id.0, pruned])?;
        }
        Ok(())
    }

    /// The archives of a repository this server's prune deleted and has not forgotten yet.
    pub fn pruned_archives(&self, repository: RepositoryId) -> Result<HashSet<ArchiveId>> {
        let conn = self.conn();
        let mut st =
            conn.prepare("SELECT id FROM archives WHERE repository_id = ?1 AND pruned = 1")?;
        let ids = st
            .query_map([repository.0], |r| r.get(0).map(ArchiveId))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(ids)
    }

    /// Flagged archives of a series no administrator acknowledged yet, newest first: while
    /// any is left, prune and compact of the series wait.
    pub fn unacknowledged_anomalies(&self, series: SeriesKey) -> Result<Vec<Archive>> {
        let conn = self.conn();
        let mut st = conn.prepare(&format!(
            "SELECT {ARCHIVE_COLS} FROM archives WHERE repository_id = ?1 AND policy_id = ?2
               AND client_id = ?3 AND anomaly != '' AND anomaly_acknowledged_at IS NULL
             ORDER BY time DESC, id DESC"
        ))?;
        let rows = st
            .query_map(
                params![series.repository.0, series.policy.0, series.client.0],
                archive_row,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// An administrator acknowledges an archive's anomaly (its series may be pruned again).
    pub fn acknowledge_anomaly(&self, id: ArchiveId, by: Option<UserId>) -> Result<Archive> {
        let a = self.archive(id)?;
        if a.anomaly.is_empty() {
            return Err(ValidationErrors::single(
                "archive",
                format!("archive {} has no anomaly to acknowledge", a.name),
            )
            .into());
        }
        self.conn().execute(
            "UPDATE archives SET anomaly_acknowledged_at = COALESCE(anomaly_acknowledged_at, ?2),
                 anomaly_acknowledged_by = COALESCE(anomaly_acknowledged_by, ?3) WHERE id = ?1",
            params![id.0, now(), by.map(|u| u.0)],
        )?;
        self.archive(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ArchiveSizes;

    fn setup() -> (tempfile::TempDir, Store, SeriesKey) {
        let dir = tempfile::tempdir().unwrap();
        let s = crate::testing::open(dir.path());
        let c = s
            .create_client(
                &ClientInput {
                    hostname: Some("h".into()),
                    ..Default::default()
                },
                None,
            )
            .unwrap();
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
                    crontab: Some("0 3 * * *".into()),
                    ..Default::default()
                },
                None,
            )
            .unwrap();
        let p = s
            .create_policy(
                &PolicyInput {
                    name: Some("p".into()),
                    policy_type: Some("folders".into()),
                    extra_vars: Some(r#"{"folders": ["/etc"]}"#.into()),
                    clients: Some(vec![c.id.0]),
                    repository: Some(r.id.0),
                    schedule: Some(sc.id.0),
                    ..Default::default()
                },
                None,
            )
            .unwrap();
        let series = SeriesKey {
            repository: r.id,
            policy: p.id,
            client: c.id,
        };
        (dir, s, series)
    }

    #[test]
    fn tamper_mark_is_set_cleared_and_finished() {
        let (_d, s, series) = setup();
        let id = series.repository;
        assert_eq!(
            s.repository_security(id).unwrap().tamper,
            TamperState::Clean
        );
        assert!(matches!(
            s.clear_repository_tamper(id, None),
            Err(StoreError::Conflict(_))
        ));
        s.mark_repository_tampered(id, &["a-1".into(), "a-2".into()])
            .unwrap();
        let t = s.repository_security(id).unwrap();
        assert_eq!(t.tamper, TamperState::Tampered);
        assert_eq!(t.tampered_archives, vec!["a-1", "a-2"]);
        assert!(t.tampered_at.is_some());
        let c = s.clear_repository_tamper(id, None).unwrap();
        assert_eq!(c.tamper, TamperState::Cleared);
        s.finish_tamper_clearing(id).unwrap();
        assert_eq!(
            s.repository_security(id).unwrap().tamper,
            TamperState::Clean
        );
        s.record_repository_identity(
            id,
            &RepositoryIdentity {
                borg_id: "ab".into(),
                encryption_mode: "repokey".into(),
            },
        )
        .unwrap();
        s.set_last_good_transaction(id, 42).unwrap();
        let r = s.repository_security(id).unwrap();
        assert_eq!(r.identity.borg_id, "ab");
        assert_eq!(r.last_good_transaction, Some(42));
    }

    #[test]
    fn anomalies_pause_until_acknowledged() {
        let (_d, s, series) = setup();
        let t = chrono::Utc::now();
        let a = s
            .record_archive("a", series, None, t, ArchiveSizes::default())
            .unwrap();
        assert!(s.acknowledge_anomaly(a.id, None).is_err(), "no anomaly");
        s.set_archive_anomaly(a.id, "70% of entries removed")
            .unwrap();
        let open = s.unacknowledged_anomalies(series).unwrap();
        assert_eq!(open.len(), 1);
        let acked = s.acknowledge_anomaly(a.id, None).unwrap();
        assert!(acked.anomaly_acknowledged_at.is_some());
        assert!(s.unacknowledged_anomalies(series).unwrap().is_empty());
        s.set_archives_pruned(&[a.id], true).unwrap();
        assert!(s
            .pruned_archives(series.repository)
            .unwrap()
            .contains(&a.id));
        s.set_archives_pruned(&[a.id], false).unwrap();
        assert!(s.pruned_archives(series.repository).unwrap().is_empty());
    }
}
