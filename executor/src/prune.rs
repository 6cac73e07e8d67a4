//! Prune of one series by its policy's retention, then `borg compact`, guarded: an
//! unacknowledged anomaly of the series or a repository marked tampered pauses both, and the
//! repository's archive list is compared with the recorded archives before the prune, after it
//! and after the compact (`tamper.rs`); archives gone are forgotten only after such a listing.

use crate::borg;
use crate::jobs::{last_line, log_for, repo_ctx};
use crate::manager::Executor;
use crate::runner::{run_error_outcome, run_logged, Outcome, Stdout};
use crate::tamper::{self, Step};
use crate::tryo;
use model::trust::{ANOMALY_PAUSED, TAMPER_PAUSED};
use model::*;
use tokio_util::sync::CancellationToken;

/// A prune that must not run now: canceled, with the reason as its explanation.
fn paused(why: String) -> Outcome {
    Outcome {
        status: JobStatus::Canceled,
        exit_code: None,
        explanation: why,
    }
}

/// Why prune and compact of this series wait, if they do: an anomaly no administrator
/// acknowledged, or the repository's tamper mark.
pub(crate) fn pause_reason(
    ex: &Executor,
    series: SeriesKey,
    repo_name: &str,
) -> Result<Option<String>, Outcome> {
    let store = &ex.inner.store;
    let err = |e: store::StoreError| Outcome::error(e.to_string());
    let security = store.repository_security(series.repository).map_err(err)?;
    if security.tamper == TamperState::Tampered {
        return Ok(Some(format!(
            "{TAMPER_PAUSED} {repo_name} (archives missing: {}); an administrator clears the mark \
             after recovery (clearRepositoryTamper)",
            security.tampered_archives.join(", ")
        )));
    }
    let flagged = store.unacknowledged_anomalies(series).map_err(err)?;
    Ok(flagged.first().map(|a| {
        format!(
            "{ANOMALY_PAUSED}: archive {} was flagged ({}); old archives of this series are kept \
             until an administrator acknowledges it (acknowledgeAnomaly)",
            a.name, a.anomaly
        )
    }))
}

pub(crate) async fn prune(ex: &Executor, job: &Job, cancel: &CancellationToken) -> Outcome {
    let ctx = tryo!(repo_ctx(ex, job.repository));
    let log = log_for(ex, job, Some(&ctx));
    let policy = tryo!(crate::jobs::job_policy(ex, job));
    let client = tryo!(crate::jobs::job_client(ex, job));
    // A copy repository is pruned by its own retention when it has one.
    let retention = policy.retention_for(ctx.repo.id);
    if !retention.is_set() {
        return Outcome::ok("no keep_* set: nothing to prune");
    }
    let series = SeriesKey {
        repository: ctx.repo.id,
        policy: policy.id,
        client: client.id,
    };
    if let Some(why) = tryo!(pause_reason(ex, series, &ctx.repo.name)) {
        log.info(&why);
        return paused(why);
    }
    let t = &ctx.side.transport;
    let (env, path) = (&ctx.side.env, ctx.side.path.as_str());
    let glob = borg::series_glob(policy.policy_type, &client.hostname);

    let tx = tamper::transaction(&log, &ctx, cancel).await;
    let before = tryo!(tamper::list(&log, &ctx, cancel).await);
    tryo!(tamper::reconcile(ex, &log, &ctx, &before, tx, Step::BeforePrune).await);
    tryo!(tamper::mark_candidates(ex, &ctx, &glob));
    let r = tryo!(run_logged(
        &log,
        t,
        &env.prune(path, &glob, &retention),
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
    let after = tryo!(tamper::list(&log, &ctx, cancel).await);
    let gone = tryo!(tamper::reconcile(ex, &log, &ctx, &after, None, Step::AfterPrune).await);
    let c = tryo!(run_logged(&log, t, &env.compact(path), Stdout::Log, cancel)
        .await
        .map_err(run_error_outcome));
    if c.code >= 2 {
        return Outcome::failed(
            Some(c.code),
            format!("borg compact failed: {}", last_line(&c.stderr_head)),
        );
    }
    let tx = tamper::transaction(&log, &ctx, cancel).await;
    let now = tryo!(tamper::list(&log, &ctx, cancel).await);
    tryo!(tamper::reconcile(ex, &log, &ctx, &now, tx, Step::AfterCompact).await);
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
