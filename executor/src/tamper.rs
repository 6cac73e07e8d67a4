//! Tamper detection around prune and compact. Clients write through append-only keys, so an
//! archive deleted by a compromised client stays in the repository's transaction log until a
//! `borg compact` under the server's own session makes the deletion final. Before the prune, after
//! it and after the compact, the repository's archive list is compared with the archives the
//! server recorded: one that vanished without a prune by this server marks the repository
//! tampered, stops prune and compact, and the prune job fails naming it (the alert follows).
//! The repository's transaction number at each clean comparison is kept as the rollback point
//! of the recovery described in the README.

use crate::borg;
use crate::jobs::{last_line, RepoCtx};
use crate::manager::Executor;
use crate::runner::{run_error_outcome, run_logged, JobLog, Outcome, Stdout};
use crate::transport::RemoteCommand;
use model::trust::{transaction_from_listing, TAMPER_DETECTED};
use model::*;
use std::collections::HashSet;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Lists the top-level names of a repository directory (`~/…` paths are relative to the home).
const LIST_REPOSITORY_DIR: &str =
    "p=$1; case $p in '~'|'~/'*) p=$HOME${p#\\~};; esac; cd -- \"$p\" && ls -1";

/// One step of a prune job, for messages.
#[derive(Clone, Copy)]
pub(crate) enum Step {
    BeforePrune,
    AfterPrune,
    AfterCompact,
}

impl Step {
    fn when(self) -> &'static str {
        match self {
            Step::BeforePrune => "before the prune",
            Step::AfterPrune => "while the prune ran",
            Step::AfterCompact => {
                "while the prune and compact ran (the compaction may have made the deletion final)"
            }
        }
    }
}

/// The names of the archives in the repository (`borg list --json` on its host).
pub(crate) async fn list(
    log: &JobLog<'_>,
    ctx: &RepoCtx,
    cancel: &CancellationToken,
) -> Result<HashSet<String>, Outcome> {
    let (t, env, path) = (&ctx.side.transport, &ctx.side.env, ctx.side.path.as_str());
    let l = run_logged(log, t, &env.list_archives(path), Stdout::Capture, cancel)
        .await
        .map_err(run_error_outcome)?;
    if l.code != 0 {
        log.info("repository listing failed: the catalog keeps every archive until the next successful listing");
        return Err(Outcome::failed(
            Some(l.code),
            format!("borg list failed: {}", last_line(&l.stderr_head)),
        ));
    }
    let archives = borg::parse_archive_list(&l.stdout).map_err(|e| Outcome::failed(None, e))?;
    Ok(archives.into_iter().map(|(n, _)| n).collect())
}

/// The repository's last committed transaction (borg's `index.N`), when readable.
pub(crate) async fn transaction(
    log: &JobLog<'_>,
    ctx: &RepoCtx,
    cancel: &CancellationToken,
) -> Option<i64> {
    let cmd = RemoteCommand::new(["sh", "-c", LIST_REPOSITORY_DIR, "sh", &ctx.side.path]);
    match run_logged(log, &ctx.side.transport, &cmd, Stdout::Capture, cancel).await {
        Ok(r) if r.code == 0 => transaction_from_listing(&r.stdout),
        _ => {
            log.info("cannot read the repository's transaction number");
            None
        }
    }
}

/// Marks the archives of a series that `borg prune` may delete: until a listing shows them
/// gone (forgotten) or present (unmarked), their absence is not taken for tampering.
pub(crate) fn mark_candidates(ex: &Executor, ctx: &RepoCtx, glob: &str) -> Result<(), Outcome> {
    let store = &ex.inner.store;
    let prefix = glob.trim_end_matches('*');
    let ids: Vec<ArchiveId> = store
        .archives(Some(ctx.repo.id), None, None)
        .map_err(|e| Outcome::error(e.to_string()))?
        .into_iter()
        .filter(|a| a.name.starts_with(prefix))
        .map(|a| a.id)
        .collect();
    store
        .set_archives_pruned(&ids, true)
        .map_err(|e| Outcome::error(e.to_string()))
}

