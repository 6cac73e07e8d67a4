//! Restore drill results: the evidence of each drill (archives sampled, files checked, bytes,
//! mismatches and skipped checks) and its verdict, per (policy, client) series.

use crate::db::{params, OptionalExtension, Row};
use crate::{now, parse_ts, Result, Store, StoreError};
use chrono::{DateTime, Utc};
use model::{ClientId, JobId, PolicyId, RepositoryId};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Whether a drill proved its series restorable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Passed,
    Failed,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::Failed => "failed",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Verdict {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "passed" => Ok(Verdict::Passed),
            "failed" => Ok(Verdict::Failed),
            other => Err(format!("unknown verdict {other:?}")),
        }
    }
}

/// One finding of a drill about one file (or the whole archive when `path` is empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrillFinding {
    pub path: String,
    pub archive: String,
    pub reason: String,
}

/// A drill result to record.
#[derive(Debug, Clone)]
pub struct NewRestoreTest {
    pub job: Option<JobId>,
    pub policy: PolicyId,
    pub client: ClientId,
    pub repository: RepositoryId,
    pub archives: Vec<String>,
    pub files_checked: i64,
    pub bytes: i64,
    /// Seconds.
    pub duration: f64,
    /// Verification failures; any makes the verdict `failed`.
    pub mismatches: Vec<DrillFinding>,
    /// Checks skipped and why (a live file changed since the backup).
    pub notes: Vec<DrillFinding>,
    pub verdict: Verdict,
    pub summary: String,
}

/// A recorded drill.
#[derive(Debug, Clone)]
pub struct RestoreTest {
    pub id: i64,
    pub job: Option<JobId>,
    pub policy: PolicyId,
    pub client: ClientId,
    pub repository: RepositoryId,
    pub archives: Vec<String>,
    pub files_checked: i64,
    pub bytes: i64,
    pub duration: f64,
    pub mismatches: Vec<DrillFinding>,
    pub notes: Vec<DrillFinding>,
    pub verdict: Verdict,
    pub summary: String,
    pub created: DateTime<Utc>,
}

/// Which drills to list.
#[derive(Debug, Clone, Copy, Default)]
pub struct RestoreTestFilter {
    pub policy: Option<PolicyId>,
    pub client: Option<ClientId>,
    pub verdict: Option<Verdict>,
    /// At most this many, newest first (default 50, at most 1000).
    pub limit: Option<i64>,
}

/// Orderings of restore drills.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RestoreTestOrder {
    /// Newest first.
    #[default]
    CreatedDesc,
    CreatedAsc,
}

/// Which drills to list, one page at a time.
#[derive(Debug, Clone, Default)]
pub struct RestoreTestListOptions {
    pub policy: Option<PolicyId>,
    pub client: Option<ClientId>,
    pub verdict: Option<Verdict>,
    /// Only what a non-superuser reaches (`None`: everything).
    pub scope: Option<std::sync::Arc<model::Visibility>>,
    pub order: RestoreTestOrder,
    pub page: crate::PageRequest,
}

const COLS: &str =
    "id, job_id, policy_id, client_id, repository_id, archives, files_checked, bytes,
    duration, mismatches, notes, verdict, summary, created";

fn row(r: &Row) -> rusqlite::Result<RestoreTest> {
    let json_list = |i: usize| -> rusqlite::Result<Vec<DrillFinding>> {
        Ok(serde_json::from_str(&r.get::<_, String>(i)?).unwrap_or_default())
    };
    Ok(RestoreTest {
        id: r.get(0)?,
        job: r.get::<_, Option<i64>>(1)?.map(JobId),
        policy: PolicyId(r.get(2)?),
        client: ClientId(r.get(3)?),
        repository: RepositoryId(r.get(4)?),
        archives: serde_json::from_str(&r.get::<_, String>(5)?).unwrap_or_default(),
        files_checked: r.get(6)?,
        bytes: r.get(7)?,
        duration: r.get(8)?,
        mismatches: json_list(9)?,
        notes: json_list(10)?,
        verdict: r.get::<_, String>(11)?.parse().unwrap_or(Verdict::Failed),
        summary: r.get(12)?,
        created: parse_ts(&r.get::<_, String>(13)?),
    })
}

fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

impl Store {
    /// Records the result of a drill.
    pub fn record_restore_test(&self, t: &NewRestoreTest) -> Result<RestoreTest> {
        let id = {
            let conn = self.conn();
            conn.insert(
                "INSERT INTO restore_tests (job_id, policy_id, client_id, repository_id, archives,
                   files_checked, bytes, duration, mismatches, notes, verdict, summary, created)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                params![
                    t.job.map(|j| j.0),
                    t.policy.0,
                    t.client.0,
                    t.repository.0,
                    to_json(&t.archives),
                    t.files_checked,
                    t.bytes,
                    t.duration,
                    to_json(&t.mismatches),
                    to_json(&t.notes),
                    t.verdict.as_str(),
                    t.summary,
                    now(),
                ],
            )?
        };
        self.restore_test(id)
    }

    pub fn restore_test(&self, id: i64) -> Result<RestoreTest> {
        self.read()
            .query_row(
                &format!("SELECT {COLS} FROM restore_tests WHERE id = ?1"),
                [id],
                row,
            )
            .optional()?
            .ok_or_else(|| StoreError::not_found("restore test", id))
    }

    /// Drills, newest first.
    pub fn restore_tests(&self, f: &RestoreTestFilter) -> Result<Vec<RestoreTest>> {
        let limit = f.limit.unwrap_or(50).clamp(1, 1000);
        let conn = self.read();
        let mut st = conn.prepare(&format!(
            "SELECT {COLS} FROM restore_tests WHERE (policy_id = ?1 OR ?1 IS NULL)
               AND (client_id = ?2 OR ?2 IS NULL) AND (verdict = ?3 OR ?3 IS NULL)
             ORDER BY created DESC, id DESC LIMIT ?4"
        ))?;
        let rows = st
            .query_map(
                params![
                    f.policy.map(|p| p.0),
                    f.client.map(|c| c.0),
                    f.verdict.map(Verdict::as_str),
                    limit
                ],
                row,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// One page of drills (ids follow creation order).
    pub fn list_restore_tests(
        &self,
        o: &RestoreTestListOptions,
    ) -> Result<crate::Page<RestoreTest>> {
        use crate::lists::{asc, desc, Select};
        let mut q = Select::new("restore_tests", "id", COLS.to_string());
        q.eq("policy_id", o.policy.map(|p| p.0))
            .eq("client_id", o.client.map(|c| c.0))
            .eq("verdict", o.verdict.map(|v| v.as_str().to_string()));
        if let Some(v) = &o.scope {
            q.filter(&crate::access::series_sql(v, "client_id", "policy_id"), []);
        }
        let sort = match o.order {
            RestoreTestOrder::CreatedDesc => desc("id"),
            RestoreTestOrder::CreatedAsc => asc("id"),
        };
        self.page(&q, sort, &o.page, row)
    }

    /// The latest drill of one series in one repository (the primary or a copy).
    pub fn last_drill_on(
        &self,
        policy: PolicyId,
        client: ClientId,
        repository: RepositoryId,
    ) -> Result<Option<RestoreTest>> {
        Ok(self
            .read()
            .query_row(
                &format!(
                    "SELECT {COLS} FROM restore_tests WHERE policy_id = ?1 AND client_id = ?2
                       AND repository_id = ?3 ORDER BY created DESC, id DESC LIMIT 1"
                ),
                params![policy.0, client.0, repository.0],
                row,
            )
            .optional()?)
    }

    /// The latest drill of a policy and/or client, optionally only with one verdict.
    pub fn last_restore_test(
        &self,
        policy: Option<PolicyId>,
        client: Option<ClientId>,
        verdict: Option<Verdict>,
    ) -> Result<Option<RestoreTest>> {
        Ok(self
            .restore_tests(&RestoreTestFilter {
                policy,
                client,
                verdict,
                limit: Some(1),
            })?
            .into_iter()
            .next())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_round_trips() {
        for v in [Verdict::Passed, Verdict::Failed] {
            assert_eq!(v.as_str().parse::<Verdict>(), Ok(v));
        }
        assert!("maybe".parse::<Verdict>().is_err());
    }
}
