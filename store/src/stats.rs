//! Statistics read from stored archives, jobs and repository totals: daily buckets, size points,
//! the last backup of every series, job outcome counts; plus the repository capacity.

use crate::db::{params, OptionalExtension};
use crate::{parse_opt_ts, parse_ts, ts, Result, Store, StoreError};
use chrono::{DateTime, NaiveDate, Utc};
use model::*;
use std::collections::BTreeMap;

/// How daily statistics are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatsGroup {
    /// One series for everything.
    #[default]
    All,
    Repository,
    Client,
    Policy,
}

impl StatsGroup {
    fn column(self) -> &'static str {
        match self {
            StatsGroup::All => "0",
            StatsGroup::Repository => "COALESCE(repository_id, 0)",
            StatsGroup::Client => "COALESCE(client_id, 0)",
            StatsGroup::Policy => "COALESCE(policy_id, 0)",
        }
    }
}

/// Restricts statistics to one repository, client and/or policy, and to the series a
/// non-superuser reaches.
#[derive(Debug, Clone, Default)]
pub struct StatsFilter {
    pub repository: Option<RepositoryId>,
    pub client: Option<ClientId>,
    pub policy: Option<PolicyId>,
    /// Only series a non-superuser reaches (`None`: every series).
    pub scope: Option<std::sync::Arc<model::Visibility>>,
}

impl StatsFilter {
    fn scope_sql(&self, client: &str, policy: &str) -> String {
        self.scope.as_deref().map_or_else(
            || "1 = 1".to_string(),
            |v| crate::access::series_sql(v, client, policy),
        )
    }
}

/// One day of one series: archive sizes made that day and backup job outcomes finished that day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyStat {
    pub date: NaiveDate,
    pub original_size: i64,
    pub compressed_size: i64,
    pub deduplicated_size: i64,
    pub nfiles: i64,
    pub archives: i64,
    pub success: i64,
    pub failed: i64,
}

impl DailyStat {
    fn empty(date: NaiveDate) -> Self {
        DailyStat {
            date,
            original_size: 0,
            compressed_size: 0,
            deduplicated_size: 0,
            nfiles: 0,
            archives: 0,
            success: 0,
            failed: 0,
        }
    }
}

/// A series of daily statistics with a point for every day of the range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailySeries {
    /// Id of the repository, client or policy; 0 for `StatsGroup::All` or a deleted object.
    pub key: i64,
    pub label: String,
    pub points: Vec<DailyStat>,
}

/// Sizes at one moment (repository totals, or one archive).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SizePoint {
    pub time: DateTime<Utc>,
    pub original_size: i64,
    pub compressed_size: i64,
    pub deduplicated_size: i64,
    pub nfiles: i64,
    /// Seconds the backup job took (archives only).
    pub duration: f64,
}

/// The latest state of one (policy, client) series.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesStatus {
    pub policy: PolicyId,
    pub policy_name: String,
    pub client: ClientId,
    pub hostname: String,
    pub repository: RepositoryId,
    pub repository_name: String,
    pub last_backup: Option<DateTime<Utc>>,
    pub last_status: Option<JobStatus>,
    pub last_success: Option<DateTime<Utc>>,
    pub original_size: i64,
    pub deduplicated_size: i64,
    pub catalog_state: Option<CatalogState>,
    pub archives: i64,
    /// Anomaly flagged by the catalog on the latest archive (empty when none).
    pub anomaly: String,
}

/// How many jobs of a type ended in a status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobOutcomeCount {
    pub job_type: String,
    pub status: String,
    pub count: i64,
}

