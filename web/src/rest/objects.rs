//! JSON shapes of the REST API v1, as the original documents them: `id`, `type`, `url`,
//! `related`, `summary_fields`, audit fields, then the object's own fields. Secrets are masked.

use super::error::RestResult;
use crate::AppState;
use chrono::{DateTime, Utc};
use model::{
    Audit, Client, ClientId, Grant, GrantScope, Job, Policy, PolicyId, Repository, RepositoryId,
    RepositorySecurity, Schedule, ScheduleId, User,
};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::HashMap;

/// The inventory a caller reaches, read once per request for `summary_fields`.
#[derive(Default)]
pub(crate) struct Names {
    clients: HashMap<ClientId, Client>,
    repositories: HashMap<RepositoryId, Repository>,
    schedules: HashMap<ScheduleId, Schedule>,
    policies: HashMap<PolicyId, Policy>,
}

impl Names {
    pub(crate) async fn load(st: &AppState, c: &service::Caller) -> RestResult<Names> {
        let s = &st.service;
        Ok(Names {
            clients: s.clients(c).await?.into_iter().map(|x| (x.id, x)).collect(),
            repositories: s
                .repositories(c)
                .await?
                .into_iter()
                .map(|x| (x.id, x))
                .collect(),
            schedules: s
                .schedules(c)
                .await?
                .into_iter()
                .map(|x| (x.id, x))
                .collect(),
            policies: s
                .policies(c)
                .await?
                .into_iter()
                .map(|x| (x.id, x))
                .collect(),
        })
    }
}

pub(crate) const API: &str = "/api/v1";

/// The fields every inventory object starts with.
#[derive(Serialize)]
pub(crate) struct Base {
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub url: String,
    pub related: Value,
    pub summary_fields: Value,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
    pub created_by: Option<i64>,
    pub modified_by: Option<i64>,
    pub uuid: String,
}

fn base(kind: &'static str, plural: &str, id: i64, audit: &Audit) -> Base {
    Base {
        id,
        kind,
        url: format!("{API}/{plural}/{id}/"),
        related: json!({}),
        summary_fields: json!({}),
        created: audit.created,
        modified: audit.modified,
        created_by: audit.created_by.map(|u| u.0),
        modified_by: audit.modified_by.map(|u| u.0),
        uuid: audit.uuid.clone(),
    }
}

#[derive(Serialize)]
pub(crate) struct UserOut {
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub url: String,
    pub related: Value,
    pub summary_fields: Value,
    pub created: DateTime<Utc>,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub is_superuser: bool,
    /// `superuser`, `operator` or `viewer`.
    pub role: &'static str,
    /// `[{"client": 1, "policy": null, "restore": true}]`.
    pub grants: Vec<Value>,
    pub is_active: bool,
    pub last_login: Option<DateTime<Utc>>,
}

pub(crate) fn user(u: User, grants: Vec<Grant>) -> UserOut {
    UserOut {
        id: u.id.0,
        kind: "user",
        url: format!("{API}/users/{}/", u.id.0),
        related: json!({}),
        summary_fields: json!({}),
        created: u.created,
        first_name: u.first_name,
        last_name: u.last_name,
        email: u.email,
        is_superuser: u.is_superuser,
        role: u.role.as_str(),
        grants: grants
            .into_iter()
            .map(|g| {
                let (client, policy) = match g.scope {
                    GrantScope::Client(c) => (Some(c.0), None),
                    GrantScope::Policy(p) => (None, Some(p.0)),
                };
                json!({"client": client, "policy": policy, "restore": g.restore})
            })
            .collect(),
        is_active: u.is_active,
        last_login: u.last_login,
    }
}

#[derive(Serialize)]
pub(crate) struct ClientOut {
    #[serde(flatten)]
    pub base: Base,
    pub hostname: String,
    pub port: u16,
    pub ip: String,
    pub version: String,
    pub ready: bool,
    pub hypervisor_ready: bool,
    pub hypervisor_name: String,
    pub enabled: bool,
}

pub(crate) fn client(c: Client) -> ClientOut {
    ClientOut {
        base: base("client", "clients", c.id.0, &c.audit),
        hostname: c.hostname,
        port: c.port,
        ip: c.ip,
        version: c.version,
        ready: c.ready,
        hypervisor_ready: c.hypervisor_ready,
        hypervisor_name: c.hypervisor_name,
        enabled: c.enabled,
    }
}

