//! Archives made by backup jobs and the state of their catalog ingestion.

use crate::db::{params, OptionalExtension, Row};
use crate::{parse_ts, ts, Result, Store, StoreError};
use chrono::{DateTime, Utc};
use model::*;

pub(crate) const ARCHIVE_COLS: &str =
    "id, name, repository_id, policy_id, client_id, job_id, time, original_size, compressed_size,
    deduplicated_size, nfiles, catalog_state, catalog_error, catalog_entries, anomaly,
    anomaly_acknowledged_at";

pub(crate) fn archive_row(r: &Row) -> rusqlite::Result<Archive> {
    Ok(Archive {
        id: ArchiveId(r.get(0)?),
        name: r.get(1)?,
        repository: RepositoryId(r.get(2)?),
        policy: PolicyId(r.get(3)?),
        client: ClientId(r.get(4)?),
        job: r.get::<_, Option<i64>>(5)?.map(JobId),
        time: parse_ts(&r.get::<_, String>(6)?),
        original_size: r.get(7)?,
        compressed_size: r.get(8)?,
        deduplicated_size: r.get(9)?,
        nfiles: r.get(10)?,
        catalog_state: r
            .get::<_, String>(11)?
            .parse()
            .unwrap_or(CatalogState::Failed),
        catalog_error: r.get(12)?,
        catalog_entries: r.get(13)?,
        anomaly: r.get(14)?,
        anomaly_acknowledged_at: crate::parse_opt_ts(r.get(15)?),
    })
}

/// Sizes borg reported for a new archive.
#[derive(Debug, Clone, Copy, Default)]
pub struct ArchiveSizes {
    pub original: i64,
    pub compressed: i64,
    pub deduplicated: i64,
    pub nfiles: i64,
}

impl Store {
    /// Records an archive borg created (idempotent on repository + name).
    pub fn record_archive(
        &self,
        name: &str,
        series: SeriesKey,
        job: Option<JobId>,
        time: DateTime<Utc>,
        sizes: ArchiveSizes,
    ) -> Result<Archive> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO archives (name, repository_id, policy_id, client_id, job_id, time, original_size,
               compressed_size, deduplicated_size, nfiles)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (repository_id, name) DO NOTHING",
            params![name, series.repository.0, series.policy.0, series.client.0, job.map(|j| j.0), ts(time), sizes.original, sizes.compressed, sizes.deduplicated, sizes.nfiles],
        )?;
        let id: i64 = conn.query_row(
            "SELECT id FROM archives WHERE repository_id = ?1 AND name = ?2",
            params![series.repository.0, name],
            |r| r.get(0),
        )?;
        drop(conn);
        self.archive(ArchiveId(id))
    }

    pub fn archive(&self, id: ArchiveId) -> Result<Archive> {
        self.read()
            .query_row(
                &format!("SELECT {ARCHIVE_COLS} FROM archives WHERE id = ?1"),
                [id.0],
                archive_row,
            )
            .optional()?
            .ok_or_else(|| StoreError::not_found("archive", id))
    }

    /// Whether an archive name is taken in a repository: recorded, or claimed by a backup job
    /// (whose borg may have created it even if the job never reported back).
    pub fn archive_name_taken(&self, repository: RepositoryId, name: &str) -> Result<bool> {
        Ok(self.read().query_row(
            "SELECT EXISTS (SELECT 1 FROM archives WHERE repository_id = ?1 AND name = ?2)
                 OR EXISTS (SELECT 1 FROM jobs WHERE repository_id = ?1 AND archive_name = ?2 AND job_type = 'job')",
            params![repository.0, name],
            |r| r.get(0),
        )?)
    }

    pub fn archive_by_name(&self, repository: RepositoryId, name: &str) -> Result<Option<Archive>> {
        Ok(self
            .read()
            .query_row(
                &format!(
                    "SELECT {ARCHIVE_COLS} FROM archives WHERE repository_id = ?1 AND name = ?2"
                ),
                params![repository.0, name],
                archive_row,
            )
            .optional()?)
    }

    /// Archives, newest first, optionally of one repository / client / policy.
    pub fn archives(
        &self,
        repository: Option<RepositoryId>,
        client: Option<ClientId>,
        policy: Option<PolicyId>,
    ) -> Result<Vec<Archive>> {
        let conn = self.read();
        let mut st = conn.prepare(&format!(
            "SELECT {ARCHIVE_COLS} FROM archives WHERE (repository_id = ?1 OR ?1 IS NULL)
               AND (client_id = ?2 OR ?2 IS NULL) AND (policy_id = ?3 OR ?3 IS NULL) ORDER BY time DESC, id DESC"
        ))?;
        let rows = st
            .query_map(
                params![
                    repository.map(|r| r.0),
                    client.map(|c| c.0),
                    policy.map(|p| p.0)
                ],
                archive_row,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    pub fn set_catalog_state(
        &self,
        id: ArchiveId,
        state: CatalogState,
        error: &str,
        entries: Option<i64>,
    ) -> Result<()> {
        let n = self.conn().execute(
            "UPDATE archives SET catalog_state = ?2, catalog_error = ?3, catalog_entries = COALESCE(?4, catalog_entries) WHERE id = ?1",
            params![id.0, state.as_str(), error, entries],
        )?;
        if n == 0 {
            return Err(StoreError::not_found("archive", id));
        }
        Ok(())
    }

    /// Records why the catalog flagged an archive (empty: not an anomaly).
    pub fn set_archive_anomaly(&self, id: ArchiveId, reason: &str) -> Result<()> {
        self.conn().execute(
            "UPDATE archives SET anomaly = ?2 WHERE id = ?1",
            params![id.0, reason],
        )?;
        Ok(())
    }

    /// Forgets archives gone from the repository (after a successful listing only).
    pub fn delete_archive(&self, id: ArchiveId) -> Result<()> {
        self.conn()
            .execute("DELETE FROM archives WHERE id = ?1", [id.0])?;
        Ok(())
    }
}
