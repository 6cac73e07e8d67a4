//! Jobs: reads limited to the caller's grants, and the actions that create or stop jobs.
//! Cancelling and relaunching a job need what launching its type needs.

use crate::{authorize, launch_action, Action, Caller, Inner, Result, Service, Target};
use model::*;
use store::{JobFilter, JobListOptions, Page};

/// Loads a job the caller may see (not found otherwise).
pub(crate) fn visible_job(i: &Inner, caller: &Caller, id: JobId) -> Result<Job> {
    authorize(caller, Action::View, Target::Global)?;
    let j = i.store.job(id)?;
    authorize(caller, Action::View, Target::job(&j))?;
    Ok(j)
}

/// Allows launching (cancelling, relaunching) `j` again, by its type.
fn authorize_job_action(i: &Inner, caller: &Caller, j: &Job) -> Result<()> {
    match j.job_type {
        JobType::Restore => crate::restore::authorize_restore_job(i, caller, j),
        JobType::Check => match j.repository {
            Some(r) => authorize(caller, Action::Operate, Target::Repository(r)),
            None => authorize(caller, Action::Administer, Target::Global),
        },
        t => authorize(caller, launch_action(t), Target::job(j)),
    }
}

impl Service {
    /// One job, if the caller's grants reach it.
    pub async fn job(&self, caller: &Caller, id: JobId) -> Result<Job> {
        let c = caller.clone();
        self.run(move |i| visible_job(i, &c, id)).await
    }

    /// Whether the caller may see a job (for live events).
    pub async fn can_view_job(&self, caller: &Caller, id: JobId) -> bool {
        if caller.is_superuser() {
            return true;
        }
        self.job(caller, id).await.is_ok()
    }

    /// A page of the jobs the caller reaches.
    pub async fn list_jobs(&self, caller: &Caller, mut o: JobListOptions) -> Result<Page<Job>> {
        authorize(caller, Action::View, Target::Global)?;
        o.scope = caller.scope();
        self.run(move |i| Ok(i.store.list_jobs(&o)?)).await
    }

    /// Jobs the caller reaches by offset (REST), and how many match.
    pub async fn jobs_by_offset(
        &self,
        caller: &Caller,
        mut f: JobFilter,
    ) -> Result<(i64, Vec<Job>)> {
        authorize(caller, Action::View, Target::Global)?;
        f.scope = caller.scope();
        self.run(move |i| {
            let count = i.store.count_jobs(&JobFilter {
                limit: None,
                offset: None,
                ..f.clone()
            })?;
            Ok((count, i.store.jobs(&f)?))
        })
        .await
    }

    /// Output lines of a job after `after`, at most `limit` (1..=10000).
    pub async fn job_output(
        &self,
        caller: &Caller,
        id: JobId,
        after: i64,
        limit: i64,
    ) -> Result<Vec<JobOutputLine>> {
        let c = caller.clone();
        self.run(move |i| {
            visible_job(i, &c, id)?;
            Ok(i.store.job_output(id, after, limit.clamp(1, 10_000))?)
        })
        .await
    }

    /// The text of a job's output, at most `max` lines.
    pub async fn job_output_text(
        &self,
        caller: &Caller,
        id: JobId,
        max: usize,
    ) -> Result<Vec<String>> {
        let c = caller.clone();
        self.run(move |i| {
            visible_job(i, &c, id)?;
            let mut out = Vec::new();
            let mut after = 0;
            loop {
                let chunk = i.store.job_output(id, after, 10_000)?;
                let Some(last) = chunk.last() else { break };
                after = last.seq;
                out.extend(chunk.into_iter().map(|l| l.text));
                if out.len() >= max {
                    out.truncate(max);
                    break;
                }
            }
            Ok(out)
        })
        .await
    }

    /// Progress of a running job the caller already read (`target` is the job's own).
    pub fn job_progress(
        &self,
        caller: &Caller,
        id: JobId,
        target: Target<'_>,
    ) -> Result<Option<JobProgress>> {
        authorize(caller, Action::View, target)?;
        Ok(self.inner.executor.job_progress(id))
    }

    /// Runs a policy now: one backup job per enabled client (operator with grants covering
    /// every client of the policy).
    pub async fn launch_policy(&self, caller: &Caller, id: PolicyId) -> Result<Vec<Job>> {
        authorize(caller, Action::Operate, Target::Policy(id))?;
        let by = caller.user_id();
        self.run(move |i| Ok(i.executor.launch_policy(id, by, "manual")?))
            .await
    }

    /// Stops a queued or running job; false when it had already finished.
    pub async fn cancel_job(&self, caller: &Caller, id: JobId) -> Result<bool> {
        let c = caller.clone();
        self.run(move |i| {
            let j = visible_job(i, &c, id)?;
            authorize_job_action(i, &c, &j)?;
            tracing::info!(job = %id, by = ?c.user_id(), "job cancel requested");
            Ok(i.executor.cancel_job(id)?)
        })
        .await
    }

    /// Runs a finished job again; needs what launching its type needs.
    pub async fn relaunch_job(&self, caller: &Caller, id: JobId) -> Result<Job> {
        let c = caller.clone();
        self.run(move |i| {
            let j = visible_job(i, &c, id)?;
            authorize_job_action(i, &c, &j)?;
            Ok(i.executor.relaunch_job(id, c.user_id())?)
        })
        .await
    }

    /// Prunes then compacts every client's series of a policy (superuser).
    pub async fn prune_policy(&self, caller: &Caller, id: PolicyId) -> Result<Vec<Job>> {
        authorize(caller, Action::Administer, Target::Global)?;
        let by = caller.user_id();
        self.run(move |i| Ok(i.executor.prune_policy(id, by)?))
            .await
    }

    /// Queues `borg check` of a repository (operator with a grant reaching it).
    pub async fn check_repository(
        &self,
        caller: &Caller,
        id: RepositoryId,
        verify_data: bool,
    ) -> Result<Job> {
        authorize(caller, Action::Operate, Target::Repository(id))?;
        let by = caller.user_id();
        let opts = executor::CheckOptions {
            verify_data,
            scheduled: false,
        };
        self.run(move |i| Ok(i.executor.check_repository(id, opts, by)?))
            .await
    }

    /// Queues a client preparation (superuser).
    pub async fn prepare_client(&self, caller: &Caller, id: ClientId) -> Result<Job> {
        authorize(caller, Action::Administer, Target::Global)?;
        let by = caller.user_id();
        self.run(move |i| Ok(i.executor.prepare_client(id, by)?))
            .await
    }

    /// Queues a repository preparation (superuser).
    pub async fn prepare_repository(&self, caller: &Caller, id: RepositoryId) -> Result<Job> {
        authorize(caller, Action::Administer, Target::Global)?;
        let by = caller.user_id();
        self.run(move |i| Ok(i.executor.prepare_repository(id, by)?))
            .await
    }
}
