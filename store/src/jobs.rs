//! Jobs, their state transitions, and their output lines.

use crate::db::{params, OptionalExtension, Row};
use crate::{new_uuid, now, parse_opt_ts, parse_ts, ts, Result, Store, StoreError};
use chrono::{DateTime, Utc};
use model::*;
use std::collections::HashMap;

/// A job to create.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub name: String,
    pub job_type: JobType,
    pub policy: Option<PolicyId>,
    pub client: Option<ClientId>,
    pub repository: Option<RepositoryId>,
    pub archive_name: String,
    pub depends_on: Option<JobId>,
    pub launch_type: String,
    pub created_by: Option<UserId>,
    /// Job options as JSON text (e.g. `{"verify_data": true}` for a check).
    pub extra_vars: String,
}

/// One output line to store (already scrubbed of secrets).
#[derive(Debug, Clone)]
pub struct NewOutputLine {
    pub job: JobId,
    /// `stdout`, `stderr` or `system`.
    pub stream: String,
    pub text: String,
    /// When the line was printed.
    pub at: DateTime<Utc>,
}

/// Which jobs to list; `None` fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub policy: Option<PolicyId>,
    pub client: Option<ClientId>,
    pub status: Option<JobStatus>,
    pub job_type: Option<JobType>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
    /// Only jobs a non-superuser reaches (`None`: every job).
    pub scope: Option<std::sync::Arc<model::Visibility>>,
}

impl JobFilter {
    fn scope_sql(&self) -> String {
        self.scope
            .as_deref()
            .map_or_else(|| "1 = 1".to_string(), crate::access::job_sql)
    }
}

pub(crate) const JOB_COLS: &str = "id, name, job_type, status, policy_id, client_id, repository_id, archive_name, depends_on,
    launch_type, created, started, finished, elapsed, exit_code, job_explanation, original_size, compressed_size,
    deduplicated_size, nfiles, created_by, extra_vars, not_before, node";

pub(crate) fn job_row(r: &Row) -> rusqlite::Result<Job> {
    Ok(Job {
        id: JobId(r.get(0)?),
        name: r.get(1)?,
        job_type: r.get::<_, String>(2)?.parse().unwrap_or(JobType::Job),
        status: r.get::<_, String>(3)?.parse().unwrap_or(JobStatus::Error),
        policy: r.get::<_, Option<i64>>(4)?.map(PolicyId),
        client: r.get::<_, Option<i64>>(5)?.map(ClientId),
        repository: r.get::<_, Option<i64>>(6)?.map(RepositoryId),
        archive_name: r.get(7)?,
        depends_on: r.get::<_, Option<i64>>(8)?.map(JobId),
        launch_type: r.get(9)?,
        created: parse_ts(&r.get::<_, String>(10)?),
        started: parse_opt_ts(r.get(11)?),
        finished: parse_opt_ts(r.get(12)?),
        elapsed: r.get(13)?,
        exit_code: r.get(14)?,
        job_explanation: r.get(15)?,
        original_size: r.get(16)?,
        compressed_size: r.get(17)?,
        deduplicated_size: r.get(18)?,
        nfiles: r.get(19)?,
        created_by: r.get::<_, Option<i64>>(20)?.map(UserId),
        extra_vars: r.get(21)?,
        not_before: parse_opt_ts(r.get(22)?),
        node: r.get(23)?,
    })
}

impl Store {
    pub fn create_job(&self, j: &NewJob) -> Result<Job> {
        self.create_job_at(j, None)
    }

    /// Creates a job that the dispatcher does not start before `not_before` (when set).
    pub fn create_job_at(&self, j: &NewJob, not_before: Option<DateTime<Utc>>) -> Result<Job> {
        let conn = self.conn();
        let new_id = conn.insert(
            "INSERT INTO jobs (uuid, name, job_type, status, policy_id, client_id, repository_id, archive_name,
               depends_on, launch_type, created, created_by, extra_vars, not_before)
             VALUES (?1, ?2, ?3, 'pending', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            params![
                new_uuid(),
                j.name,
                j.job_type.as_str(),
                j.policy.map(|p| p.0),
                j.client.map(|c| c.0),
                j.repository.map(|r| r.0),
                j.archive_name,
                j.depends_on.map(|d| d.0),
                j.launch_type,
                now(),
                j.created_by.map(|u| u.0),
                j.extra_vars,
                not_before.map(ts)
            ],
        )?;
        let id = JobId(new_id);
        drop(conn);
        self.job(id)
    }

