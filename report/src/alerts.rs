//! Alerts for failed integrity checks (`borg check` jobs) and failed restore drills: a mail
//! saying plainly what failed, to the users who want to hear about failed backups, and a
//! webhook event (`integrity_check_failed`, `restore_test_failed`) with the drill's evidence.
//! Repository trust alerts (tampered, replaced) are in `trust_alerts.rs`.

use crate::mail::MailContent;
use crate::notifier::{enqueue_mail, human_bytes};
use crate::settings::{MailSettings, WebhookSettings};
use crate::ReportError;
use model::{Job, JobStatus, JobType};
use serde_json::json;
use store::{Channel, NewOutbox, NotifyPref, Store};

/// A failure worth its own alert.
pub(crate) struct Alert {
    /// Outbox kind and webhook event.
    pub kind: &'static str,
    pub subject: String,
    pub text: String,
    pub payload: serde_json::Value,
}

/// The mail settings, or `None` when mail is not configured (alerts then go to the webhook only).
pub(crate) fn optional_mail(store: &Store) -> Result<Option<MailSettings>, ReportError> {
    match MailSettings::load(store) {
        Ok(m) => Ok(Some(m)),
        Err(ReportError::NotConfigured(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Queues a series' alert: the webhook, and mail to the users whose grants reach the series
/// and who want to hear about failed backups.
pub(crate) fn to_series(
    store: &Store,
    mail: Option<&MailSettings>,
    alert: &Alert,
    client: model::ClientId,
    policy: model::PolicyId,
) -> Result<(), ReportError> {
    webhook(store, alert)?;
    if let Some(m) = mail {
        let to = crate::audience::for_series(store, NotifyPref::BackupFailed, client, policy)?;
        mail_to(store, m, alert, &to)?;
    }
    Ok(())
}

/// Names of what a job concerns, for messages.
pub(crate) struct Names<'a> {
    pub hostname: &'a str,
    pub policy: &'a str,
    pub repository: &'a str,
}

/// The alert a finished job raises, if any: a check or a drill that failed (not canceled).
pub(crate) fn alert_for(store: &Store, job: &Job, n: &Names<'_>) -> Option<Alert> {
    if !matches!(job.status, JobStatus::Failed | JobStatus::Error) {
        return None;
    }
    if let Some(a) = crate::trust_alerts::alert_for(store, job, n) {
        return Some(a);
    }
    let base = base_payload(job, n);
    match job.job_type {
        JobType::Check => {
            let mut payload = base;
            payload["event"] = json!("integrity_check_failed");
            let findings = check_findings(store, job);
            payload["findings"] = json!(findings);
            Some(Alert {
                kind: "integrity_check_failed",
                subject: format!("[CyBorgBackup] INTEGRITY CHECK FAILED: {}", n.repository),
                text: format!(
                    "borg check of repository {} found problems (job #{} {}).\n\n{}\n\n\
                     What borg reported:\n{}\n\n\
                     Archives in this repository may not restore. Look at the job log, then run \
                     `borg check --repair` on the repository host after a copy of the repository \
                     has been taken.\n",
                    n.repository,
                    job.id.0,
                    job.status.as_str(),
                    job.job_explanation,
                    findings
                        .iter()
                        .map(|l| format!("  {l}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                ),
                payload,
            })
        }
        JobType::RestoreTest => {
            let drill = store
                .last_restore_test(job.policy, job.client, None)
                .ok()
                .flatten()
                .filter(|t| t.job == Some(job.id));
            let mut text = format!(
                "The restore drill of {} ({}) in repository {} failed (job #{}).\n\n{}\n",
                n.hostname, n.policy, n.repository, job.id.0, job.job_explanation
            );
            let mut payload = base;
            payload["event"] = json!("restore_test_failed");
            if let Some(t) = &drill {
                text.push_str(&format!(
                    "\nArchives: {}\nFiles checked: {} ({})\n\nProblems:\n",
                    t.archives.join(", "),
                    t.files_checked,
                    human_bytes(t.bytes)
                ));
                for m in t.mismatches.iter().take(50) {
                    text.push_str(&format!(
                        "  - {} {}: {}\n",
                        m.archive,
                        if m.path.is_empty() { "-" } else { &m.path },
                        m.reason
                    ));
                }
                payload["restore_test"] = json!({
                    "id": t.id, "verdict": t.verdict.as_str(), "archives": t.archives,
                    "files_checked": t.files_checked, "bytes": t.bytes,
                    "mismatches": t.mismatches, "notes": t.notes, "summary": t.summary,
                });
            }
            Some(Alert {
                kind: "restore_test_failed",
                subject: format!(
                    "[CyBorgBackup] RESTORE TEST FAILED: {} {}",
                    n.hostname, n.policy
                ),
                text,
                payload,
            })
        }
        _ => None,
    }
}

/// What every alert's webhook event says about its job.
pub(crate) fn base_payload(job: &Job, n: &Names<'_>) -> serde_json::Value {
    json!({
        "job": {"id": job.id.0, "name": job.name, "type": job.job_type.as_str(),
                "status": job.status.as_str(), "explanation": job.job_explanation,
                "finished": job.finished},
        "client": {"id": job.client.map(|c| c.0), "hostname": n.hostname},
        "policy": {"id": job.policy.map(|p| p.0), "name": n.policy},
        "repository": {"id": job.repository.map(|r| r.0), "name": n.repository},
    })
}

/// The lines of a check job's log that name problems (at most 20), else its last lines.
fn check_findings(store: &Store, job: &Job) -> Vec<String> {
    let tail = store.job_output_tail(job.id, 200).unwrap_or_default();
    let problem = |l: &String| {
        let l = l.to_ascii_lowercase();
        [
            "error",
            "mismatch",
            "corrupt",
            "missing",
            "integrity",
            "damaged",
        ]
        .iter()
        .any(|w| l.contains(w))
    };
    let found: Vec<String> = tail
        .iter()
        .filter(|l| problem(l))
        .take(20)
        .cloned()
        .collect();
    if found.is_empty() {
        tail.iter().rev().take(10).rev().cloned().collect()
    } else {
        found
    }
}

/// Queues the alert's webhook event when a webhook is set.
pub(crate) fn webhook(store: &Store, alert: &Alert) -> Result<(), ReportError> {
    if let Some(w) = WebhookSettings::load(store)? {
        store.enqueue_outbox(&NewOutbox {
            channel: Channel::Webhook,
            kind: alert.kind.into(),
            recipients: w.url,
            subject: alert.subject.clone(),
            payload: alert.payload.to_string().into_bytes(),
        })?;
    }
    Ok(())
}

/// Mails the alert to the users who want to hear about failed backups and whose grants reach
/// the job that raised it.
pub(crate) fn mail(
    store: &Store,
    settings: &MailSettings,
    alert: &Alert,
    job: &model::Job,
) -> Result<(), ReportError> {
    let recipients = crate::audience::for_job(store, NotifyPref::BackupFailed, job)?;
    mail_to(store, settings, alert, &recipients)
}

/// Mails the alert to `recipients` (already filtered by their grants).
pub(crate) fn mail_to(
    store: &Store,
    settings: &MailSettings,
    alert: &Alert,
    recipients: &[String],
) -> Result<(), ReportError> {
    if recipients.is_empty() {
        return Ok(());
    }
    let content = MailContent {
        subject: alert.subject.clone(),
        text: alert.text.clone(),
        html: None,
        images: Vec::new(),
    };
    enqueue_mail(store, settings, alert.kind, recipients, &content)?;
    Ok(())
}
