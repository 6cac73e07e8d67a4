//! Repository trust alerts, by mail and webhook like the other alerts: a repository marked
//! tampered (`repository_tampered`: archives vanished without a prune by this server, named,
//! with the rollback point) and a repository that is not the one prepared
//! (`repository_identity_failed`: replaced, or turned unencrypted).

use crate::alerts::{base_payload, Alert, Names};
use model::trust::{IDENTITY_FAILED, TAMPER_DETECTED};
use model::Job;
use serde_json::json;
use store::Store;

/// The trust alert a failed job raises, if it is one.
pub(crate) fn alert_for(store: &Store, job: &Job, n: &Names<'_>) -> Option<Alert> {
    let why = &job.job_explanation;
    if why.starts_with(TAMPER_DETECTED) {
        let security = job
            .repository
            .and_then(|r| store.repository_security(r).ok());
        let missing = security
            .as_ref()
            .map(|s| s.tampered_archives.clone())
            .unwrap_or_default();
        let last_good = security.as_ref().and_then(|s| s.last_good_transaction);
        let mut payload = base_payload(job, n);
        payload["event"] = json!("repository_tampered");
        payload["missing_archives"] = json!(missing);
        payload["last_good_transaction"] = json!(last_good);
        let rollback = match last_good {
            Some(t) => format!(
                "Roll the repository back to transaction {t}, the last one the server saw with \
                 every archive present (or to a later one the `transactions` file shows was \
                 before the deletion)"
            ),
            None => "Roll the repository back to the last transaction before the deletion \
                     (see its `transactions` file)"
                .to_string(),
        };
        return Some(Alert {
            kind: "repository_tampered",
            subject: format!("[CyBorgBackup] REPOSITORY TAMPERED: {}", n.repository),
            text: format!(
                "Archives vanished from repository {} without a prune by this server \
                 (job #{}):\n\n{}\n\n\
                 Someone deleted them, most likely through a client's append-only key. Prune and \
                 compact of this repository are stopped: borg keeps the deleted data in the \
                 repository until a compaction, so the deletion can still be undone.\n\n\
                 {rollback}, following the README's recovery steps (Security: rolling back an \
                 append-only deletion) on the repository host, then clear the mark \
                 (clearRepositoryTamper, or Clear on the repository list).\n",
                n.repository,
                job.id.0,
                missing
                    .iter()
                    .map(|a| format!("  - {a}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
            payload,
        });
    }
    if why.starts_with(IDENTITY_FAILED) {
        let mut payload = base_payload(job, n);
        payload["event"] = json!("repository_identity_failed");
        return Some(Alert {
            kind: "repository_identity_failed",
            subject: format!("[CyBorgBackup] REPOSITORY REPLACED: {}", n.repository),
            text: format!(
                "Job #{} ({}) was refused before sending anything: the repository {} is not \
                 the one prepared.\n\n{}\n\n\
                 A repository swapped for another one (or for an unencrypted one) at the same \
                 path would receive backups its owner can read. Find out who changed it before \
                 accepting the new repository.\n",
                job.id.0, job.name, n.repository, why
            ),
            payload,
        });
    }
    None
}
