//! The work of each job type: repository and client preparation, backup, catalog listing,
//! prune with compact and reconciliation.

use crate::borg;
use crate::manager::Executor;
use crate::runner::{run_error_outcome, run_logged, JobLog, Outcome, Stdout};
use crate::targets::{client_side, client_transport, pull_side, repo_side, ClientSide, RepoSide};
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
    let side = repo_side(ex, &repo, passphrase).map_err(Outcome::error)?;
    Ok(RepoCtx { repo, side })
}

pub(crate) fn log_for<'a>(ex: &'a Executor, job: &Job, ctx: Option<&RepoCtx>) -> JobLog<'a> {
    JobLog {
        ex,
        job: job.id,
        secrets: ctx
            .and_then(|c| c.side.env.passphrase.clone())
            .into_iter()
            .collect(),
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
pub(crate) use crate::prune::{check, prune};

pub(crate) async fn prepare_repository(
    ex: &Executor,
    job: &Job,
    cancel: &CancellationToken,
) -> Outcome {
    let ctx = tryo!(repo_ctx(ex, job.repository));
    let log = log_for(ex, job, Some(&ctx));
    let path = ctx.side.path.clone();
    let t = &ctx.side.transport;
    let env = &ctx.side.env;
    let info = tryo!(
        run_logged(&log, t, &env.info_repo(&path), Stdout::Capture, cancel)
            .await
            .map_err(run_error_outcome)
    );
    if info.code != 0 {
        let text = info.stderr_head.join("\n");
        let missing = text.contains("does not exist") || text.contains("is not a valid repository");
        if !missing {
            return Outcome::failed(
                Some(info.code),
                format!(
                    "repository {path} exists but cannot be opened: {}",
                    last_line(&info.stderr_head)
                ),
            );
        }
        if env.passphrase.is_none() {
            log.info("repository has no passphrase (repository_key): initialising it unencrypted (-e none)");
        }
        if let Some(parent) = std::path::Path::new(&path)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
        {
            let mk = RemoteCommand::new(["mkdir", "-p", "--", &parent.display().to_string()]);
            let r = tryo!(run_logged(&log, t, &mk, Stdout::Log, cancel)
                .await
                .map_err(run_error_outcome));
            if r.code != 0 {
                return Outcome::failed(
                    Some(r.code),
                    format!("cannot create {}", parent.display()),
                );
            }
        }
        let init = tryo!(run_logged(&log, t, &env.init(&path), Stdout::Log, cancel)
            .await
            .map_err(run_error_outcome));
        if init.code != 0 {
            return Outcome::failed(
                Some(init.code),
                format!("borg init failed: {}", last_line(&init.stderr_head)),
            );
        }
    } else {
        log.info("repository exists and opens with the stored passphrase");
    }
    let ready = RepositoryInput {
        ready: Some(true),
        ..Default::default()
    };
    tryo!(ex
        .inner
        .store
        .update_repository(ctx.repo.id, &ready, None)
        .map_err(|e| Outcome::error(e.to_string())));
    Outcome::ok("repository ready")
}

pub(crate) async fn prepare_client(
    ex: &Executor,
    job: &Job,
    cancel: &CancellationToken,
) -> Outcome {
    let store = &ex.inner.store;
    let client = tryo!(job
        .client
        .ok_or_else(|| Outcome::error("job has no client"))
        .and_then(|c| store.client(c).map_err(|e| Outcome::error(e.to_string()))));
    let log = log_for(ex, job, None);
    let t = tryo!(client_transport(ex, &client, false).map_err(Outcome::error));
    let facts = RemoteCommand::new([
        "sh",
        "-c",
        "borg --version || exit 3; hostname -I 2>/dev/null || hostname -i 2>/dev/null || true",
    ]);
    let r = tryo!(run_logged(&log, &t, &facts, Stdout::Capture, cancel)
        .await
        .map_err(run_error_outcome));
    if r.code != 0 {
        return Outcome::failed(
            Some(r.code),
            format!(
                "borg is not installed on {} (install the borgbackup package)",
                client.hostname
            ),
        );
    }
    let mut lines = r.stdout.lines();
    let version = lines
        .next()
        .unwrap_or_default()
        .trim()
        .trim_start_matches("borg ")
        .to_string();
    let ip = lines
        .next()
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_default()
        .to_string();
    log.info(&format!("borg {version} on {} ({ip})", client.hostname));
    let input = ClientInput {
        version: Some(version),
        ip: Some(ip),
        ready: Some(true),
        ..Default::default()
    };
    tryo!(store
        .update_client(client.id, &input, None)
        .map_err(|e| Outcome::error(e.to_string())));
    Outcome::ok("client ready")
}

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
    let r = run_logged(log, &side.transport, &side.wrap(cmd), Stdout::Log, cancel)
        .await
        .map_err(run_error_outcome)?;
    Ok(r.code)
}

pub(crate) async fn backup(ex: &Executor, job: &Job, cancel: &CancellationToken) -> Outcome {
    let store = &ex.inner.store;
    let ctx = tryo!(repo_ctx(ex, job.repository));
    let mut log = log_for(ex, job, Some(&ctx));
    let policy = tryo!(job
        .policy
        .ok_or_else(|| Outcome::error("job has no policy"))
        .and_then(|p| store.policy(p).map_err(|e| Outcome::error(e.to_string()))));
    let client = tryo!(job
        .client
        .ok_or_else(|| Outcome::error("job has no client"))
        .and_then(|c| store.client(c).map_err(|e| Outcome::error(e.to_string()))));
    let vars = tryo!(parse_extra_vars(policy.policy_type, &policy.extra_vars)
        .map_err(|e| Outcome::error(format!("invalid extra_vars: {e}"))));
    // A vm policy runs on the VM's hypervisor; every other type on the client itself.
    let (mut spec, runs_on) = if policy.policy_type == PolicyType::Vm {
        let plan = tryo!(crate::vm::plan(&policy.vmprovider, &client, None)
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
        log.info(
            "pull mode: the repository host connects to the client and tunnels borg back to itself",
        );
        tryo!(pull_side(ex, &runs_on, &ctx.side)
            .await
            .map_err(Outcome::error))
    } else {
        tryo!(client_side(ex, &runs_on, &ctx.side)
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
    if let Err(e) = ex.enqueue(follow(JobType::Catalog, format!("Catalog {}", res.name))) {
        log.info(&format!("cannot queue the catalog job: {e}"));
    }
    if policy.retention.is_set() {
        if let Err(e) = ex.enqueue(follow(
            JobType::Prune,
            format!("Prune {} {}", client.hostname, policy.name),
        )) {
            log.info(&format!("cannot queue the prune job: {e}"));
        }
    }
}
