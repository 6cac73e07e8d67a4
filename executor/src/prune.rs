//! Prune of one series by its policy's retention, `borg compact`, then reconciliation of the
//! archives gone from the repository (only after a successful listing).

use crate::borg;
use crate::jobs::{last_line, log_for, repo_ctx};
use crate::manager::Executor;
use crate::runner::{run_error_outcome, run_logged, Outcome, Stdout};
use crate::tryo;
use model::*;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

pub(crate) async fn prune(ex: &Executor, job: &Job, cancel: &CancellationToken) -> Outcome {
    let store = &ex.inner.store;
    let ctx = tryo!(repo_ctx(ex, job.repository));
    let log = log_for(ex, job, Some(&ctx));
    let policy = tryo!(crate::jobs::job_policy(ex, job));
    let client = tryo!(crate::jobs::job_client(ex, job));
    if !policy.retention.is_set() {
        return Outcome::ok("no keep_* set: nothing to prune");
    }
    let t = &ctx.side.transport;
    let (env, path) = (&ctx.side.env, ctx.side.path.as_str());
    let glob = borg::series_glob(policy.policy_type, &client.hostname);
    let r = tryo!(run_logged(
        &log,
        t,
        &env.prune(path, &glob, &policy.retention),
        Stdout::Log,
        cancel
    )
    .await
    .map_err(run_error_outcome));
    if r.code >= 2 {
        return Outcome::failed(
            Some(r.code),
            format!("borg prune failed: {}", last_line(&r.stderr_head)),
        );
    }
    let c = tryo!(run_logged(&log, t, &env.compact(path), Stdout::Log, cancel)
        .await
        .map_err(run_error_outcome));
    if c.code >= 2 {
        return Outcome::failed(
            Some(c.code),
            format!("borg compact failed: {}", last_line(&c.stderr_head)),
        );
    }
    let l = tryo!(
        run_logged(&log, t, &env.list_archives(path), Stdout::Capture, cancel)
            .await
            .map_err(run_error_outcome)
    );
    if l.code != 0 {
        log.info("repository listing failed: the catalog keeps every archive until the next successful listing");
        return Outcome::failed(
            Some(l.code),
            format!(
                "borg list failed after prune: {}",
                last_line(&l.stderr_head)
            ),
        );
    }
    let present = match borg::parse_archive_list(&l.stdout) {
        Ok(p) => p,
        Err(e) => return Outcome::failed(None, e),
    };
    let names: std::collections::HashSet<&str> = present.iter().map(|(n, _)| n.as_str()).collect();
    let known = tryo!(store
        .archives(Some(ctx.repo.id), None, None)
        .map_err(|e| Outcome::error(e.to_string())));
    let mut gone = 0;
    for a in known
        .into_iter()
        .filter(|a| !names.contains(a.name.as_str()))
    {
        let sink = Arc::clone(&ex.inner.sink);
        let id = a.id;
        match tokio::task::spawn_blocking(move || sink.forget(id)).await {
            Ok(Ok(())) => {
                let _ = store.delete_archive(a.id);
                gone += 1;
                log.info(&format!(
                    "archive {} pruned: removed from the catalog",
                    a.name
                ));
            }
            Ok(Err(e)) => log.info(&format!(
                "cannot remove archive {} from the catalog: {e}",
                a.name
            )),
            Err(e) => log.info(&format!("catalog task failed: {e}")),
        }
    }
    Outcome::ok(format!("prune and compact done; {gone} archives removed"))
}

/// `borg check` of a repository (`--verify-data` when the job asks for it).
pub(crate) async fn check(ex: &Executor, job: &Job, cancel: &CancellationToken) -> Outcome {
    let ctx = tryo!(repo_ctx(ex, job.repository));
    let log = log_for(ex, job, Some(&ctx));
    let t = &ctx.side.transport;
    let (env, path) = (&ctx.side.env, ctx.side.path.as_str());
    let verify = serde_json::from_str::<serde_json::Value>(&job.extra_vars)
        .ok()
        .and_then(|v| v["verify_data"].as_bool())
        .unwrap_or(false);
    let r = tryo!(
        run_logged(&log, t, &env.check(path, verify), Stdout::Log, cancel)
            .await
            .map_err(run_error_outcome)
    );
    if r.code == 0 {
        Outcome::ok(if verify {
            "repository and data verified"
        } else {
            "repository consistent"
        })
    } else {
        Outcome::failed(
            Some(r.code),
            format!("borg check found problems: {}", last_line(&r.stderr_head)),
        )
    }
}