impl Store {
    /// Daily statistics from `from` (inclusive) to `to` (exclusive), one series per group.
    pub fn daily_stats(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        group: StatsGroup,
        filter: StatsFilter,
    ) -> Result<Vec<DailySeries>> {
        if to <= from || (to - from).num_days() > 3660 {
            return Err(StoreError::Validation(ValidationErrors::single(
                "to",
                "the range must be from 1 day to 10 years",
            )));
        }
        let (f, t) = (from.to_string(), to.to_string());
        let fl = (
            filter.repository.map(|r| r.0),
            filter.client.map(|c| c.0),
            filter.policy.map(|p| p.0),
        );
        let mut days: BTreeMap<(i64, NaiveDate), DailyStat> = BTreeMap::new();
        let conn = self.read();
        {
            let mut st = conn.prepare(&format!(
                "SELECT {g}, substr(time, 1, 10), SUM(original_size), SUM(compressed_size),
                   SUM(deduplicated_size), SUM(nfiles), COUNT(*) FROM archives
                 WHERE time >= ?1 AND time < ?2 AND (repository_id = ?3 OR ?3 IS NULL)
                   AND (client_id = ?4 OR ?4 IS NULL) AND (policy_id = ?5 OR ?5 IS NULL) AND {s}
                 GROUP BY 1, 2",
                g = group.column(),
                s = filter.scope_sql("client_id", "policy_id")
            ))?;
            let mut rows = st.query(params![f, t, fl.0, fl.1, fl.2])?;
            while let Some(r) = rows.next()? {
                let Some(date) = parse_day(&r.get::<_, String>(1)?) else {
                    continue;
                };
                let d = days
                    .entry((r.get(0)?, date))
                    .or_insert_with(|| DailyStat::empty(date));
                d.original_size += r.get::<_, i64>(2)?;
                d.compressed_size += r.get::<_, i64>(3)?;
                d.deduplicated_size += r.get::<_, i64>(4)?;
                d.nfiles += r.get::<_, i64>(5)?;
                d.archives += r.get::<_, i64>(6)?;
            }
            let mut st = conn.prepare(&format!(
                "SELECT {g}, substr(finished, 1, 10), SUM(CASE WHEN status = 'successful' THEN 1 ELSE 0 END),
                   SUM(CASE WHEN status IN ('failed', 'error') THEN 1 ELSE 0 END) FROM jobs
                 WHERE job_type = 'job' AND finished >= ?1 AND finished < ?2
                   AND (repository_id = ?3 OR ?3 IS NULL) AND (client_id = ?4 OR ?4 IS NULL)
                   AND (policy_id = ?5 OR ?5 IS NULL) AND {s}
                 GROUP BY 1, 2",
                g = group.column(),
                s = filter.scope_sql("client_id", "policy_id")
            ))?;
            let mut rows = st.query(params![f, t, fl.0, fl.1, fl.2])?;
            while let Some(r) = rows.next()? {
                let Some(date) = parse_day(&r.get::<_, String>(1)?) else {
                    continue;
                };
                let d = days
                    .entry((r.get(0)?, date))
                    .or_insert_with(|| DailyStat::empty(date));
                d.success += r.get::<_, i64>(2)?;
                d.failed += r.get::<_, i64>(3)?;
            }
        }
        let mut keys: Vec<i64> = days.keys().map(|(k, _)| *k).collect();
        keys.dedup();
        if group == StatsGroup::All && keys.is_empty() {
            keys.push(0);
        }
        let label_sql = match group {
            StatsGroup::All => None,
            StatsGroup::Repository => Some("SELECT name FROM repositories WHERE id = ?1"),
            StatsGroup::Client => Some("SELECT hostname FROM clients WHERE id = ?1"),
            StatsGroup::Policy => Some("SELECT name FROM policies WHERE id = ?1"),
        };
        let mut out = Vec::new();
        for key in keys {
            let label = match label_sql {
                None => "all".to_string(),
                Some(sql) => conn
                    .query_row(sql, [key], |r| r.get::<_, String>(0))
                    .optional()?
                    .unwrap_or_else(|| format!("deleted #{key}")),
            };
            let points = from
                .iter_days()
                .take_while(|d| *d < to)
                .map(|d| {
                    days.get(&(key, d))
                        .copied()
                        .unwrap_or_else(|| DailyStat::empty(d))
                })
                .collect();
            out.push(DailySeries { key, label, points });
        }
        Ok(out)
    }