    pub fn job(&self, id: JobId) -> Result<Job> {
        self.read()
            .query_row(
                &format!("SELECT {JOB_COLS} FROM jobs WHERE id = ?1"),
                [id.0],
                job_row,
            )
            .optional()?
            .ok_or_else(|| StoreError::not_found("job", id))
    }

    pub fn jobs(&self, f: &JobFilter) -> Result<Vec<Job>> {
        let conn = self.read();
        let mut st = conn.prepare(&format!(
            "SELECT {JOB_COLS} FROM jobs WHERE (policy_id = ?1 OR ?1 IS NULL) AND (client_id = ?2 OR ?2 IS NULL)
               AND (status = ?3 OR ?3 IS NULL) AND (job_type = ?4 OR ?4 IS NULL) AND {scope}
             ORDER BY id DESC LIMIT ?5 OFFSET ?6",
            scope = f.scope_sql()
        ))?;
        let rows = st
            .query_map(
                params![
                    f.policy.map(|p| p.0),
                    f.client.map(|c| c.0),
                    f.status.map(|s| s.as_str()),
                    f.job_type.map(|t| t.as_str()),
                    f.limit.unwrap_or(i64::MAX),
                    f.offset.unwrap_or(0)
                ],
                job_row,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    pub fn count_jobs(&self, f: &JobFilter) -> Result<i64> {
        Ok(self.read().query_row(
            &format!("SELECT COUNT(*) FROM jobs WHERE (policy_id = ?1 OR ?1 IS NULL) AND (client_id = ?2 OR ?2 IS NULL)
               AND (status = ?3 OR ?3 IS NULL) AND (job_type = ?4 OR ?4 IS NULL) AND {}", f.scope_sql()),
            params![f.policy.map(|p| p.0), f.client.map(|c| c.0), f.status.map(|s| s.as_str()), f.job_type.map(|t| t.as_str())],
            |r| r.get(0),
        )?)
    }

    /// Jobs not finished yet, oldest first.
    pub fn unfinished_jobs(&self) -> Result<Vec<Job>> {
        let conn = self.read();
        let mut st = conn.prepare(&format!(
            "SELECT {JOB_COLS} FROM jobs WHERE status IN ('pending', 'waiting', 'running') ORDER BY id"
        ))?;
        let rows = st
            .query_map([], job_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Moves a job to `status`. Entering `running` stamps `started`; a final state stamps
    /// `finished`, `elapsed`, exit code and explanation. A finished job never changes again.
    pub fn set_job_status(
        &self,
        id: JobId,
        status: JobStatus,
        exit_code: Option<i32>,
        explanation: &str,
    ) -> Result<Job> {
        let job = self.job(id)?;
        if job.status.is_finished() {
            return Ok(job);
        }
        let n = Utc::now();
        let conn = self.conn();
        if status == JobStatus::Running {
            conn.execute(
                "UPDATE jobs SET status = ?2, started = ?3 WHERE id = ?1",
                params![id.0, status.as_str(), crate::ts(n)],
            )?;
        } else if status.is_finished() {
            let elapsed = job
                .started
                .map(|s| (n - s).num_milliseconds() as f64 / 1000.0)
                .unwrap_or(0.0);
            conn.execute(
                "UPDATE jobs SET status = ?2, finished = ?3, elapsed = ?4, exit_code = COALESCE(?5, exit_code),
                   job_explanation = ?6, lease_until = NULL WHERE id = ?1",
                params![id.0, status.as_str(), crate::ts(n), elapsed, exit_code, explanation],
            )?;
        } else {
            conn.execute(
                "UPDATE jobs SET status = ?2 WHERE id = ?1",
                params![id.0, status.as_str()],
            )?;
        }
        drop(conn);
        self.job(id)
    }

    pub fn set_job_archive_name(&self, id: JobId, name: &str) -> Result<()> {
        self.conn().execute(
            "UPDATE jobs SET archive_name = ?2 WHERE id = ?1",
            params![id.0, name],
        )?;
        Ok(())
    }

    pub fn set_job_sizes(
        &self,
        id: JobId,
        original: i64,
        compressed: i64,
        dedup: i64,
        nfiles: i64,
    ) -> Result<()> {
        self.conn().execute(
            "UPDATE jobs SET original_size = ?2, compressed_size = ?3, deduplicated_size = ?4, nfiles = ?5 WHERE id = ?1",
            params![id.0, original, compressed, dedup, nfiles],
        )?;
        Ok(())
    }

    /// Appends output lines to a job and returns the sequence number of the last one.
    pub fn append_job_output(&self, id: JobId, stream: &str, lines: &[String]) -> Result<i64> {
        let at = Utc::now();
        let batch: Vec<NewOutputLine> = lines
            .iter()
            .map(|l| NewOutputLine {
                job: id,
                stream: stream.to_string(),
                text: l.clone(),
                at,
            })
            .collect();
        let seqs = self.append_job_outputs(&batch)?;
        match seqs.last() {
            Some(&seq) => Ok(seq),
            None => self.last_job_output_seq(id),
        }
    }

    /// Appends lines of any jobs in one transaction, each after the job's last stored line,
    /// in the order given; returns each line's sequence number.
    pub fn append_job_outputs(&self, lines: &[NewOutputLine]) -> Result<Vec<i64>> {
        let conn = self.conn();
        let tx = conn.transaction()?;
        let mut next: HashMap<JobId, i64> = HashMap::new();
        let mut seqs = Vec::with_capacity(lines.len());
        {
            let mut last =
                tx.prepare("SELECT COALESCE(MAX(seq), 0) FROM job_events WHERE job_id = ?1")?;
            let mut insert = tx.prepare(
                "INSERT INTO job_events (job_id, seq, stream, text, at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for l in lines {
                let seq = match next.get_mut(&l.job) {
                    Some(s) => s,
                    None => {
                        let max: i64 = last.query_row([l.job.0], |r| r.get(0))?;
                        next.entry(l.job).or_insert(max)
                    }
                };
                *seq += 1;
                insert.execute(params![l.job.0, *seq, l.stream, l.text, crate::ts(l.at)])?;
                seqs.push(*seq);
            }
        }
        tx.commit()?;
        Ok(seqs)
    }

    /// The sequence number of a job's last stored output line (0 when it has none).
    pub fn last_job_output_seq(&self, id: JobId) -> Result<i64> {
        Ok(self.read().query_row(
            "SELECT COALESCE(MAX(seq), 0) FROM job_events WHERE job_id = ?1",
            [id.0],
            |r| r.get(0),
        )?)
    }

    /// Output lines of a job with `seq > after`, in order.
    pub fn job_output(&self, id: JobId, after: i64, limit: i64) -> Result<Vec<JobOutputLine>> {
        let conn = self.read();
        let mut st = conn.prepare(
            "SELECT seq, stream, text, at FROM job_events WHERE job_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
        )?;
        let rows = st
            .query_map(params![id.0, after, limit], |r| {
                Ok(JobOutputLine {
                    job: id,
                    seq: r.get(0)?,
                    stream: r.get(1)?,
                    text: r.get(2)?,
                    at: parse_ts(&r.get::<_, String>(3)?),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// At start-up of `node`: jobs its previous process left running can never finish; they are
    /// failed with that reason. On SQLite (one node) the queued jobs are failed too; on
    /// PostgreSQL they stay queued for the cluster, and other nodes' jobs are left to their
    /// leases. Returns how many.
    pub fn fail_interrupted_jobs(&self, node: &str) -> Result<usize> {
        let interrupted: Vec<i64> = {
            let conn = self.conn();
            let ids = match conn.backend() {
                crate::Backend::Sqlite => conn.query_map(
                    "SELECT id FROM jobs WHERE status IN ('running', 'waiting', 'pending')",
                    [],
                    |r| r.get(0),
                )?,
                crate::Backend::Postgres => conn.query_map(
                    "SELECT id FROM jobs WHERE status = 'running' AND (node = ?1 OR node IS NULL)",
                    [node],
                    |r| r.get(0),
                )?,
            };
            ids.collect::<rusqlite::Result<Vec<_>>>()?
        };
        for id in &interrupted {
            self.append_job_output(
                JobId(*id),
                "system",
                &["job interrupted: the server stopped while it was queued or running".into()],
            )?;
            self.set_job_status(
                JobId(*id),
                JobStatus::Failed,
                None,
                "interrupted by a server restart",
            )?;
        }
        Ok(interrupted.len())
    }
}
