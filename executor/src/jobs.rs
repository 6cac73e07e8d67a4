//! The backup job, and what every job type shares: the repository context and the job log.
//! Preparation is in `prepare.rs`, catalog in `catalog_job.rs`, prune and check in `prune.rs`.

use crate::borg;
use crate::credentials::Access;
use crate::manager::Executor;
use crate::runner::{run_error_outcome, run_logged, JobLog, Outcome, Stdout};
use crate::targets::{client_side, pull_side, repo_side, ClientSide, RepoSide};
use crate::transport::RemoteCommand;
use chrono::Utc;
use model::*;
use store::{ArchiveSizes, NewJob};
use tokio_util::sync::CancellationToken;

/// Everything a job needs about its repository.
pub(crate) struct RepoCtx {
    pub repo: Repository,
    /// The repository's host, its path there and the borg environment for it.
    pub side: RepoSide,
}

pub(crate) fn repo_ctx(ex: &Executor, id: Option<RepositoryId>) -> Result<RepoCtx, Outcome> {
    let store = &ex.inner.store;
    let id = id.ok_or_else(|| Outcome::error("job has no repository"))?;
    let repo = store
        .repository(id)
        .map_err(|e| Outcome::error(e.to_string()))?;
    let passphrase = store
        .repository_passphrase(id)
        .map_err(|e| Outcome::error(e.to_string()))?;
    let security = store
        .repository_security(id)
        .map_err(|e| Outcome::error(e.to_string()))?;
    let has_passphrase = passphrase.is_some();
    let mut side = repo_side(ex, &repo, passphrase).map_err(Outcome::error)?;
    // Every job that touches the repository passed `identity::verify_job` first (runner.rs).
    side.env.trust = crate::identity::trust_for(&security, has_passphrase);
    Ok(RepoCtx { repo, side })
}

/// The policy a job belongs to.
pub(crate) fn job_policy(ex: &Executor, job: &Job) -> Result<Policy, Outcome> {
    let id = job
        .policy
        .ok_or_else(|| Outcome::error("job has no policy"))?;
    ex.inner
        .store
        .policy(id)
        .map_err(|e| Outcome::error(e.to_string()))
}

/// The client a job runs for.
pub(crate) fn job_client(ex: &Executor, job: &Job) -> Result<Client, Outcome> {
    let id = job
        .client
        .ok_or_else(|| Outcome::error("job has no client"))?;
    ex.inner
        .store
        .client(id)
        .map_err(|e| Outcome::error(e.to_string()))
}

pub(crate) fn log_for<'a>(ex: &'a Executor, job: &Job, ctx: Option<&RepoCtx>) -> JobLog<'a> {
    JobLog {
        ex,
        job: job.id,
        secrets: ctx
            .and_then(|c| c.side.env.passphrase.clone())
            .into_iter()
            .collect(),
        streamed: Default::default(),
    }
}

#[macro_export]
#[doc(hidden)]
macro_rules! tryo {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(o) => return o,
        }
    };
}

pub(crate) use crate::catalog_job::catalog;
pub(crate) use crate::prepare::{prepare_client, prepare_repository};
pub(crate) use crate::prune::{check, prune};

pub(crate) fn last_line(lines: &[String]) -> String {
    lines
        .iter()
        .rev()
        .find(|l| !l.trim().is_empty())
        .cloned()
        .unwrap_or_else(|| "no error output".into())
}

/// A name not yet used in the repository: the original's form, suffixed on collision.
fn unique_archive_name(ex: &Executor, repo: RepositoryId, base: &str) -> Result<String, Outcome> {
    let mut name = base.to_string();
    let mut n = 1;
    while ex
        .inner
        .store
        .archive_name_taken(repo, &name)
        .map_err(|e| Outcome::error(e.to_string()))?
    {
        n += 1;
        name = format!("{base}-{n}");
    }
    Ok(name)
}

async fn run_hook(
    log: &JobLog<'_>,
    side: &ClientSide,
    which: &str,
    hook: &str,
    status: &str,
    job: &Job,
    cancel: &CancellationToken,
) -> Result<i32, Outcome> {
    log.info(&format!("running {which}"));
    let cmd = RemoteCommand::new(["sh", "-c", hook])
        .env("CYBORG_JOB_ID", job.id.to_string())
        .env("CYBORG_JOB_STATUS", status)
        .env("CYBORG_ARCHIVE_NAME", job.archive_name.clone());
    // Hooks run with nothing forwarded: no agent, no relay.
    let r = run_logged(log, &side.plain, &side.wrap(cmd), Stdout::Log, cancel)
        .await
        .map_err(run_error_outcome)?;
    Ok(r.code)
}