    /// Repository totals recorded since `from`, oldest first.
    pub fn repository_size_history(
        &self,
        id: RepositoryId,
        from: DateTime<Utc>,
    ) -> Result<Vec<SizePoint>> {
        let conn = self.read();
        let mut st = conn.prepare(
            "SELECT time, original_size, compressed_size, deduplicated_size FROM repository_stats
             WHERE repository_id = ?1 AND time >= ?2 ORDER BY time, id",
        )?;
        let rows = st
            .query_map(params![id.0, ts(from)], |r| {
                Ok(SizePoint {
                    time: parse_ts(&r.get::<_, String>(0)?),
                    original_size: r.get(1)?,
                    compressed_size: r.get(2)?,
                    deduplicated_size: r.get(3)?,
                    nfiles: 0,
                    duration: 0.0,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Sizes, file counts and durations of archives made since `from`, oldest first.
    pub fn archive_size_points(
        &self,
        filter: StatsFilter,
        from: DateTime<Utc>,
    ) -> Result<Vec<SizePoint>> {
        let conn = self.read();
        let mut st = conn.prepare(&format!(
            "SELECT a.time, a.original_size, a.compressed_size, a.deduplicated_size, a.nfiles,
               COALESCE(j.elapsed, 0) FROM archives a LEFT JOIN jobs j ON j.id = a.job_id
             WHERE a.time >= ?1 AND (a.repository_id = ?2 OR ?2 IS NULL)
               AND (a.client_id = ?3 OR ?3 IS NULL) AND (a.policy_id = ?4 OR ?4 IS NULL) AND {}
             ORDER BY a.time, a.id",
            filter.scope_sql("a.client_id", "a.policy_id")
        ))?;
        let rows = st
            .query_map(
                params![
                    ts(from),
                    filter.repository.map(|r| r.0),
                    filter.client.map(|c| c.0),
                    filter.policy.map(|p| p.0)
                ],
                |r| {
                    Ok(SizePoint {
                        time: parse_ts(&r.get::<_, String>(0)?),
                        original_size: r.get(1)?,
                        compressed_size: r.get(2)?,
                        deduplicated_size: r.get(3)?,
                        nfiles: r.get(4)?,
                        duration: r.get(5)?,
                    })
                },
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// The capacity of a repository's storage in bytes: the one an administrator set, or else
    /// its current usage plus the free space measured on its filesystem after the last backup.
    pub fn repository_capacity(&self, id: RepositoryId) -> Result<Option<i64>> {
        self.read()
            .query_row(
                "SELECT COALESCE(capacity, deduplicated_size + free_space) FROM repositories WHERE id = ?1",
                [id.0],
                |r| r.get::<_, Option<i64>>(0),
            )
            .optional()?
            .ok_or_else(|| StoreError::not_found("repository", id))
    }

    /// Records the free bytes of the filesystem holding a repository.
    pub fn set_repository_free_space(&self, id: RepositoryId, bytes: i64) -> Result<()> {
        self.conn().execute(
            "UPDATE repositories SET free_space = ?2 WHERE id = ?1",
            params![id.0, bytes.max(0)],
        )?;
        Ok(())
    }

    /// Sets (or clears, with `None`) a repository's capacity in bytes.
    pub fn set_repository_capacity(&self, id: RepositoryId, bytes: Option<i64>) -> Result<()> {
        if bytes.is_some_and(|b| b <= 0) {
            return Err(StoreError::Validation(ValidationErrors::single(
                "capacity",
                "must be a positive number of bytes",
            )));
        }
        let n = self.conn().execute(
            "UPDATE repositories SET capacity = ?2 WHERE id = ?1",
            params![id.0, bytes],
        )?;
        if n == 0 {
            return Err(StoreError::not_found("repository", id));
        }
        Ok(())
    }

    /// The last backup of every (policy, client) pair, by policy then hostname.
    pub fn series_status(&self) -> Result<Vec<SeriesStatus>> {
        let conn = self.read();
        let mut st = conn.prepare(
            "SELECT p.id, p.name, c.id, c.hostname, r.id, r.name,
               (SELECT j.finished FROM jobs j WHERE j.policy_id = p.id AND j.client_id = c.id
                  AND j.job_type = 'job' AND j.finished IS NOT NULL ORDER BY j.finished DESC LIMIT 1),
               (SELECT j.status FROM jobs j WHERE j.policy_id = p.id AND j.client_id = c.id
                  AND j.job_type = 'job' AND j.finished IS NOT NULL ORDER BY j.finished DESC LIMIT 1),
               (SELECT MAX(j.finished) FROM jobs j WHERE j.policy_id = p.id AND j.client_id = c.id
                  AND j.job_type = 'job' AND j.status = 'successful'),
               a.original_size, a.deduplicated_size, a.catalog_state,
               (SELECT COUNT(*) FROM archives x WHERE x.policy_id = p.id AND x.client_id = c.id),
               a.anomaly
             FROM policies p JOIN policy_clients pc ON pc.policy_id = p.id
               JOIN clients c ON c.id = pc.client_id JOIN repositories r ON r.id = p.repository_id
               LEFT JOIN archives a ON a.id = (SELECT x.id FROM archives x WHERE x.policy_id = p.id
                  AND x.client_id = c.id ORDER BY x.time DESC, x.id DESC LIMIT 1)
             ORDER BY p.name, c.hostname",
        )?;
        let rows = st
            .query_map([], |r| {
                Ok(SeriesStatus {
                    policy: PolicyId(r.get(0)?),
                    policy_name: r.get(1)?,
                    client: ClientId(r.get(2)?),
                    hostname: r.get(3)?,
                    repository: RepositoryId(r.get(4)?),
                    repository_name: r.get(5)?,
                    last_backup: parse_opt_ts(r.get(6)?),
                    last_status: r.get::<_, Option<String>>(7)?.and_then(|s| s.parse().ok()),
                    last_success: parse_opt_ts(r.get(8)?),
                    original_size: r.get::<_, Option<i64>>(9)?.unwrap_or(0),
                    deduplicated_size: r.get::<_, Option<i64>>(10)?.unwrap_or(0),
                    catalog_state: r.get::<_, Option<String>>(11)?.and_then(|s| s.parse().ok()),
                    archives: r.get(12)?,
                    anomaly: r.get::<_, Option<String>>(13)?.unwrap_or_default(),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Finished jobs counted by type and status.
    pub fn job_outcome_counts(&self) -> Result<Vec<JobOutcomeCount>> {
        let conn = self.read();
        let mut st = conn.prepare(
            "SELECT job_type, status, COUNT(*) FROM jobs
             WHERE status IN ('successful', 'failed', 'error', 'canceled')
             GROUP BY 1, 2 ORDER BY 1, 2",
        )?;
        let rows = st
            .query_map([], |r| {
                Ok(JobOutcomeCount {
                    job_type: r.get(0)?,
                    status: r.get(1)?,
                    count: r.get(2)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// The last `n` output lines of a job, in order.
    pub fn job_output_tail(&self, id: JobId, n: i64) -> Result<Vec<String>> {
        let conn = self.read();
        let mut st = conn.prepare(
            "SELECT text FROM (SELECT seq, text FROM job_events WHERE job_id = ?1
               ORDER BY seq DESC LIMIT ?2) ORDER BY seq",
        )?;
        let rows = st
            .query_map(params![id.0, n], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(rows)
    }

    /// How many jobs of a policy are not finished yet (any type).
    pub fn unfinished_jobs_of_policy(&self, policy: PolicyId) -> Result<i64> {
        Ok(self.read().query_row(
            "SELECT COUNT(*) FROM jobs WHERE policy_id = ?1
               AND status IN ('pending', 'waiting', 'running')",
            [policy.0],
            |r| r.get(0),
        )?)
    }
}

fn parse_day(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}
