//! The running server backs itself up on the `self_backup.cron` schedule (UTC), exactly as
//! `cyborgbackup admin backup` does. The outcome is logged and kept as internal state
//! (`Store::state`) `self_backup.last_success` / `self_backup.last_error` (time and archive, or the reason).

use super::{backup, SelfBackupConfig, Target};
use anyhow::Result;
use chrono::Utc;
use std::path::Path;
use std::sync::Arc;
use store::Store;

/// Internal state: `<RFC 3339 time> <archive>` of the last scheduled self-backup that succeeded.
pub const STATE_LAST_SUCCESS: &str = "self_backup.last_success";
/// Internal state: `<RFC 3339 time> <reason>` of the last scheduled self-backup that failed.
pub const STATE_LAST_ERROR: &str = "self_backup.last_error";

/// Starts the schedule when `self_backup.cron` is set. The repository and passphrase are
/// resolved now, so that a misconfiguration stops the server's start with its reason.
pub fn start(cfg: &SelfBackupConfig, data_dir: &Path, store: Store) -> Result<bool> {
    let Some(line) = cfg.cron.clone() else {
        return Ok(false);
    };
    let cron = model::CronExpr::parse(&line)
        .map_err(|e| anyhow::anyhow!("self_backup.cron: {line:?}: {e}"))?;
    let borg = Arc::new(cfg.borg(data_dir, Target::default())?);
    let keep = cfg.keep;
    let data_dir = data_dir.to_path_buf();
    tracing::info!(cron = %line, repository = borg.repository(), "self-backup scheduled");
    tokio::spawn(async move {
        loop {
            let now = Utc::now();
            let Some(next) = cron.next_after(now) else {
                tracing::warn!(cron = %line, "self-backup schedule has no next run");
                return;
            };
            tokio::time::sleep((next - now).to_std().unwrap_or_default()).await;
            let (dir, b, st) = (data_dir.clone(), borg.clone(), store.clone());
            // The backup and the record of its outcome, off the async runtime.
            let done = tokio::task::spawn_blocking(move || {
                let at = Utc::now().to_rfc3339();
                let recorded = match backup(&dir, &b, keep) {
                    Ok(r) => st.set_state(STATE_LAST_SUCCESS, &format!("{at} {}", r.archive)),
                    Err(e) => {
                        tracing::error!(error = format!("{e:#}"), "scheduled self-backup failed");
                        st.set_state(STATE_LAST_ERROR, &format!("{at} {e:#}"))
                    }
                };
                if let Err(e) = recorded {
                    tracing::warn!(error = %e, "cannot record the self-backup outcome");
                }
            })
            .await;
            if let Err(e) = done {
                tracing::error!(error = %e, "scheduled self-backup panicked");
            }
        }
    });
    Ok(true)
}
