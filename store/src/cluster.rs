//! Several nodes on one database: node heartbeats, the claiming of queued jobs under the
//! dispatch rules (one transaction; on PostgreSQL serialized by an advisory lock and reading the
//! candidates `FOR UPDATE SKIP LOCKED`), job leases a node renews while it runs a job, and
//! the ending of jobs whose lease ran out.

use crate::db::{params, Backend};
use crate::jobs::{job_row, JOB_COLS};
use crate::{now, parse_ts, ts, Result, Store};
use chrono::{DateTime, Utc};
use model::{ClientId, Job, JobId, JobStatus, JobType, RepositoryId};
use std::collections::HashSet;

/// Key of the transaction-scoped advisory lock dispatchers take on PostgreSQL.
const DISPATCH_LOCK: i64 = 0x6379_626f_7264;

/// What a node says about itself at each heartbeat.
#[derive(Debug, Clone)]
pub struct NodeBeat {
    pub name: String,
    /// Base URL the other nodes reach this node at ('' when unknown).
    pub address: String,
    /// Whether this node holds the file catalog.
    pub catalog: bool,
    pub version: String,
}

/// A node as stored, with the jobs it runs now.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeRow {
    pub name: String,
    pub address: String,
    pub catalog: bool,
    pub version: String,
    pub started: DateTime<Utc>,
    pub heartbeat: DateTime<Utc>,
    pub running_jobs: Vec<JobId>,
}

/// One dispatch pass of a node.
#[derive(Debug, Clone)]
pub struct ClaimOptions<'a> {
    pub node: &'a str,
    /// Most jobs running at once across every node.
    pub max_running: usize,
    /// How long a claimed job's lease lasts before the node renews it.
    pub lease: chrono::Duration,
    pub now: DateTime<Utc>,
    /// Whether this node runs catalog ingestion and restore tests (the catalog node does).
    pub catalog_jobs: bool,
}

/// What a dispatch pass changed.
#[derive(Debug, Clone, Default)]
pub struct Claim {
    /// Jobs this node now runs (status `running`, leased to it).
    pub started: Vec<Job>,
    /// Jobs that went from pending to waiting.
    pub waiting: Vec<JobId>,
    /// Jobs canceled because their dependency ended unsuccessfully.
    pub canceled: Vec<JobId>,
}

/// A running job whose node stopped renewing its lease, and what became of it.
#[derive(Debug, Clone)]
pub struct ExpiredLease {
    pub job: JobId,
    pub node: String,
    /// `failed`, or `pending` for catalog ingestion (it starts again).
    pub status: JobStatus,
}

impl Store {
    /// Records that `beat.name` is alive now (creating its row on the first beat).
    pub fn heartbeat(&self, beat: &NodeBeat) -> Result<()> {
        let n = now();
        self.conn().execute(
            "INSERT INTO nodes (name, address, catalog, version, started, heartbeat)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)
             ON CONFLICT (name) DO UPDATE SET address = excluded.address,
               catalog = excluded.catalog, version = excluded.version, heartbeat = excluded.heartbeat",
            params![beat.name, beat.address, beat.catalog, beat.version, n],
        )?;
        Ok(())
    }

    /// Records a node's (re)start: its start time, then a heartbeat.
    pub fn node_started(&self, beat: &NodeBeat) -> Result<()> {
        self.heartbeat(beat)?;
        self.conn().execute(
            "UPDATE nodes SET started = ?2 WHERE name = ?1",
            params![beat.name, now()],
        )?;
        Ok(())
    }

