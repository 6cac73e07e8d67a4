//! Jobs created outside a policy launch: relaunch of a finished job, integrity checks, and the
//! catalog jobs that resume ingestion of archives whose catalog is not complete.

use crate::manager::Executor;
use model::*;
use std::collections::HashSet;
use store::{NewJob, StoreError};

/// Why a job could not be created.
#[derive(Debug, thiserror::Error)]
pub enum RequeueError {
    #[error("job {0} has not finished yet: cancel it first or wait")]
    StillRunning(JobId),
    #[error("{0}")]
    Unsupported(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Options of a `borg check` job.
#[derive(Debug, Clone, Copy, Default)]
pub struct CheckOptions {
    /// `--verify-data`: read and verify every chunk (slow, thorough).
    pub verify_data: bool,
    /// Started by the `ic_cron` schedule rather than by a person.
    pub scheduled: bool,
}

impl Executor {
    /// Runs a finished job again: a backup job backs up its client again (a new archive); a
    /// catalog job lists its archive again; other jobs (a restore with its `extra_vars`) are
    /// repeated as they were.
    pub fn relaunch_job(&self, id: JobId, by: Option<UserId>) -> Result<Job, RequeueError> {
        let store = &self.inner.store;
        let old = store.job(id)?;
        if !old.status.is_finished() {
            return Err(RequeueError::StillRunning(id));
        }
        let archive_name = if old.job_type == JobType::Job {
            String::new()
        } else {
            old.archive_name.clone()
        };
        let extra_vars = old.extra_vars.clone();
        Ok(self.enqueue(NewJob {
            name: old.name.clone(),
            job_type: old.job_type,
            policy: old.policy,
            client: old.client,
            repository: old.repository,
            archive_name,
            depends_on: None,
            launch_type: "relaunch".into(),
            created_by: by,
            extra_vars,
        })?)
    }

    /// Queues a prune (then compact) of every client's series of a policy, by its retention.
    pub fn prune_policy(&self, id: PolicyId, by: Option<UserId>) -> Result<Vec<Job>, RequeueError> {
        let store = &self.inner.store;
        let policy = store.policy(id)?;
        let repos: Vec<RepositoryId> = policy
            .all_repositories()
            .into_iter()
            .filter(|r| policy.retention_for(*r).is_set())
            .collect();
        if repos.is_empty() {
            return Err(RequeueError::Unsupported(format!(
                "policy {:?} sets no keep_* value: nothing to prune by",
                policy.name
            )));
        }
        let mut jobs = Vec::new();
        for (cid, repo) in policy
            .clients
            .iter()
            .flat_map(|c| repos.iter().map(move |r| (c, *r)))
        {
            let client = store.client(*cid)?;
            jobs.push(self.enqueue(NewJob {
                name: format!("Prune {} {}", client.hostname, policy.name),
                job_type: JobType::Prune,
                policy: Some(policy.id),
                client: Some(client.id),
                repository: Some(repo),
                archive_name: String::new(),
                depends_on: None,
                launch_type: "manual".into(),
                created_by: by,
                extra_vars: String::new(),
            })?);
        }
        Ok(jobs)
    }

    /// Queues `borg check` of a repository.
    pub fn check_repository(
        &self,
        id: RepositoryId,
        opts: CheckOptions,
        by: Option<UserId>,
    ) -> Result<Job, RequeueError> {
        let repo = self.inner.store.repository(id)?;
        Ok(self.enqueue(NewJob {
            name: format!(
                "Check repository {}{}",
                repo.name,
                if opts.verify_data {
                    " (verify data)"
                } else {
                    ""
                }
            ),
            job_type: JobType::Check,
            policy: None,
            client: None,
            repository: Some(id),
            archive_name: String::new(),
            depends_on: None,
            launch_type: if opts.scheduled {
                "scheduled"
            } else {
                "manual"
            }
            .into(),
            created_by: by,
            extra_vars: serde_json::json!({ "verify_data": opts.verify_data }).to_string(),
        })?)
    }

    /// Queues a client preparation (facts, borg installed when missing): on demand, e.g. after
    /// installing borg by hand or changing the client's OS.
    pub fn prepare_client(&self, id: ClientId, by: Option<UserId>) -> Result<Job, RequeueError> {
        let client = self.inner.store.client(id)?;
        Ok(self.enqueue(NewJob {
            name: format!("Prepare client {}", client.hostname),
            job_type: JobType::PrepareClient,
            policy: None,
            client: Some(id),
            repository: None,
            archive_name: String::new(),
            depends_on: None,
            launch_type: "manual".into(),
            created_by: by,
            extra_vars: String::new(),
        })?)
    }

    /// Queues a repository preparation (`borg init`, or a check that the passphrase opens it).
    pub fn prepare_repository(
        &self,
        id: RepositoryId,
        by: Option<UserId>,
    ) -> Result<Job, RequeueError> {
        let repo = self.inner.store.repository(id)?;
        Ok(self.enqueue(NewJob {
            name: format!("Prepare repository {}", repo.name),
            job_type: JobType::PrepareRepository,
            policy: None,
            client: None,
            repository: Some(id),
            archive_name: String::new(),
            depends_on: None,
            launch_type: "manual".into(),
            created_by: by,
            extra_vars: String::new(),
        })?)
    }

    /// Queues a catalog job for every archive whose catalog is not complete, or that the catalog
    /// does not hold (`ingested`): after a crash, a catalog reset or `catalog rebuild`.
    pub fn resume_catalogs(&self, ingested: &HashSet<ArchiveId>) -> Result<usize, StoreError> {
        let store = &self.inner.store;
        let mut queued = 0;
        for a in store.archives(None, None, None)? {
            let complete = a.catalog_state == CatalogState::Complete && ingested.contains(&a.id);
            if complete {
                continue;
            }
            store.set_catalog_state(a.id, CatalogState::Pending, "", None)?;
            self.enqueue(NewJob {
                name: format!("Catalog {}", a.name),
                job_type: JobType::Catalog,
                policy: Some(a.policy),
                client: Some(a.client),
                repository: Some(a.repository),
                archive_name: a.name.clone(),
                depends_on: None,
                launch_type: "resume".into(),
                created_by: None,
                extra_vars: String::new(),
            })?;
            queued += 1;
        }
        Ok(queued)
    }
}