pub(crate) async fn backup(ex: &Executor, job: &Job, cancel: &CancellationToken) -> Outcome {
    let store = &ex.inner.store;
    let ctx = tryo!(repo_ctx(ex, job.repository));
    let mut log = log_for(ex, job, Some(&ctx));
    let policy = tryo!(crate::jobs::job_policy(ex, job));
    let client = tryo!(crate::jobs::job_client(ex, job));
    // The policy's extra_vars with its sealed database password.
    let full_vars = tryo!(store
        .policy_extra_vars(policy.id)
        .map_err(|e| Outcome::error(format!("reading the policy's extra_vars: {e}"))));
    let vars = tryo!(parse_extra_vars(policy.policy_type, full_vars.expose())
        .map_err(|e| Outcome::error(format!("invalid extra_vars: {e}"))));
    // A vm policy runs on the VM's hypervisor; every other type on the client itself.
    let (mut spec, runs_on) = if policy.policy_type == PolicyType::Vm {
        let plan = tryo!(crate::vm::plan_stored(store, &policy.vmprovider, &client)
            .map_err(|e| Outcome::failed(None, e.to_string())));
        log.info(&format!(
            "VM {} is backed up on its hypervisor {}",
            client.hostname, plan.hypervisor
        ));
        let port = store
            .clients()
            .ok()
            .and_then(|cs| cs.into_iter().find(|c| c.hostname == plan.hypervisor))
            .map_or(22, |c| c.port);
        (
            plan.spec,
            Client {
                hostname: plan.hypervisor,
                port,
                ..client.clone()
            },
        )
    } else {
        (
            tryo!(borg::create_spec(&vars).map_err(|e| Outcome::error(e.to_string()))),
            client.clone(),
        )
    };
    log.secrets.extend(spec.secrets().cloned());
    let side = if policy.mode_pull {
        log.info("pull mode: the server relays the client's borg to the repository host");
        tryo!(pull_side(ex, &runs_on, &ctx.side, Access::Pair(&client))
            .await
            .map_err(Outcome::error))
    } else {
        tryo!(client_side(ex, &runs_on, &ctx.side, Access::Pair(&client))
            .await
            .map_err(Outcome::error))
    };
    let t = &side.transport;
    if policy.policy_type == PolicyType::Mail {
        let mut probe = vec![
            "sh".to_string(),
            "-c".into(),
            "for p; do [ -d \"$p\" ] && echo \"$p\"; done; true".into(),
            "sh".into(),
        ];
        probe.extend(spec.paths.iter().cloned());
        let r = tryo!(run_logged(
            &log,
            t,
            &side.wrap(RemoteCommand::new(probe)),
            Stdout::Capture,
            cancel
        )
        .await
        .map_err(run_error_outcome));
        spec.paths = r.stdout.lines().map(String::from).collect();
        if spec.paths.is_empty() {
            return Outcome::failed(
                None,
                "neither /var/mail nor /var/lib/mail exists on the client",
            );
        }
    }
    let base = borg::archive_name(policy.policy_type, &client.hostname, Utc::now());
    let name = tryo!(unique_archive_name(ex, ctx.repo.id, &base));
    tryo!(store
        .set_job_archive_name(job.id, &name)
        .map_err(|e| Outcome::error(e.to_string())));
    let mut job = job.clone();
    job.archive_name = name.clone();

    if !policy.prehook.trim().is_empty() {
        let code = tryo!(
            run_hook(
                &log,
                &side,
                "pre-hook",
                &policy.prehook,
                "running",
                &job,
                cancel
            )
            .await
        );
        if code != 0 {
            let outcome = Outcome::failed(
                Some(code),
                format!("pre-hook exited with status {code}; borg was not started"),
            );
            return posthook(&log, &side, &policy, &job, cancel, outcome).await;
        }
    }

    // The previous archive of the series is the best guess of how much this one reads.
    if let Some(prev) = store
        .archives(Some(ctx.repo.id), Some(client.id), Some(policy.id))
        .unwrap_or_default()
        .iter()
        .max_by_key(|a| a.time)
    {
        ex.inner.progress.expect(job.id, prev.original_size);
    }
    let cmd = side.wrap(side.env.create(&side.repo_url, &name, &spec));
    let outcome = match run_logged(&log, t, &cmd, Stdout::Capture, cancel).await {
        Err(e) => run_error_outcome(e),
        Ok(ran) => {
            let missing: Vec<&String> = spec
                .paths
                .iter()
                .filter(|p| {
                    ran.stderr_head
                        .iter()
                        .any(|l| l.starts_with(&format!("{p}: ")) && l.contains("[Errno 2]"))
                })
                .collect();
            if ran.code == borg::PRODUCER_FAILED {
                if borg::parse_create_json(&ran.stdout).is_ok() {
                    log.info(&format!(
                        "removing the partial archive {name} made from the failed command's output"
                    ));
                    let del = ctx.side.env.delete_archive(&ctx.side.path, &name);
                    let _ = run_logged(&log, &ctx.side.transport, &del, Stdout::Log, cancel).await;
                }
                let what = spec.source_name();
                Outcome::failed(
                    Some(ran.code),
                    format!(
                        "the command producing {what} failed: {}",
                        last_line(&ran.stderr_head)
                    ),
                )
            } else if ran.code >= 2 {
                Outcome::failed(
                    Some(ran.code),
                    format!("borg create failed: {}", last_line(&ran.stderr_head)),
                )
            } else if !missing.is_empty() {
                let list: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
                Outcome::failed(
                    Some(ran.code),
                    format!("source path does not exist: {}", list.join(", ")),
                )
            } else {
                match borg::parse_create_json(&ran.stdout) {
                    Err(e) => Outcome::failed(Some(ran.code), e),
                    Ok(res) => {
                        record_backup(ex, &log, &ctx, &policy, &client, &job, &res, cancel).await;
                        if ran.code == 1 {
                            Outcome {
                                status: JobStatus::Successful,
                                exit_code: Some(1),
                                explanation: "borg finished with warnings (see log)".into(),
                            }
                        } else {
                            Outcome::ok(format!("archive {name} created"))
                        }
                    }
                }
            }
        }
    };
    posthook(&log, &side, &policy, &job, cancel, outcome).await
}

