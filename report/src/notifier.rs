//! Notifications of finished jobs: per-job mail by each user's preferences, the launch summary
//! of a policy, and the webhook; all queued in the outbox.

use crate::mail::{self, MailContent};
use crate::settings::{Links, MailSettings, WebhookSettings};
use crate::ReportError;
use model::{Job, JobId, JobStatus, JobType};
use serde_json::json;
use store::{Channel, NewOutbox, NotifyPref, Store};

/// Log lines quoted at the end of a per-job mail.
const LOG_TAIL: i64 = 40;

/// Queues the notifications of every finished job not yet handled (blocking).
pub fn process_finished_jobs(store: &Store) -> Result<usize, ReportError> {
    let ids = store.jobs_to_notify(100)?;
    for id in &ids {
        if let Err(e) = notify_job(store, *id) {
            tracing::error!(job = id.0, error = %e, "could not queue the notifications of a job");
        }
        store.mark_job_notified(*id)?;
    }
    Ok(ids.len())
}

struct JobContext {
    job: Job,
    hostname: String,
    policy: String,
    repository: String,
    /// Links to the UI (the `url` setting).
    links: Links,
}

fn context(store: &Store, job: Job) -> JobContext {
    let hostname = job
        .client
        .and_then(|c| store.client(c).ok())
        .map(|c| c.hostname)
        .unwrap_or_else(|| "-".into());
    let policy = job
        .policy
        .and_then(|p| store.policy(p).ok())
        .map(|p| p.name)
        .unwrap_or_else(|| "-".into());
    let repository = job
        .repository
        .and_then(|r| store.repository(r).ok())
        .map(|r| r.name)
        .unwrap_or_else(|| "-".into());
    let links = Links::load(store).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "cannot read the url setting: mails without links");
        Links::default()
    });
    JobContext {
        job,
        hostname,
        policy,
        repository,
        links,
    }
}

