//! The task manager: launching policies into jobs, and dispatching queued jobs when their
//! dependency succeeded and their repository, client and the global limit allow.

use crate::events::{JobEvent, StatusFeed};
use crate::runner;
use model::*;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use store::{NewJob, Store, StoreError};
use tokio::sync::{broadcast, Notify};
use tokio_util::sync::CancellationToken;

/// Tunables of the executor.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// `BORG_BASE_DIR` for borg commands run on this machine.
    pub local_borg_base_dir: PathBuf,
    /// Most jobs running at once.
    pub max_concurrent_jobs: usize,
    /// How often the scheduler looks for due policies.
    pub scheduler_tick: Duration,
    /// This node's name among the nodes sharing the database.
    pub node_name: String,
    /// Base URL other nodes reach this node at ('' when unknown).
    pub node_address: String,
    /// Whether this node holds the file catalog: only it runs catalog ingestion and restore
    /// tests (which read the catalog).
    pub catalog_role: bool,
    /// How long a running job's lease lasts; the node renews it three times per lease. A job
    /// whose node stops renewing is ended by another node after this long.
    pub job_lease: Duration,
}

/// Why a policy could not be launched.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("policy cannot run: {}", .0.join("; "))]
    Blocked(Vec<String>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub(crate) struct Inner {
    pub store: Store,
    pub sink: Arc<dyn ListingSink>,
    pub opts: ExecutorOptions,
    /// Status and progress events.
    pub events: broadcast::Sender<JobEvent>,
    /// Output lines, once stored (a channel of their own: a chatty job does not wake, or
    /// make lag, the subscribers of status changes).
    pub output_events: broadcast::Sender<JobEvent>,
    /// Job output lines, stored in batches (see `output.rs`).
    pub(crate) output: crate::output::OutputWriter,
    /// Numbered status changes for live views that must miss none (see `events.rs`).
    status_feed: StatusFeed,
    wake: Notify,
    running: Mutex<HashMap<JobId, CancellationToken>>,
    /// Progress of running jobs (see `progress.rs`).
    pub(crate) progress: crate::progress::ProgressBoard,
    /// Download tickets (restore downloads through the server).
    pub(crate) tickets: crate::restore::Tickets,
    /// Removal of repository keys no policy uses (see `credentials.rs`).
    pub(crate) credentials: crate::credentials::Revoker,
    shutting_down: std::sync::atomic::AtomicBool,
    /// Unix milliseconds of the scheduler's last tick, 0 before the first (see `scheduler.rs`).
    pub(crate) last_tick: std::sync::atomic::AtomicI64,
    /// Publishes this node's job events to the other nodes (see `bus.rs`).
    pub(crate) bus: crate::bus::Publisher,
    /// Replays the other nodes' job events here while it lives.
    listener: Mutex<Option<store::Listener>>,
}

/// Handle to the executor; cheap to clone.
#[derive(Clone)]
pub struct Executor {
    pub(crate) inner: Arc<Inner>,
}

impl Executor {
    pub fn new(store: Store, sink: Arc<dyn ListingSink>, opts: ExecutorOptions) -> Executor {
        let (events, _) = broadcast::channel(4096);
        let (output_events, _) = broadcast::channel(16_384);
        let bus = crate::bus::Publisher::start(store.clone(), opts.node_name.clone());
        let output =
            crate::output::OutputWriter::start(store.clone(), output_events.clone(), bus.clone());
        Executor {
            inner: Arc::new(Inner {
                store,
                sink,
                opts,
                events,
                output_events,
                output,
                status_feed: StatusFeed::default(),
                wake: Notify::new(),
                running: Mutex::new(HashMap::new()),
                progress: Default::default(),
                tickets: Default::default(),
                credentials: Default::default(),
                shutting_down: std::sync::atomic::AtomicBool::new(false),
                last_tick: std::sync::atomic::AtomicI64::new(0),
                bus,
                listener: Mutex::new(None),
            }),
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// This node's name among the nodes sharing the database.
    pub fn node_name(&self) -> &str {
        &self.inner.opts.node_name
    }

    /// How long a running job's lease lasts.
    pub fn job_lease(&self) -> Duration {
        self.inner.opts.job_lease
    }

    /// Live status changes and progress of jobs.
    pub fn subscribe(&self) -> broadcast::Receiver<JobEvent> {
        self.inner.events.subscribe()
    }

    /// Live output lines of jobs ([`JobEvent::Output`]), each published once stored, in order.
    pub fn subscribe_output(&self) -> broadcast::Receiver<JobEvent> {
        self.inner.output_events.subscribe()
    }

    /// The numbered feed of status changes (replay after a cursor, gaps reported).
    pub fn status_feed(&self) -> &StatusFeed {
        &self.inner.status_feed
    }

    /// Fails jobs a previous process left unfinished, then starts the dispatcher, the
    /// scheduler and the lease keeper.
    pub fn start(&self) -> Result<(), StoreError> {
        self.inner.store.node_started(&crate::cluster::beat(self))?;
        let n = self
            .inner
            .store
            .fail_interrupted_jobs(&self.inner.opts.node_name)?;
        if n > 0 {
            tracing::warn!(
                jobs = n,
                "marked jobs interrupted by the previous shutdown as failed"
            );
        }
        self.inner.store.refresh_next_runs()?;
        let me = self.clone();
        tokio::spawn(async move { me.dispatch_loop().await });
        let me = self.clone();
        tokio::spawn(async move { crate::scheduler::run(me).await });
        let me = self.clone();
        tokio::spawn(async move { crate::cluster::run(me).await });
        *self
            .inner
            .listener
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = crate::bus::listen(self)?;
        Ok(())
    }

    /// Creates the jobs of one run of a policy: preparation where needed, then one backup job
    /// per enabled client. Catalog and prune jobs follow each successful backup.
    pub fn launch_policy(
        &self,
        id: PolicyId,
        by: Option<UserId>,
        launch_type: &str,
    ) -> Result<Vec<Job>, LaunchError> {
        let store = &self.inner.store;
        let policy = store.policy(id)?;
        let blockers = store.policy_blockers(&policy)?;
        if !blockers.is_empty() {
            return Err(LaunchError::Blocked(blockers));
        }
        let repo = store.repository(policy.repository)?;
        let mut jobs = Vec::new();
        // A repository not prepared yet gets its preparation job first.
        let mut prepare = |r: &Repository| -> Result<Option<JobId>, LaunchError> {
            if r.ready {
                return Ok(None);
            }
            let j = store.create_job(&NewJob {
                name: format!("Prepare repository {}", r.name),
                job_type: JobType::PrepareRepository,
                policy: Some(policy.id),
                client: None,
                repository: Some(r.id),
                archive_name: String::new(),
                depends_on: None,
                launch_type: launch_type.into(),
                created_by: by,
                extra_vars: String::new(),
            })?;
            let id = j.id;
            jobs.push(j);
            Ok(Some(id))
        };
        let prep_repo = prepare(&repo)?;
        // Copy repositories (3-2-1): prepared like the primary when needed; disabled ones skip
        // this run.
        let mut copies = Vec::new();
        // A scheduled run starts each copy's backups its offset after the primary's.
        let scheduled = launch_type == "scheduled";
        for pc in &policy.copies {
            let copy = store.repository(pc.repository)?;
            if !copy.enabled {
                tracing::info!(policy = %policy.name, repository = %copy.name, "copy repository disabled: skipped");
                continue;
            }
            let prep = prepare(&copy)?;
            let start = (scheduled && pc.offset_minutes > 0).then(|| {
                chrono::Utc::now() + chrono::Duration::minutes(i64::from(pc.offset_minutes))
            });
            copies.push((copy, prep, start));
        }
        let backup = |client: &Client, repo: &Repository, copy: bool, depends_on| NewJob {
            name: if copy {
                format!(
                    "Backup {} {} ({}) to copy {}",
                    client.hostname, policy.name, policy.policy_type, repo.name
                )
            } else {
                format!(
                    "Backup {} {} ({})",
                    client.hostname, policy.name, policy.policy_type
                )
            },
            job_type: JobType::Job,
            policy: Some(policy.id),
            client: Some(client.id),
            repository: Some(repo.id),
            archive_name: String::new(),
            depends_on,
            launch_type: launch_type.into(),
            created_by: by,
            extra_vars: String::new(),
        };
        for cid in &policy.clients {
            let client = store.client(*cid)?;
            if !client.enabled {
                continue;
            }
            let mut dep = prep_repo;
            let mut client_prep = None;
            if !client.ready {
                let j = store.create_job(&NewJob {
                    name: format!("Prepare client {}", client.hostname),
                    job_type: JobType::PrepareClient,
                    policy: Some(policy.id),
                    client: Some(client.id),
                    repository: None,
                    archive_name: String::new(),
                    depends_on: prep_repo,
                    launch_type: launch_type.into(),
                    created_by: by,
                    extra_vars: String::new(),
                })?;
                dep = Some(j.id);
                client_prep = Some(j.id);
                jobs.push(j);
            }
            jobs.push(store.create_job(&backup(&client, &repo, false, dep))?);
            // A copy does not wait for the primary's backup: it must succeed when the primary
            // fails. The one-job-per-client rule runs them one after the other.
            for (copy, prep, start) in &copies {
                let dep = prep.or(client_prep);
                jobs.push(store.create_job_at(&backup(&client, copy, true, dep), *start)?);
            }
        }
        for j in &jobs {
            self.emit(JobEvent::Status {
                job: j.id,
                status: j.status,
            });
        }
        tracing::info!(policy = %policy.name, jobs = jobs.len(), launch_type, "policy launched");
        self.inner.wake.notify_one();
        Ok(jobs)
    }

    /// Queues a follow-up job (catalog, prune) and wakes the dispatcher.
    pub(crate) fn enqueue(&self, j: NewJob) -> Result<Job, StoreError> {
        let job = self.inner.store.create_job(&j)?;
        self.emit(JobEvent::Status {
            job: job.id,
            status: job.status,
        });
        self.inner.wake.notify_one();
        Ok(job)
    }

    /// Asks a queued or running job to stop. Returns false when it had already finished.
    pub fn cancel_job(&self, id: JobId) -> Result<bool, StoreError> {
        let job = self.inner.store.job(id)?;
        if job.status.is_finished() {
            return Ok(false);
        }
        let token = self
            .inner
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .cloned();
        match token {
            Some(t) => t.cancel(),
            // Running on another node: it stops the job when it next renews its leases.
            None if job.status == JobStatus::Running => {
                self.inner.store.request_cancel(id)?;
            }
            None => self.finish(id, JobStatus::Canceled, None, "canceled before it started")?,
        }
        Ok(true)
    }

    /// Stops every running job (borg gets SIGTERM and releases its lock) and waits for them
    /// to end, at most `grace`. Called when the server shuts down.
    pub async fn shutdown(&self, grace: Duration) {
        let tokens: Vec<CancellationToken> = self
            .inner
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        if tokens.is_empty() {
            return;
        }
        self.inner
            .shutting_down
            .store(true, std::sync::atomic::Ordering::SeqCst);
        tracing::info!(jobs = tokens.len(), "stopping running jobs before shutdown");
        for t in &tokens {
            t.cancel();
        }
        let deadline = tokio::time::Instant::now() + grace;
        while tokio::time::Instant::now() < deadline {
            if self
                .inner
                .running
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_empty()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tracing::warn!(
            "some jobs did not stop in time; they will be marked failed at the next start"
        );
    }

    /// How far a running job has got; `None` when it is not running or reports no progress.
    pub fn job_progress(&self, id: JobId) -> Option<model::JobProgress> {
        self.inner.progress.get(id)
    }

    /// The cancellation token of a job running on this node.
    pub(crate) fn running_token(&self, id: JobId) -> Option<CancellationToken> {
        self.inner
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .cloned()
    }

    /// Wakes the dispatcher (a job finished or was queued).
    pub(crate) fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Publishes an event of a job of this node, here and to the other nodes.
    pub(crate) fn emit(&self, e: JobEvent) {
        self.inner.bus.event(&e);
        self.emit_local(e);
    }

    /// Publishes an event on this node's live channels only.
    pub(crate) fn emit_local(&self, e: JobEvent) {
        if let JobEvent::Status { job, status } = &e {
            self.inner.status_feed.push(*job, *status);
        }
        let _ = self.inner.events.send(e);
    }

    pub(crate) fn finish(
        &self,
        id: JobId,
        status: JobStatus,
        exit: Option<i32>,
        why: &str,
    ) -> Result<(), StoreError> {
        self.inner.store.set_job_status(id, status, exit, why)?;
        self.inner.progress.clear(id);
        self.emit(JobEvent::Status { job: id, status });
        self.inner.wake.notify_one();
        Ok(())
    }

    async fn dispatch_loop(self) {
        loop {
            if let Err(e) = self.dispatch_once() {
                tracing::error!(error = %e, "job dispatch failed");
            }
            let _ = tokio::time::timeout(Duration::from_secs(2), self.inner.wake.notified()).await;
        }
    }

    /// Starts every queued job whose dependency succeeded and whose repository and client are
    /// free on every node, within the global limit (`Store::claim_jobs`). A failed dependency
    /// cancels its dependents.
    fn dispatch_once(&self) -> Result<(), StoreError> {
        let store = &self.inner.store;
        let opts = &self.inner.opts;
        let claim = store.claim_jobs(&store::ClaimOptions {
            node: &opts.node_name,
            max_running: opts.max_concurrent_jobs,
            lease: chrono::Duration::from_std(opts.job_lease)
                .unwrap_or_else(|_| chrono::Duration::seconds(30)),
            now: chrono::Utc::now(),
            catalog_jobs: opts.catalog_role,
        })?;
        for id in claim.waiting {
            self.emit(JobEvent::Status {
                job: id,
                status: JobStatus::Waiting,
            });
        }
        for id in claim.canceled {
            self.inner.progress.clear(id);
            self.emit(JobEvent::Status {
                job: id,
                status: JobStatus::Canceled,
            });
        }
        for job in claim.started {
            self.emit(JobEvent::Status {
                job: job.id,
                status: JobStatus::Running,
            });
            let token = CancellationToken::new();
            self.inner
                .running
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(job.id, token.clone());
            let me = self.clone();
            tokio::spawn(async move {
                let mut outcome = runner::run(&me, &job, token).await;
                if outcome.status == JobStatus::Canceled
                    && me
                        .inner
                        .shutting_down
                        .load(std::sync::atomic::Ordering::SeqCst)
                {
                    outcome = runner::Outcome::failed(
                        outcome.exit_code,
                        "interrupted: the server shut down while the job was running",
                    );
                }
                // Every line the job printed is stored before its status becomes final.
                me.inner.output.flush().await;
                if let Err(e) = me.finish(
                    job.id,
                    outcome.status,
                    outcome.exit_code,
                    &outcome.explanation,
                ) {
                    tracing::error!(job = %job.id, error = %e, "cannot record job outcome");
                }
                // Only now: shutdown waits for this map to empty, so the outcome is stored first.
                me.inner
                    .running
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&job.id);
            });
        }
        Ok(())
    }
}