#[derive(Serialize)]
pub(crate) struct RepositoryOut {
    #[serde(flatten)]
    pub base: Base,
    pub name: String,
    pub path: String,
    /// The mask when a passphrase is stored, empty otherwise: never the passphrase.
    pub repository_key: &'static str,
    pub original_size: i64,
    pub compressed_size: i64,
    pub deduplicated_size: i64,
    pub ready: bool,
    pub enabled: bool,
    /// Integrity check schedule (cron; empty: the global one).
    pub check_cron: String,
    /// Recorded identity and tamper mark (`rest/trust.rs`).
    #[serde(flatten)]
    pub security: Option<super::trust::SecurityOut>,
}

/// A repository with its trust record (identity and tamper mark), when the caller reads it.
pub(crate) fn repository(r: Repository, security: Option<RepositorySecurity>) -> RepositoryOut {
    RepositoryOut {
        security: security.map(super::trust::security),
        base: base("repository", "repositories", r.id.0, &r.audit),
        name: r.name,
        path: r.path,
        repository_key: if r.has_key { model::MASK } else { "" },
        original_size: r.original_size,
        compressed_size: r.compressed_size,
        deduplicated_size: r.deduplicated_size,
        ready: r.ready,
        enabled: r.enabled,
        check_cron: r.check_cron,
    }
}

#[derive(Serialize)]
pub(crate) struct ScheduleOut {
    #[serde(flatten)]
    pub base: Base,
    pub name: String,
    pub crontab: String,
    pub enabled: bool,
}

pub(crate) fn schedule(s: Schedule) -> ScheduleOut {
    ScheduleOut {
        base: base("schedule", "schedules", s.id.0, &s.audit),
        name: s.name,
        crontab: s.crontab,
        enabled: s.enabled,
    }
}

#[derive(Serialize)]
pub(crate) struct PolicyOut {
    #[serde(flatten)]
    pub base: Base,
    pub name: String,
    pub extra_vars: String,
    pub clients: Vec<i64>,
    /// The primary repository (the original's field).
    pub repository: i64,
    /// Copy repositories, in order (3-2-1; new in this server).
    pub copies: Vec<i64>,
    /// The same copies with their own retention and schedule offset.
    pub copy_settings: Vec<CopyOut>,
    /// Recovery-point objective in hours.
    pub rpo_hours: Option<u32>,
    pub schedule: i64,
    pub policy_type: &'static str,
    pub keep_hourly: Option<u32>,
    pub keep_daily: Option<u32>,
    pub keep_weekly: Option<u32>,
    pub keep_monthly: Option<u32>,
    pub keep_yearly: Option<u32>,
    pub vmprovider: String,
    pub next_run: Option<DateTime<Utc>>,
    pub mode_pull: bool,
    pub enabled: bool,
    pub prehook: String,
    pub posthook: String,
}

/// One copy repository of a policy with its settings.
#[derive(Serialize)]
pub(crate) struct CopyOut {
    pub repository: i64,
    pub keep_hourly: Option<u32>,
    pub keep_daily: Option<u32>,
    pub keep_weekly: Option<u32>,
    pub keep_monthly: Option<u32>,
    pub keep_yearly: Option<u32>,
    pub offset_minutes: u32,
}

pub(crate) fn policy(names: &Names, p: Policy) -> PolicyOut {
    let id = p.id.0;
    let mut b = base("policy", "policies", id, &p.audit);
    b.related = json!({
        "launch": format!("{API}/policies/{id}/launch/"),
        "calendar": format!("{API}/policies/{id}/calendar/"),
        "schedule": format!("{API}/schedules/{}/", p.schedule.0),
        "repository": format!("{API}/repositories/{}/", p.repository.0),
    });
    let repo = names
        .repositories
        .get(&p.repository)
        .map(|r| json!({"id": r.id.0, "name": r.name, "path": r.path}))
        .unwrap_or(Value::Null);
    let sched = names
        .schedules
        .get(&p.schedule)
        .map(|s| json!({"id": s.id.0, "name": s.name, "crontab": s.crontab}))
        .unwrap_or(Value::Null);
    b.summary_fields = json!({"repository": repo, "schedule": sched});
    PolicyOut {
        base: b,
        name: p.name,
        extra_vars: model::policy_type::redact_extra_vars(&p.extra_vars),
        clients: p.clients.iter().map(|c| c.0).collect(),
        repository: p.repository.0,
        copies: p.copies.iter().map(|r| r.repository.0).collect(),
        copy_settings: p
            .copies
            .iter()
            .map(|c| CopyOut {
                repository: c.repository.0,
                keep_hourly: c.retention.keep_hourly,
                keep_daily: c.retention.keep_daily,
                keep_weekly: c.retention.keep_weekly,
                keep_monthly: c.retention.keep_monthly,
                keep_yearly: c.retention.keep_yearly,
                offset_minutes: c.offset_minutes,
            })
            .collect(),
        rpo_hours: p.rpo_hours,
        schedule: p.schedule.0,
        policy_type: p.policy_type.as_str(),
        keep_hourly: p.retention.keep_hourly,
        keep_daily: p.retention.keep_daily,
        keep_weekly: p.retention.keep_weekly,
        keep_monthly: p.retention.keep_monthly,
        keep_yearly: p.retention.keep_yearly,
        vmprovider: p.vmprovider,
        next_run: p.next_run,
        mode_pull: p.mode_pull,
        enabled: p.enabled,
        prehook: p.prehook,
        posthook: p.posthook,
    }
}