fn notify_job(store: &Store, id: JobId) -> Result<(), ReportError> {
    let job = store.job(id)?;
    let ctx = context(store, job);
    if let Some(w) = WebhookSettings::load(store)? {
        let body = webhook_payload(&ctx);
        store.enqueue_outbox(&NewOutbox {
            channel: Channel::Webhook,
            kind: "job_finished".into(),
            recipients: w.url,
            subject: format!("job {} {}", ctx.job.id.0, ctx.job.status.as_str()),
            payload: body.to_string().into_bytes(),
        })?;
    }
    let names = crate::alerts::Names {
        hostname: &ctx.hostname,
        policy: &ctx.policy,
        repository: &ctx.repository,
    };
    let mut alert = crate::alerts::alert_for(store, &ctx.job, &names);
    if let Some(a) = &mut alert {
        a.text.push_str(&link_line(&ctx.links, ctx.job.id));
        a.payload["job"]["url"] = json!(ctx.links.job(ctx.job.id));
    }
    if let Some(a) = &alert {
        crate::alerts::webhook(store, a)?;
    }
    let anomaly = anomaly_of(store, &ctx.job);
    if let (Some(w), Some(a)) = (WebhookSettings::load(store)?, &anomaly) {
        store.enqueue_outbox(&NewOutbox {
            channel: Channel::Webhook,
            kind: "anomaly".into(),
            recipients: w.url,
            subject: format!("anomaly in archive {}", a.name),
            payload: anomaly_payload(&ctx, a).to_string().into_bytes(),
        })?;
    }
    let settings = match MailSettings::load(store) {
        Ok(s) => s,
        Err(ReportError::NotConfigured(why)) => {
            tracing::debug!(job = id.0, why, "mail not configured: no job mail");
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    if let Some(a) = &anomaly {
        // Those who want to hear about failures hear about anomalies too.
        let recipients = crate::audience::for_job(store, NotifyPref::BackupFailed, &ctx.job)?;
        if !recipients.is_empty() {
            let content = MailContent {
                subject: format!("[CyBorgBackup] ANOMALY: {} {}", ctx.hostname, ctx.policy),
                text: format!(
                    "The catalog flagged archive {} of {} ({}) in repository {}:\n\n{}\n\nA mass deletion or change can mean ransomware, a broken exclude, or a \
                     planned clean-up. Compare it with the previous archive (archiveDiff).\n\n\
                     Prune and compact of this series are paused until an administrator acknowledges the anomaly \
                     (acknowledgeAnomaly, or Acknowledge in the dashboard's anomaly list), so the archives before it are kept.\n",
                    a.name, ctx.hostname, ctx.policy, ctx.repository, a.anomaly
                ) + &link_line(&ctx.links, ctx.job.id),
                html: None,
                images: Vec::new(),
            };
            enqueue_mail(store, &settings, "anomaly", &recipients, &content)?;
        }
    }
    let pref = if ctx.job.status == JobStatus::Successful {
        NotifyPref::BackupSuccess
    } else {
        NotifyPref::BackupFailed
    };
    let recipients = crate::audience::for_job(store, pref, &ctx.job)?;
    if ctx.job.job_type == JobType::Job && !recipients.is_empty() {
        let content = job_mail(store, &ctx)?;
        enqueue_mail(store, &settings, "job", &recipients, &content)?;
    }
    if let Some(a) = &alert {
        crate::alerts::mail(store, &settings, a, &ctx.job)?;
    }
    launch_summary(store, &settings, &ctx)?;
    Ok(())
}

/// Queues one mail per recipient (addresses are not disclosed to each other).
pub fn enqueue_mail(
    store: &Store,
    settings: &MailSettings,
    kind: &str,
    recipients: &[String],
    content: &MailContent,
) -> Result<Vec<i64>, ReportError> {
    let mut ids = Vec::new();
    for r in recipients {
        let to = vec![r.clone()];
        let raw = mail::build(settings, &to, content)?;
        ids.push(store.enqueue_outbox(&NewOutbox {
            channel: Channel::Mail,
            kind: kind.into(),
            recipients: r.clone(),
            subject: content.subject.clone(),
            payload: raw,
        })?);
    }
    crate::wake();
    Ok(ids)
}

/// `[CyBorgBackup] FAILED: web1 rootfs`.
pub fn job_subject(status: JobStatus, hostname: &str, policy: &str) -> String {
    format!(
        "[CyBorgBackup] {}: {hostname} {policy}",
        status.as_str().to_uppercase()
    )
}

/// Sizes for people: 1536 → "1.5 KiB".
pub fn human_bytes(n: i64) -> String {
    let (unit, div) = crate::draw::byte_unit(n.max(0) as f64);
    if div == 1.0 {
        format!("{n} B")
    } else {
        format!("{:.1} {unit}", n as f64 / div)
    }
}

/// Seconds for people: 3725 → "1h 2m 5s".
pub fn human_duration(secs: f64) -> String {
    let s = secs.max(0.0).round() as i64;
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m {s}s"),
        (h, m, s) => format!("{h}h {m}m {s}s"),
    }
}

fn job_mail(store: &Store, ctx: &JobContext) -> Result<MailContent, ReportError> {
    let j = &ctx.job;
    let tail = store.job_output_tail(j.id, LOG_TAIL)?;
    let fmt_t = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_else(|| "-".into())
    };
    let rows = [
        ("Status", j.status.as_str().to_string()),
        ("Client", ctx.hostname.clone()),
        ("Policy", ctx.policy.clone()),
        ("Repository", ctx.repository.clone()),
        (
            "Archive",
            if j.archive_name.is_empty() {
                "-".into()
            } else {
                j.archive_name.clone()
            },
        ),
        ("Started", fmt_t(j.started)),
        ("Finished", fmt_t(j.finished)),
        ("Duration", human_duration(j.elapsed)),
        ("Original size", human_bytes(j.original_size)),
        ("Compressed size", human_bytes(j.compressed_size)),
        ("Deduplicated size", human_bytes(j.deduplicated_size)),
        ("Files", j.nfiles.to_string()),
        (
            "Exit code",
            j.exit_code
                .map(|c| c.to_string())
                .unwrap_or_else(|| "-".into()),
        ),
        (
            "Explanation",
            if j.job_explanation.is_empty() {
                "-".into()
            } else {
                j.job_explanation.clone()
            },
        ),
    ];
    let link = ctx.links.job(j.id);
    let mut text = format!(
        "Backup job #{} {}: {}\n\n",
        j.id.0,
        j.status.as_str(),
        j.name
    );
    if let Some(l) = &link {
        text.push_str(&format!("Job page: {l}\n\n"));
    }
    for (k, v) in &rows {
        text.push_str(&format!("{k:<18} {v}\n"));
    }
    text.push_str(&format!("\nLast {} lines of the log:\n", tail.len()));
    for l in &tail {
        text.push_str(l);
        text.push('\n');
    }
    let mut html = format!(
        "<html><body><h2>Backup job #{} {}</h2><table>",
        j.id.0,
        esc(j.status.as_str())
    );
    for (k, v) in &rows {
        html.push_str(&format!(
            "<tr><th align=\"left\">{k}</th><td>{}</td></tr>",
            esc(v)
        ));
    }
    html.push_str("</table>");
    if let Some(l) = &link {
        html.push_str(&format!(
            "<p><a href=\"{}\">Open job #{} in CyBorgBackup</a></p>",
            esc(l),
            j.id.0
        ));
    }
    html.push_str("<h3>Log</h3><pre>");
    html.push_str(&esc(&tail.join("\n")));
    html.push_str("</pre></body></html>");
    Ok(MailContent {
        subject: job_subject(j.status, &ctx.hostname, &ctx.policy),
        text,
        html: Some(html),
        images: vec![],
    })
}

