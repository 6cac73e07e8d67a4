//! What fleet health and policy readiness read: every series (policy × client) with its
//! schedule, enabled flags, last backups and last restore drill, and the record of overdue
//! alerts already sent (migration 0017).

use crate::db::params;
use crate::{parse_opt_ts, parse_ts, ts, Result, Store};
use chrono::{DateTime, Utc};
use model::*;

/// One series as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesRow {
    pub policy: PolicyId,
    pub policy_name: String,
    pub policy_created: DateTime<Utc>,
    pub client: ClientId,
    pub hostname: String,
    pub repository: RepositoryId,
    pub repository_name: String,
    pub crontab: String,
    /// Policy, client, schedule and repository all enabled.
    pub enabled: bool,
    pub last_success: Option<DateTime<Utc>>,
    pub last_success_job: Option<JobId>,
    /// The last finished backup of the series, successful or not.
    pub last_job: Option<JobId>,
    pub last_status: Option<JobStatus>,
    pub last_explanation: String,
    pub last_finished: Option<DateTime<Utc>>,
    /// Verdict of the last restore drill (`passed`/`failed`) and when it ran.
    pub drill_verdict: Option<String>,
    pub drill_time: Option<DateTime<Utc>>,
    /// Bytes used and capacity (set, or used + measured free space) of the repository.
    pub repository_used: i64,
    pub repository_capacity: Option<i64>,
    /// Archives vanished from the repository without a prune by this server.
    pub repository_tampered: bool,
}

impl Store {
    /// Every series, by policy name then hostname.
    pub fn series_rows(&self) -> Result<Vec<SeriesRow>> {
        let conn = self.read();
        let mut st = conn.prepare(
            "SELECT p.id, p.name, p.created, c.id, c.hostname, r.id, r.name, s.crontab,
               (p.enabled <> 0 AND c.enabled <> 0 AND s.enabled <> 0 AND r.enabled <> 0),
               ok.finished, ok.id, last.id, last.status, last.job_explanation, last.finished,
               d.verdict, d.created, r.deduplicated_size,
               COALESCE(r.capacity, r.deduplicated_size + r.free_space),
               r.tamper_state = 'tampered'
             FROM policies p JOIN policy_clients pc ON pc.policy_id = p.id
               JOIN clients c ON c.id = pc.client_id
               JOIN repositories r ON r.id = p.repository_id
               JOIN schedules s ON s.id = p.schedule_id
               LEFT JOIN jobs ok ON ok.id = (SELECT j.id FROM jobs j WHERE j.policy_id = p.id
                  AND j.client_id = c.id AND j.job_type = 'job' AND j.status = 'successful'
                  ORDER BY j.finished DESC, j.id DESC LIMIT 1)
               LEFT JOIN jobs last ON last.id = (SELECT j.id FROM jobs j WHERE j.policy_id = p.id
                  AND j.client_id = c.id AND j.job_type = 'job' AND j.finished IS NOT NULL
                  ORDER BY j.finished DESC, j.id DESC LIMIT 1)
               LEFT JOIN restore_tests d ON d.id = (SELECT t.id FROM restore_tests t
                  WHERE t.policy_id = p.id AND t.client_id = c.id ORDER BY t.created DESC, t.id DESC LIMIT 1)
             ORDER BY p.name, c.hostname",
        )?;
        let rows = st
            .query_map([], |r| {
                Ok(SeriesRow {
                    policy: PolicyId(r.get(0)?),
                    policy_name: r.get(1)?,
                    policy_created: parse_ts(&r.get::<_, String>(2)?),
                    client: ClientId(r.get(3)?),
                    hostname: r.get(4)?,
                    repository: RepositoryId(r.get(5)?),
                    repository_name: r.get(6)?,
                    crontab: r.get(7)?,
                    enabled: r.get(8)?,
                    last_success: parse_opt_ts(r.get(9)?),
                    last_success_job: r.get::<_, Option<i64>>(10)?.map(JobId),
                    last_job: r.get::<_, Option<i64>>(11)?.map(JobId),
                    last_status: r.get::<_, Option<String>>(12)?.and_then(|s| s.parse().ok()),
                    last_explanation: r.get::<_, Option<String>>(13)?.unwrap_or_default(),
                    last_finished: parse_opt_ts(r.get(14)?),
                    drill_verdict: r.get(15)?,
                    drill_time: parse_opt_ts(r.get(16)?),
                    repository_used: r.get(17)?,
                    repository_capacity: r.get(18)?,
                    repository_tampered: r.get(19)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Records that the overdue alert of a series was queued for the state it is in since
    /// `last_success` (none: never backed up). Returns false when it was already recorded, so
    /// that each overdue episode alerts once, across restarts.
    pub fn record_overdue_alert(
        &self,
        policy: PolicyId,
        client: ClientId,
        last_success: Option<DateTime<Utc>>,
    ) -> Result<bool> {
        let since = last_success.map(ts).unwrap_or_default();
        let n = self.conn().execute(
            "INSERT INTO overdue_alerts (policy_id, client_id, last_success, alerted)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (policy_id, client_id) DO UPDATE SET last_success = excluded.last_success,
               alerted = excluded.alerted
             WHERE overdue_alerts.last_success <> excluded.last_success",
            params![policy.0, client.0, since, ts(Utc::now())],
        )?;
        Ok(n > 0)
    }
}

impl Store {
    /// The last finished job of `job_type` for a client or a repository.
    pub fn last_finished_job(
        &self,
        job_type: JobType,
        client: Option<ClientId>,
        repository: Option<RepositoryId>,
    ) -> Result<Option<Job>> {
        let conn = self.conn();
        let sql = format!(
            "SELECT {} FROM jobs WHERE job_type = ?1 AND finished IS NOT NULL
               AND (client_id = ?2 OR ?2 IS NULL) AND (repository_id = ?3 OR ?3 IS NULL)
             ORDER BY finished DESC, id DESC LIMIT 1",
            crate::jobs::JOB_COLS
        );
        let mut st = conn.prepare(&sql)?;
        let mut rows = st.query_map(
            params![
                job_type.as_str(),
                client.map(|c| c.0),
                repository.map(|r| r.0)
            ],
            crate::jobs::job_row,
        )?;
        Ok(rows.next().transpose()?)
    }
}