#[derive(Serialize)]
pub(crate) struct JobOut {
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub url: String,
    pub related: Value,
    pub summary_fields: Value,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
    pub created_by: Option<i64>,
    pub modified_by: Option<i64>,
    pub name: String,
    pub job_type: &'static str,
    pub launch_type: String,
    pub status: &'static str,
    pub failed: bool,
    pub policy: Option<i64>,
    pub client: Option<i64>,
    pub repository: Option<i64>,
    pub archive_name: String,
    pub dependent_jobs: Option<i64>,
    pub started: Option<DateTime<Utc>>,
    pub finished: Option<DateTime<Utc>>,
    pub elapsed: f64,
    pub exit_code: Option<i32>,
    pub job_explanation: String,
    pub original_size: i64,
    pub compressed_size: i64,
    pub deduplicated_size: i64,
    pub nfiles: i64,
    pub extra_vars: String,
}

pub(crate) fn job(names: &Names, j: Job) -> JobOut {
    let id = j.id.0;
    let mut related = serde_json::Map::new();
    for (k, v) in [
        ("stdout", format!("{API}/jobs/{id}/stdout/")),
        ("cancel", format!("{API}/jobs/{id}/cancel/")),
        ("relaunch", format!("{API}/jobs/{id}/relaunch/")),
    ] {
        related.insert(k.into(), Value::String(v));
    }
    let mut summary = serde_json::Map::new();
    if let Some(p) = j.policy {
        related.insert("policy".into(), json!(format!("{API}/policies/{}/", p.0)));
        if let Some(p) = names.policies.get(&p) {
            summary.insert(
                "policy".into(),
                json!({"id": p.id.0, "name": p.name, "policy_type": p.policy_type.as_str()}),
            );
        }
    }
    if let Some(c) = j.client {
        related.insert("client".into(), json!(format!("{API}/clients/{}/", c.0)));
        if let Some(c) = names.clients.get(&c) {
            summary.insert(
                "client".into(),
                json!({"id": c.id.0, "hostname": c.hostname}),
            );
        }
    }
    if let Some(r) = j.repository {
        related.insert(
            "repository".into(),
            json!(format!("{API}/repositories/{}/", r.0)),
        );
        if let Some(r) = names.repositories.get(&r) {
            summary.insert(
                "repository".into(),
                json!({"id": r.id.0, "name": r.name, "path": r.path}),
            );
        }
    }
    JobOut {
        id,
        kind: "job",
        url: format!("{API}/jobs/{id}/"),
        related: Value::Object(related),
        summary_fields: Value::Object(summary),
        created: j.created,
        modified: j.finished.or(j.started).unwrap_or(j.created),
        created_by: j.created_by.map(|u| u.0),
        modified_by: None,
        name: j.name,
        job_type: j.job_type.as_str(),
        launch_type: j.launch_type,
        status: j.status.as_str(),
        failed: matches!(j.status, model::JobStatus::Failed | model::JobStatus::Error),
        policy: j.policy.map(|p| p.0),
        client: j.client.map(|c| c.0),
        repository: j.repository.map(|r| r.0),
        archive_name: j.archive_name,
        dependent_jobs: j.depends_on.map(|d| d.0),
        started: j.started,
        finished: j.finished,
        elapsed: j.elapsed,
        exit_code: j.exit_code,
        job_explanation: j.job_explanation,
        original_size: j.original_size,
        compressed_size: j.compressed_size,
        deduplicated_size: j.deduplicated_size,
        nfiles: j.nfiles,
        extra_vars: j.extra_vars,
    }
}