/// Runs the post-hook (always, with the job's status in its environment).
async fn posthook(
    log: &JobLog<'_>,
    side: &ClientSide,
    policy: &Policy,
    job: &Job,
    cancel: &CancellationToken,
    outcome: Outcome,
) -> Outcome {
    if policy.posthook.trim().is_empty() || outcome.status == JobStatus::Canceled {
        return outcome;
    }
    match run_hook(
        log,
        side,
        "post-hook",
        &policy.posthook,
        outcome.status.as_str(),
        job,
        cancel,
    )
    .await
    {
        Ok(0) => outcome,
        Ok(code) if outcome.status == JobStatus::Successful => {
            Outcome::failed(Some(code), format!("post-hook exited with status {code}"))
        }
        Ok(_) => outcome,
        Err(o) if outcome.status == JobStatus::Successful => o,
        Err(_) => outcome,
    }
}

#[allow(clippy::too_many_arguments)]
async fn record_backup(
    ex: &Executor,
    log: &JobLog<'_>,
    ctx: &RepoCtx,
    policy: &Policy,
    client: &Client,
    job: &Job,
    res: &borg::CreateResult,
    cancel: &CancellationToken,
) {
    let store = &ex.inner.store;
    log.info(&format!(
        "archive {}: {} files, original {} B, compressed {} B, deduplicated {} B, {:.1} s",
        res.name,
        res.nfiles,
        res.original_size,
        res.compressed_size,
        res.deduplicated_size,
        res.duration
    ));
    let _ = store.set_job_sizes(
        job.id,
        res.original_size,
        res.compressed_size,
        res.deduplicated_size,
        res.nfiles,
    );
    let series = SeriesKey {
        repository: ctx.repo.id,
        policy: policy.id,
        client: client.id,
    };
    let sizes = ArchiveSizes {
        original: res.original_size,
        compressed: res.compressed_size,
        deduplicated: res.deduplicated_size,
        nfiles: res.nfiles,
    };
    if let Err(e) = store.record_archive(&res.name, series, Some(job.id), res.start, sizes) {
        log.info(&format!("cannot record archive: {e}"));
        return;
    }
    {
        if let Ok(r) = run_logged(
            log,
            &ctx.side.transport,
            &ctx.side.env.info_repo(&ctx.side.path),
            Stdout::Capture,
            cancel,
        )
        .await
        {
            match borg::parse_info_totals(&r.stdout) {
                Ok((o, c, d)) if r.code == 0 => {
                    let _ = store.set_repository_sizes(ctx.repo.id, o, c, d);
                }
                Ok(_) => {}
                Err(e) => log.info(&format!("repository totals unavailable: {e}")),
            }
        }
        // Free space of the repository's filesystem, for "repository full in N days".
        let df = RemoteCommand::new(["df", "-P", "-k", "--", &ctx.side.path]);
        if let Ok(r) = run_logged(log, &ctx.side.transport, &df, Stdout::Capture, cancel).await {
            match borg::parse_df_available(&r.stdout) {
                Some(free) if r.code == 0 => {
                    let _ = store.set_repository_free_space(ctx.repo.id, free);
                }
                _ => log.info("free space of the repository's filesystem unavailable"),
            }
        }
    }
    let follow = |job_type: JobType, name: String| NewJob {
        name,
        job_type,
        policy: Some(policy.id),
        client: Some(client.id),
        repository: Some(ctx.repo.id),
        archive_name: res.name.clone(),
        depends_on: Some(job.id),
        launch_type: "dependency".into(),
        created_by: job.created_by,
        extra_vars: String::new(),
    };
    let catalog = ex.enqueue(follow(JobType::Catalog, format!("Catalog {}", res.name)));
    if let Err(e) = &catalog {
        log.info(&format!("cannot queue the catalog job: {e}"));
    }
    if policy.retention_for(ctx.repo.id).is_set() {
        // The prune waits for the catalog: an anomaly it flags pauses the prune (prune.rs).
        let mut prune = follow(
            JobType::Prune,
            format!("Prune {} {}", client.hostname, policy.name),
        );
        prune.depends_on = catalog.map(|c| c.id).ok().or(prune.depends_on);
        if let Err(e) = ex.enqueue(prune) {
            log.info(&format!("cannot queue the prune job: {e}"));
        }
    }
}