/// Compares the repository's archives with the recorded ones after `step`: archives this
/// server's prune deleted are forgotten, every other missing archive is tampering (unless an
/// administrator cleared the mark, when they are forgotten too). Returns how many archives
/// were forgotten as pruned; records the transaction `tx` as good when nothing is amiss.
pub(crate) async fn reconcile(
    ex: &Executor,
    log: &JobLog<'_>,
    ctx: &RepoCtx,
    present: &HashSet<String>,
    tx: Option<i64>,
    step: Step,
) -> Result<usize, Outcome> {
    let store = &ex.inner.store;
    let err = |e: store::StoreError| Outcome::error(e.to_string());
    let repo = ctx.repo.id;
    let security = store.repository_security(repo).map_err(err)?;
    let candidates = store.pruned_archives(repo).map_err(err)?;
    let known = store.archives(Some(repo), None, None).map_err(err)?;
    let mut pruned = 0;
    let mut back = Vec::new();
    let mut missing = Vec::new();
    for a in known {
        match (present.contains(&a.name), candidates.contains(&a.id)) {
            (true, true) => back.push(a.id),
            (true, false) => {}
            (false, true) => {
                if forget(ex, log, &a, "pruned").await {
                    pruned += 1;
                }
            }
            (false, false) => missing.push(a),
        }
    }
    store.set_archives_pruned(&back, false).map_err(err)?;
    if security.tamper == TamperState::Cleared {
        for a in &missing {
            forget(ex, log, a, "gone after the tamper mark was cleared").await;
        }
        store.finish_tamper_clearing(repo).map_err(err)?;
        log.info("tamper mark cleared by an administrator: the repository's archive list is accepted as it is");
    } else if !missing.is_empty() {
        return Err(tampered(ex, log, ctx, &missing, step));
    }
    if let Some(n) = tx {
        store.set_last_good_transaction(repo, n).map_err(err)?;
        log.info(&format!(
            "every recorded archive is present at transaction {n}"
        ));
    }
    Ok(pruned)
}

/// Removes an archive gone from the repository from the catalog, then from the store.
async fn forget(ex: &Executor, log: &JobLog<'_>, a: &Archive, why: &str) -> bool {
    let sink = Arc::clone(&ex.inner.sink);
    let id = a.id;
    match tokio::task::spawn_blocking(move || sink.forget(id)).await {
        Ok(Ok(())) => {
            let _ = ex.inner.store.delete_archive(a.id);
            log.info(&format!(
                "archive {} {why}: removed from the catalog",
                a.name
            ));
            true
        }
        Ok(Err(e)) => {
            log.info(&format!(
                "cannot remove archive {} from the catalog: {e}",
                a.name
            ));
            false
        }
        Err(e) => {
            log.info(&format!("catalog task failed: {e}"));
            false
        }
    }
}

/// Marks the repository tampered and explains it; the prune job fails with this outcome.
fn tampered(
    ex: &Executor,
    log: &JobLog<'_>,
    ctx: &RepoCtx,
    missing: &[Archive],
    step: Step,
) -> Outcome {
    let names: Vec<String> = missing.iter().map(|a| a.name.clone()).collect();
    if let Err(e) = ex.inner.store.mark_repository_tampered(ctx.repo.id, &names) {
        log.info(&format!("cannot record the tamper mark: {e}"));
    }
    let rollback = ex
        .inner
        .store
        .repository_security(ctx.repo.id)
        .ok()
        .and_then(|s| s.last_good_transaction)
        .map(|n| format!(" The last transaction seen with every archive present is {n}."))
        .unwrap_or_default();
    for a in missing {
        log.info(&format!(
            "TAMPERED: archive {} (created {}) vanished without a prune by this server",
            a.name, a.time
        ));
    }
    Outcome::failed(
        None,
        format!(
            "{TAMPER_DETECTED}: archives vanished from repository {} without a prune by this server ({}): {}. \
             Prune and compact are stopped so that the deletion stays reversible: roll the repository back \
             (README, Security) and clear the mark (clearRepositoryTamper).{rollback}",
            ctx.repo.name,
            step.when(),
            names.join(", ")
        ),
    )
}
