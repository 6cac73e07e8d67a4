//! Prometheus text exposition of job outcomes, the last success per policy and client, and
//! repository sizes; limited to what a caller's grants reach when rendered for a scope.

use crate::ReportError;
use model::access::Visibility;
use store::Store;

/// A Prometheus label value, escaped.
pub(crate) fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The metrics as Prometheus text format 0.0.4 (blocking). With a `scope` (a caller who is not
/// a superuser) only the series and repositories its grants reach are shown, and the
/// instance-wide job and outbox counters are left out.
pub fn render(store: &Store, scope: Option<&Visibility>) -> Result<String, ReportError> {
    let mut o = String::new();
    let mut w = |s: String| {
        o.push_str(&s);
        o.push('\n');
    };
    w("# HELP cyborgbackup_jobs_total Finished jobs by type and outcome.".into());
    w("# TYPE cyborgbackup_jobs_total counter".into());
    let counts = if scope.is_some() {
        Vec::new()
    } else {
        store.job_outcome_counts()?
    };
    for c in counts {
        w(format!(
            "cyborgbackup_jobs_total{{job_type=\"{}\",status=\"{}\"}} {}",
            label(&c.job_type),
            label(&c.status),
            c.count
        ));
    }
    if scope.is_none() {
        nodes(store, &mut w)?;
    }
    let mut series = store.series_status()?;
    if let Some(v) = scope {
        series.retain(|s| v.series(s.client, s.policy));
    }
    w("# HELP cyborgbackup_backup_last_success_timestamp_seconds Unix time of the last successful backup of a policy on a client (0: never).".into());
    w("# TYPE cyborgbackup_backup_last_success_timestamp_seconds gauge".into());
    let lbl = |s: &store::SeriesStatus| {
        format!(
            "policy=\"{}\",client=\"{}\",repository=\"{}\"",
            label(&s.policy_name),
            label(&s.hostname),
            label(&s.repository_name)
        )
    };
    for s in &series {
        w(format!(
            "cyborgbackup_backup_last_success_timestamp_seconds{{{}}} {}",
            lbl(s),
            s.last_success.map(|t| t.timestamp()).unwrap_or(0)
        ));
    }
    w("# HELP cyborgbackup_backup_last_status_success Whether the last backup of a policy on a client succeeded (1), failed (0); absent before the first.".into());
    w("# TYPE cyborgbackup_backup_last_status_success gauge".into());
    for s in &series {
        if let Some(st) = s.last_status {
            w(format!(
                "cyborgbackup_backup_last_status_success{{{}}} {}",
                lbl(s),
                i32::from(st == model::JobStatus::Successful)
            ));
        }
    }
    w("# HELP cyborgbackup_archives Archives of a policy on a client.".into());
    w("# TYPE cyborgbackup_archives gauge".into());
    for s in &series {
        w(format!(
            "cyborgbackup_archives{{{}}} {}",
            lbl(s),
            s.archives
        ));
    }
    w("# HELP cyborgbackup_repository_size_bytes Repository totals from borg info.".into());
    w("# TYPE cyborgbackup_repository_size_bytes gauge".into());
    let mut repos = store.repositories()?;
    if let Some(v) = scope {
        repos.retain(|r| v.repositories.contains(&r.id));
    }
    for r in &repos {
        for (kind, v) in [
            ("original", r.original_size),
            ("compressed", r.compressed_size),
            ("deduplicated", r.deduplicated_size),
        ] {
            w(format!(
                "cyborgbackup_repository_size_bytes{{repository=\"{}\",kind=\"{kind}\"}} {v}",
                label(&r.name)
            ));
        }
    }
    w("# HELP cyborgbackup_repository_capacity_bytes Capacity set for a repository.".into());
    w("# TYPE cyborgbackup_repository_capacity_bytes gauge".into());
    for r in &repos {
        if let Some(c) = store.repository_capacity(r.id)? {
            w(format!(
                "cyborgbackup_repository_capacity_bytes{{repository=\"{}\"}} {c}",
                label(&r.name)
            ));
        }
    }
    w("# HELP cyborgbackup_outbox_messages Outgoing mail and webhook deliveries by state.".into());
    w("# TYPE cyborgbackup_outbox_messages gauge".into());
    let outbox = if scope.is_some() {
        Vec::new()
    } else {
        store.outbox_counts()?
    };
    for (channel, state, n) in outbox {
        w(format!(
            "cyborgbackup_outbox_messages{{channel=\"{}\",state=\"{}\"}} {n}",
            label(&channel),
            label(&state)
        ));
    }
    crate::health::metrics(store, chrono::Utc::now(), scope, &mut o)?;
    crate::recoverability::metrics(store, chrono::Utc::now(), scope, &mut o)?;
    Ok(o)
}

/// The nodes sharing the database: heartbeats, running jobs, and finished jobs by the node that
/// ran them (instance-wide only).
fn nodes(store: &Store, w: &mut impl FnMut(String)) -> Result<(), ReportError> {
    let nodes = store.nodes()?;
    w("# HELP cyborgbackup_node_heartbeat_timestamp_seconds Unix time of a node's last heartbeat.".into());
    w("# TYPE cyborgbackup_node_heartbeat_timestamp_seconds gauge".into());
    for n in &nodes {
        w(format!(
            "cyborgbackup_node_heartbeat_timestamp_seconds{{node=\"{}\",catalog=\"{}\"}} {}",
            label(&n.name),
            u8::from(n.catalog),
            n.heartbeat.timestamp()
        ));
    }
    w("# HELP cyborgbackup_node_running_jobs Jobs a node runs now.".into());
    w("# TYPE cyborgbackup_node_running_jobs gauge".into());
    for n in &nodes {
        w(format!(
            "cyborgbackup_node_running_jobs{{node=\"{}\"}} {}",
            label(&n.name),
            n.running_jobs.len()
        ));
    }
    w(
        "# HELP cyborgbackup_node_jobs_total Finished jobs by the node that ran them and outcome."
            .into(),
    );
    w("# TYPE cyborgbackup_node_jobs_total counter".into());
    for (node, status, count) in store.node_job_counts()? {
        w(format!(
            "cyborgbackup_node_jobs_total{{node=\"{}\",status=\"{}\"}} {count}",
            label(&node),
            label(&status)
        ));
    }
    Ok(())
}