/// When the last job of a policy launch finishes, mails the outcome of its backup jobs.
fn launch_summary(
    store: &Store,
    settings: &MailSettings,
    ctx: &JobContext,
) -> Result<(), ReportError> {
    let Some(policy) = ctx.job.policy else {
        return Ok(());
    };
    if store.unfinished_jobs_of_policy(policy)? > 0 {
        return Ok(());
    }
    // The summary lists every client of the policy: for those whose grants reach the policy.
    let recipients = crate::audience::for_job(
        store,
        NotifyPref::LaunchSummary,
        &Job {
            client: None,
            ..ctx.job.clone()
        },
    )?;
    if recipients.is_empty() {
        return Ok(());
    }
    let since = ctx.job.created - chrono::Duration::hours(12);
    let jobs: Vec<Job> = store
        .jobs(&store::JobFilter {
            policy: Some(policy),
            job_type: Some(JobType::Job),
            limit: Some(200),
            ..Default::default()
        })?
        .into_iter()
        .filter(|j| j.created >= since && j.launch_type == ctx.job.launch_type)
        .collect();
    let key = format!("notify.summary.policy.{}", policy.0);
    let last: i64 = store.state(&key)?.and_then(|v| v.parse().ok()).unwrap_or(0);
    let newest = jobs.iter().map(|j| j.id.0).max().unwrap_or(0);
    if newest <= last {
        return Ok(());
    }
    store.set_state(&key, &newest.to_string())?;
    let batch: Vec<&Job> = jobs.iter().filter(|j| j.id.0 > last).collect();
    let failed = batch
        .iter()
        .filter(|j| j.status != JobStatus::Successful)
        .count();
    let subject = format!(
        "[CyBorgBackup] Launch summary: {} ({} ok, {} failed)",
        ctx.policy,
        batch.len() - failed,
        failed
    );
    let mut text = format!("Policy {}: {} backup jobs\n\n", ctx.policy, batch.len());
    for j in &batch {
        let host = j
            .client
            .and_then(|c| store.client(c).ok())
            .map(|c| c.hostname)
            .unwrap_or_default();
        text.push_str(&format!(
            "#{:<6} {:<24} {:<10} {:>10} {}\n",
            j.id.0,
            host,
            j.status.as_str(),
            human_bytes(j.original_size),
            human_duration(j.elapsed)
        ));
        if let Some(l) = ctx.links.job(j.id) {
            text.push_str(&format!("        {l}\n"));
        }
    }
    let content = MailContent {
        subject,
        text,
        html: None,
        images: vec![],
    };
    enqueue_mail(store, settings, "launch_summary", &recipients, &content)?;
    Ok(())
}

/// The flagged archive a finished catalog job ingested, if the catalog flagged it.
fn anomaly_of(store: &Store, job: &Job) -> Option<model::Archive> {
    if job.job_type != JobType::Catalog || job.status != JobStatus::Successful {
        return None;
    }
    let a = store
        .archive_by_name(job.repository?, &job.archive_name)
        .ok()??;
    (!a.anomaly.is_empty()).then_some(a)
}

fn anomaly_payload(ctx: &JobContext, a: &model::Archive) -> serde_json::Value {
    json!({
        "event": "anomaly",
        "archive": {"id": a.id.0, "name": a.name, "time": a.time, "nfiles": a.nfiles},
        "reason": a.anomaly,
        "prune_paused": a.anomaly_acknowledged_at.is_none(),
        "client": {"id": a.client.0, "hostname": ctx.hostname},
        "policy": {"id": a.policy.0, "name": ctx.policy},
        "repository": {"id": a.repository.0, "name": ctx.repository},
    })
}

fn webhook_payload(ctx: &JobContext) -> serde_json::Value {
    let j = &ctx.job;
    json!({
        "event": "job_finished",
        "job": {
            "id": j.id.0,
            "name": j.name,
            "type": j.job_type.as_str(),
            "status": j.status.as_str(),
            "launch_type": j.launch_type,
            "archive": j.archive_name,
            "started": j.started,
            "finished": j.finished,
            "elapsed": j.elapsed,
            "exit_code": j.exit_code,
            "explanation": j.job_explanation,
            "original_size": j.original_size,
            "compressed_size": j.compressed_size,
            "deduplicated_size": j.deduplicated_size,
            "nfiles": j.nfiles,
            "url": ctx.links.job(j.id),
        },
        "client": {"id": j.client.map(|c| c.0), "hostname": ctx.hostname},
        "policy": {"id": j.policy.map(|p| p.0), "name": ctx.policy},
        "repository": {"id": j.repository.map(|r| r.0), "name": ctx.repository},
    })
}

/// `\nJob page: <link>\n` when the `url` setting is set, empty otherwise.
pub(crate) fn link_line(links: &Links, job: JobId) -> String {
    links
        .job(job)
        .map(|l| format!("\nJob page: {l}\n"))
        .unwrap_or_default()
}

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
