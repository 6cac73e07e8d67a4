//! The catalog job: streams `borg list --json-lines` of one archive from the repository host
//! into the catalog, records the catalog state and any anomaly the catalog flags.

use crate::jobs::{last_line, log_for, repo_ctx};
use crate::manager::Executor;
use crate::runner::Outcome;
use crate::tryo;
use model::*;
use std::io::Read;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Reader that ends the listing only when borg exited 0, so that a listing cut short by a
/// failing borg is an error for the ingester, never a complete-looking archive.
struct ExitChecked<R> {
    inner: R,
    exit: std::sync::mpsc::Receiver<i32>,
}

impl<R: Read> Read for ExitChecked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            match self.exit.recv() {
                Ok(0) => {}
                Ok(code) => {
                    return Err(std::io::Error::other(format!(
                        "borg list exited with status {code}"
                    )))
                }
                Err(_) => {
                    return Err(std::io::Error::other(
                        "borg list did not report an exit status",
                    ))
                }
            }
        }
        Ok(n)
    }
}

pub(crate) async fn catalog(ex: &Executor, job: &Job, cancel: &CancellationToken) -> Outcome {
    let store = &ex.inner.store;
    let ctx = tryo!(repo_ctx(ex, job.repository));
    let log = log_for(ex, job, Some(&ctx));
    let archive = match store.archive_by_name(ctx.repo.id, &job.archive_name) {
        Ok(Some(a)) => a,
        Ok(None) => return Outcome::error(format!("archive {} is not recorded", job.archive_name)),
        Err(e) => return Outcome::error(e.to_string()),
    };
    let _ = store.set_catalog_state(archive.id, CatalogState::Running, "", None);
    let t = &ctx.side.transport;
    let cmd = ctx.side.env.list_entries(&ctx.side.path, &archive.name);
    log.info(&format!("$ {}", cmd.display()));
    let mut p = match t.spawn(&cmd).await {
        Ok(p) => p,
        Err(e) => {
            let _ = store.set_catalog_state(archive.id, CatalogState::Failed, &e.to_string(), None);
            return Outcome::error(e.to_string());
        }
    };
    let stdout = std::mem::replace(&mut p.stdout, Box::pin(tokio::io::empty()));
    let stderr = std::mem::replace(&mut p.stderr, Box::pin(tokio::io::empty()));
    let (tx, rx) = std::sync::mpsc::channel();
    let sink = Arc::clone(&ex.inner.sink);
    let aref = ArchiveRef {
        id: archive.id,
        name: archive.name.clone(),
        series: SeriesKey {
            repository: archive.repository,
            policy: archive.policy,
            client: archive.client,
        },
        time: archive.time,
    };
    let ingest = tokio::task::spawn_blocking(move || {
        let bridge = tokio_util::io::SyncIoBridge::new(stdout);
        let mut reader = std::io::BufReader::with_capacity(
            1 << 20,
            ExitChecked {
                inner: bridge,
                exit: rx,
            },
        );
        sink.ingest(&aref, &mut reader)
    });
    let work = async {
        let head = crate::runner::log_stderr(&log, stderr).await;
        let code = p.wait().await;
        let _ = tx.send(*code.as_ref().unwrap_or(&-1));
        (head, code)
    };
    let (head, code) = tokio::select! {
        r = work => r,
        _ = cancel.cancelled() => {
            p.stop().await;
            let _ = store.set_catalog_state(archive.id, CatalogState::Failed, "canceled", None);
            return Outcome { status: JobStatus::Canceled, exit_code: None, explanation: "canceled".into() };
        }
    };
    let result = ingest
        .await
        .map_err(|e| format!("ingester crashed: {e}"))
        .and_then(|r| r);
    let outcome = match (code, result) {
        (Ok(0), Ok(summary)) => {
            log.info(&format!(
                "catalog: {} entries, {} new versions, {} removed",
                summary.entries, summary.new_versions, summary.removed
            ));
            let _ = store.set_catalog_state(
                archive.id,
                CatalogState::Complete,
                "",
                Some(summary.entries as i64),
            );
            // A copy and its primary are compared once both are catalogued.
            crate::copy_check::verify(ex, &log, &archive).await;
            let sink = Arc::clone(&ex.inner.sink);
            let id = archive.id;
            match tokio::task::spawn_blocking(move || sink.anomaly(id))
                .await
                .ok()
                .flatten()
            {
                Some(reason) => {
                    log.info(&format!("ANOMALY: {reason}"));
                    let _ = store.set_archive_anomaly(archive.id, &reason);
                    Outcome::ok(format!(
                        "{} entries catalogued; anomaly: {reason}",
                        summary.entries
                    ))
                }
                None => Outcome::ok(format!("{} entries catalogued", summary.entries)),
            }
        }
        (Ok(0), Err(e)) => {
            let why = format!("catalog ingestion failed: {e}");
            let _ = store.set_catalog_state(archive.id, CatalogState::Failed, &why, None);
            Outcome::failed(None, why)
        }
        (Ok(code), r) => {
            let why = format!("borg list failed (status {code}): {}", last_line(&head));
            if let Err(e) = r {
                log.info(&format!("ingestion aborted: {e}"));
            }
            let _ = store.set_catalog_state(archive.id, CatalogState::Failed, &why, None);
            Outcome::failed(Some(code), why)
        }
        (Err(e), _) => {
            let _ = store.set_catalog_state(archive.id, CatalogState::Failed, &e.to_string(), None);
            Outcome::error(e.to_string())
        }
    };
    if outcome.status != JobStatus::Successful {
        log.info("the backup itself is not affected: its archive is safe in the repository");
    }
    outcome
}
