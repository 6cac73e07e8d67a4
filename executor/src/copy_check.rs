//! Copies verified: once a copy archive and the primary archive of the same run are both in
//! the catalog, the catalog compares them (paths, sizes, mtimes; changes between the two runs
//! told apart from files missing) and the verdict is stored on the copy archive. Runs after
//! every catalog job, for whichever of the two lands last.

use crate::manager::Executor;
use crate::runner::JobLog;
use chrono::Duration;
use model::copies::comparison_verdict;
use model::{Archive, CatalogState};
use store::CopyVerification;

/// The archives of the same run are at most this far apart (a copy's offset plus a long
/// backup); a copy with no primary archive that close is left unverified.
const SAME_RUN: i64 = 26;

/// The archive of `candidates` closest in time to `a`, if it is catalogued and of the same run.
fn same_run<'a>(a: &Archive, candidates: &'a [Archive]) -> Option<&'a Archive> {
    candidates
        .iter()
        .filter(|c| c.catalog_state == CatalogState::Complete)
        .min_by_key(|c| (c.time - a.time).num_seconds().abs())
        .filter(|c| (c.time - a.time).abs() <= Duration::hours(SAME_RUN))
}

/// Compares the copy/primary pairs of the run `archive` belongs to, and stores each verdict.
pub(crate) async fn verify(ex: &Executor, log: &JobLog<'_>, archive: &Archive) {
    let pairs = match pairs(ex, archive) {
        Ok(p) => p,
        Err(e) => {
            log.info(&format!("copy verification skipped: {e}"));
            return;
        }
    };
    for (primary, copy) in pairs {
        let sink = std::sync::Arc::clone(&ex.inner.sink);
        let since = primary.time.min(copy.time);
        let (p, c) = (primary.id, copy.id);
        let counts = match tokio::task::spawn_blocking(move || sink.compare(p, c, since)).await {
            Ok(Ok(counts)) => counts,
            Ok(Err(e)) => {
                log.info(&format!("copy verification of {} failed: {e}", copy.name));
                continue;
            }
            Err(e) => {
                log.info(&format!("copy verification of {} crashed: {e}", copy.name));
                continue;
            }
        };
        let differences = counts.missing + counts.extra + counts.changed;
        let verdict = comparison_verdict(differences, counts.unexplained);
        let summary = format!(
            "copy {} against primary {}: {} same, {} missing, {} extra, {} changed; {} changed \
             between the runs, {} unexplained",
            copy.name,
            primary.name,
            counts.same,
            counts.missing,
            counts.extra,
            counts.changed,
            counts.between_runs,
            counts.unexplained
        );
        log.info(&format!("copy verified ({verdict}): {summary}"));
        tracing::info!(copy = %copy.name, primary = %primary.name, verdict, "copy verified");
        let record = CopyVerification {
            archive: copy.id,
            primary_archive: Some(primary.id),
            verdict: verdict.into(),
            counts,
            summary,
            checked: chrono::Utc::now(),
        };
        if let Err(e) = ex.inner.store.record_copy_verification(&record) {
            log.info(&format!("cannot record the copy verification: {e}"));
        }
    }
}

/// (primary, copy) archive pairs to compare now: the archive's primary when it is a copy, or
/// every copy of its run when it is the primary.
fn pairs(ex: &Executor, archive: &Archive) -> Result<Vec<(Archive, Archive)>, store::StoreError> {
    let store = &ex.inner.store;
    let policy = store.policy(archive.policy)?;
    if policy.copies.is_empty() {
        return Ok(Vec::new());
    }
    let series = |r| store.archives(Some(r), Some(archive.client), Some(archive.policy));
    if archive.repository == policy.repository {
        let mut out = Vec::new();
        for c in &policy.copies {
            let copies = series(c.repository)?;
            if let Some(copy) = same_run(archive, &copies) {
                out.push((archive.clone(), copy.clone()));
            }
        }
        return Ok(out);
    }
    if !policy
        .copies
        .iter()
        .any(|c| c.repository == archive.repository)
    {
        return Ok(Vec::new());
    }
    let primaries = series(policy.repository)?;
    Ok(same_run(archive, &primaries)
        .map(|p| vec![(p.clone(), archive.clone())])
        .unwrap_or_default())
}