    /// Every node, by name, with the jobs each runs.
    pub fn nodes(&self) -> Result<Vec<NodeRow>> {
        let conn = self.read();
        let mut nodes: Vec<NodeRow> = conn
            .query_map(
                "SELECT name, address, catalog, version, started, heartbeat FROM nodes ORDER BY name",
                [],
                |r| {
                    Ok(NodeRow {
                        name: r.get(0)?,
                        address: r.get(1)?,
                        catalog: r.get(2)?,
                        version: r.get(3)?,
                        started: parse_ts(&r.get::<_, String>(4)?),
                        heartbeat: parse_ts(&r.get::<_, String>(5)?),
                        running_jobs: Vec::new(),
                    })
                },
            )?
            .collect::<rusqlite::Result<_>>()?;
        let running: Vec<(String, i64)> = conn
            .query_map(
                "SELECT node, id FROM jobs WHERE status = 'running' AND node IS NOT NULL ORDER BY id",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?
            .collect::<rusqlite::Result<_>>()?;
        for (node, id) in running {
            if let Some(n) = nodes.iter_mut().find(|n| n.name == node) {
                n.running_jobs.push(JobId(id));
            }
        }
        Ok(nodes)
    }

    /// Finished jobs by the node that ran them (`(node, status, count)`; jobs that never
    /// started on a node are left out).
    pub fn node_job_counts(&self) -> Result<Vec<(String, String, i64)>> {
        let rows = self
            .read()
            .query_map(
                "SELECT node, status, COUNT(*) FROM jobs WHERE node IS NOT NULL
                   AND status IN ('successful', 'failed', 'error', 'canceled')
                 GROUP BY node, status ORDER BY node, status",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Claims for `o.node` every queued job that may start now: its dependency succeeded, its
    /// repository and client run nothing else on any node, and fewer than `o.max_running`
    /// jobs run in total. Queued jobs held back become `waiting`; jobs whose dependency ended
    /// unsuccessfully are canceled. One transaction: two nodes never claim the same job, nor
    /// two jobs of one repository or client.
    pub fn claim_jobs(&self, o: &ClaimOptions) -> Result<Claim> {
        let conn = self.conn();
        let tx = conn.transaction()?;
        let pg = tx.backend() == Backend::Postgres;
        if pg {
            tx.query_row("SELECT pg_advisory_xact_lock(?1)", [DISPATCH_LOCK], |_| {
                Ok(())
            })?;
        }
        let mut busy_repos: HashSet<RepositoryId> = HashSet::new();
        let mut busy_clients: HashSet<ClientId> = HashSet::new();
        let mut running = 0usize;
        for row in tx.query_map(
            "SELECT repository_id, client_id FROM jobs WHERE status = 'running'",
            [],
            |r| Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, Option<i64>>(1)?)),
        )? {
            let (repo, client) = row?;
            running += 1;
            busy_repos.extend(repo.map(RepositoryId));
            busy_clients.extend(client.map(ClientId));
        }
        let lock = if pg { " FOR UPDATE SKIP LOCKED" } else { "" };
        let queued: Vec<(Job, Option<String>)> = tx
            .query_map(
                &format!(
                    "SELECT {JOB_COLS}, (SELECT d.status FROM jobs d WHERE d.id = jobs.depends_on)
                     FROM jobs WHERE status IN ('pending', 'waiting') ORDER BY id{lock}"
                ),
                [],
                |r| Ok((job_row(r)?, r.get(24)?)),
            )?
            .collect::<rusqlite::Result<_>>()?;
        let mut claim = Claim::default();
        let stamp = ts(o.now);
        let lease_until = ts(o.now + o.lease);
        for (j, dep_status) in queued {
            if !o.catalog_jobs && matches!(j.job_type, JobType::Catalog | JobType::RestoreTest) {
                // Left queued for the catalog node.
                continue;
            }
            let hold = if j.not_before.is_some_and(|t| t > o.now) {
                true
            } else if let Some(dep) = j.depends_on {
                match dep_status.as_deref().map(|s| s.parse::<JobStatus>()) {
                    Some(Ok(JobStatus::Successful)) => false,
                    Some(Ok(s)) if s.is_finished() => {
                        tx.execute(
                            "UPDATE jobs SET status = 'canceled', finished = ?2, elapsed = 0,
                               job_explanation = ?3 WHERE id = ?1",
                            params![j.id.0, stamp, format!("dependency job {dep} ended {s}")],
                        )?;
                        claim.canceled.push(j.id);
                        continue;
                    }
                    // Unfinished, or deleted (never runs: waits like before).
                    _ => true,
                }
            } else {
                false
            };
            let repo_busy = j.repository.is_some_and(|r| busy_repos.contains(&r));
            let client_busy = j.client.is_some_and(|c| busy_clients.contains(&c));
            if hold || repo_busy || client_busy || running >= o.max_running {
                if j.status == JobStatus::Pending {
                    tx.execute("UPDATE jobs SET status = 'waiting' WHERE id = ?1", [j.id.0])?;
                    claim.waiting.push(j.id);
                }
                continue;
            }
            running += 1;
            busy_repos.extend(j.repository);
            busy_clients.extend(j.client);
            tx.execute(
                "UPDATE jobs SET status = 'running', started = ?2, node = ?3, lease_until = ?4,
                   cancel_requested = 0 WHERE id = ?1",
                params![j.id.0, stamp, o.node, lease_until],
            )?;
            claim.started.push(j);
        }
        tx.commit()?;
        drop(conn);
        for j in &mut claim.started {
            *j = self.job(j.id)?;
        }
        Ok(claim)
    }

    /// Extends the leases of the jobs `node` runs until `until`; returns the ones it must
    /// stop: canceled from another node, or already ended by one (their lease ran out).
    pub fn renew_leases(&self, node: &str, until: DateTime<Utc>) -> Result<Vec<JobId>> {
        let conn = self.conn();
        conn.execute(
            "UPDATE jobs SET lease_until = ?2 WHERE node = ?1 AND status = 'running'",
            params![node, ts(until)],
        )?;
        let stop: Vec<i64> = conn
            .query_map(
                "SELECT id FROM jobs WHERE node = ?1 AND lease_until IS NOT NULL
                   AND (status <> 'running' OR cancel_requested <> 0)",
                [node],
                |r| r.get(0),
            )?
            .collect::<rusqlite::Result<_>>()?;
        Ok(stop.into_iter().map(JobId).collect())
    }

    /// Forgets the lease of a job that ended (on its node, or on another).
    pub fn release_lease(&self, job: JobId) -> Result<()> {
        self.conn()
            .execute("UPDATE jobs SET lease_until = NULL WHERE id = ?1", [job.0])?;
        Ok(())
    }

    /// Asks the node running `job` to stop it (it sees the request when it next renews its
    /// leases). False when the job is not running.
    pub fn request_cancel(&self, job: JobId) -> Result<bool> {
        let n = self.conn().execute(
            "UPDATE jobs SET cancel_requested = 1 WHERE id = ?1 AND status = 'running'",
            [job.0],
        )?;
        Ok(n > 0)
    }

    /// Ends the running jobs of other nodes whose lease ran out before `now`: failed with an
    /// explanation, except catalog ingestion, which is queued again (it starts over). Each
    /// change is a compare-and-set, so several nodes doing this at once end a job once.
    pub fn expire_leases(&self, me: &str, now: DateTime<Utc>) -> Result<Vec<ExpiredLease>> {
        let stamp = ts(now);
        let expired: Vec<(Job, String, String)> = self
            .read()
            .query_map(
                &format!(
                    "SELECT {JOB_COLS}, lease_until FROM jobs WHERE status = 'running'
                       AND lease_until IS NOT NULL AND lease_until < ?1 AND node IS NOT NULL
                       AND node <> ?2 ORDER BY id"
                ),
                params![stamp, me],
                |r| {
                    let job = job_row(r)?;
                    let node = job.node.clone().unwrap_or_default();
                    Ok((job, node, r.get(24)?))
                },
            )?
            .collect::<rusqlite::Result<_>>()?;
        let mut out = Vec::new();
        for (job, node, until) in expired {
            let why = format!(
                "node {node} stopped renewing the job's lease (it ran out at {until}): the node \
                 died or lost the database; the job was interrupted"
            );
            let (status, n) = if job.job_type == JobType::Catalog {
                let n = self.conn().execute(
                    "UPDATE jobs SET status = 'pending', started = NULL, node = NULL,
                       lease_until = NULL WHERE id = ?1 AND status = 'running' AND lease_until = ?2",
                    params![job.id.0, until],
                )?;
                (JobStatus::Pending, n)
            } else {
                let elapsed = job
                    .started
                    .map(|s| (now - s).num_milliseconds() as f64 / 1000.0)
                    .unwrap_or(0.0);
                let n = self.conn().execute(
                    "UPDATE jobs SET status = 'failed', finished = ?3, elapsed = ?4,
                       job_explanation = ?5 WHERE id = ?1 AND status = 'running' AND lease_until = ?2",
                    params![job.id.0, until, stamp, elapsed, why],
                )?;
                (JobStatus::Failed, n)
            };
            if n == 0 {
                continue;
            }
            let line = if status == JobStatus::Pending {
                format!("{why}: catalog ingestion starts again")
            } else {
                why
            };
            self.append_job_output(job.id, "system", &[line])?;
            tracing::warn!(job = %job.id, node = %node, status = %status, "job lease expired");
            out.push(ExpiredLease {
                job: job.id,
                node,
                status,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
