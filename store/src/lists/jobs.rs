//! Paged lists of jobs and archives, the two tables that grow without bound.

use super::{asc, desc, Page, PageRequest, Select};
use crate::access::{job_sql, series_sql};
use crate::archives::{archive_row, ARCHIVE_COLS};
use crate::db::Value;
use crate::jobs::{job_row, JOB_COLS};
use crate::{ts, Result, Store};
use chrono::{DateTime, Utc};
use model::*;
use std::sync::Arc;

/// Orderings of jobs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum JobOrder {
    /// Newest first.
    #[default]
    CreatedDesc,
    CreatedAsc,
    /// Last finished first; unfinished jobs last.
    FinishedDesc,
    /// Longest first.
    ElapsedDesc,
    NameAsc,
}

/// Which jobs to list.
#[derive(Debug, Clone, Default)]
pub struct JobListOptions {
    /// Substring of the job's name or archive name.
    pub search: Option<String>,
    pub status: Option<JobStatus>,
    pub job_type: Option<JobType>,
    pub policy: Option<PolicyId>,
    pub client: Option<ClientId>,
    pub repository: Option<RepositoryId>,
    /// Created at or after.
    pub since: Option<DateTime<Utc>>,
    /// Created before.
    pub until: Option<DateTime<Utc>>,
    /// Only what a non-superuser reaches (`None`: everything).
    pub scope: Option<Arc<Visibility>>,
    pub order: JobOrder,
    pub page: PageRequest,
}

/// Orderings of archives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ArchiveOrder {
    /// Newest first.
    #[default]
    TimeDesc,
    TimeAsc,
    NameAsc,
    NameDesc,
    /// Largest original size first.
    SizeDesc,
}

/// Which archives to list.
#[derive(Debug, Clone, Default)]
pub struct ArchiveListOptions {
    /// Substring of the archive name.
    pub search: Option<String>,
    pub repository: Option<RepositoryId>,
    pub client: Option<ClientId>,
    pub policy: Option<PolicyId>,
    pub catalog_state: Option<CatalogState>,
    /// Only archives the catalog flagged (true) or did not flag (false).
    pub anomaly: Option<bool>,
    /// Archive time at or after.
    pub since: Option<DateTime<Utc>>,
    /// Archive time before.
    pub until: Option<DateTime<Utc>>,
    /// Only what a non-superuser reaches (`None`: everything).
    pub scope: Option<Arc<Visibility>>,
    pub order: ArchiveOrder,
    pub page: PageRequest,
}

fn time(column: &str, op: &str, t: Option<DateTime<Utc>>, q: &mut Select) {
    if let Some(t) = t {
        q.filter(&format!("{column} {op} ?"), [Value::Text(ts(t))]);
    }
}

impl Store {
    pub fn list_jobs(&self, o: &JobListOptions) -> Result<Page<Job>> {
        let mut q = Select::new("jobs", "id", JOB_COLS.to_string());
        q.search(&["name", "archive_name"], o.search.as_deref())
            .eq("status", o.status.map(|s| s.as_str().to_string()))
            .eq("job_type", o.job_type.map(|t| t.as_str().to_string()))
            .eq("policy_id", o.policy.map(|p| p.0))
            .eq("client_id", o.client.map(|c| c.0))
            .eq("repository_id", o.repository.map(|r| r.0));
        time("created", ">=", o.since, &mut q);
        time("created", "<", o.until, &mut q);
        if let Some(v) = &o.scope {
            q.filter(&job_sql(v), []);
        }
        // Jobs are created with increasing ids, so "created" orders by the primary key.
        let sort = match o.order {
            JobOrder::CreatedDesc => desc("id"),
            JobOrder::CreatedAsc => asc("id"),
            JobOrder::FinishedDesc => desc("COALESCE(finished, '')"),
            JobOrder::ElapsedDesc => desc("elapsed"),
            JobOrder::NameAsc => asc("lower(name)"),
        };
        self.page(&q, sort, &o.page, job_row)
    }

    pub fn list_archives(&self, o: &ArchiveListOptions) -> Result<Page<Archive>> {
        let mut q = Select::new("archives", "id", ARCHIVE_COLS.to_string());
        q.search(&["name"], o.search.as_deref())
            .eq("repository_id", o.repository.map(|r| r.0))
            .eq("client_id", o.client.map(|c| c.0))
            .eq("policy_id", o.policy.map(|p| p.0))
            .eq(
                "catalog_state",
                o.catalog_state.map(|s| s.as_str().to_string()),
            );
        match o.anomaly {
            Some(true) => {
                q.filter("anomaly <> ''", []);
            }
            Some(false) => {
                q.filter("anomaly = ''", []);
            }
            None => {}
        }
        time("time", ">=", o.since, &mut q);
        time("time", "<", o.until, &mut q);
        if let Some(v) = &o.scope {
            q.filter(&series_sql(v, "client_id", "policy_id"), []);
        }
        let sort = match o.order {
            ArchiveOrder::TimeDesc => desc("time"),
            ArchiveOrder::TimeAsc => asc("time"),
            ArchiveOrder::NameAsc => asc("lower(name)"),
            ArchiveOrder::NameDesc => desc("lower(name)"),
            ArchiveOrder::SizeDesc => desc("original_size"),
        };
        self.page(&q, sort, &o.page, archive_row)
    }
}
