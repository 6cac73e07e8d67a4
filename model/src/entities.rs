//! Inventory objects (users, clients, repositories, schedules, policies), jobs and archives,
//! with the input structs used to create or change them and their validation.

use crate::catalog::CatalogState;
use crate::copies::{CopyInput, PolicyCopy};
use crate::cron_expr::CronExpr;
use crate::ids::*;
use crate::job::{JobStatus, JobType};
use crate::policy_type::{parse_extra_vars, PolicyType};
use crate::validate::{check_hostname, check_name, ValidationErrors};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Who created or last changed an object, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audit {
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
    pub created_by: Option<UserId>,
    pub modified_by: Option<UserId>,
    pub uuid: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub is_superuser: bool,
    /// Superuser, operator or viewer (a superuser's role is always `Superuser`).
    pub role: crate::access::Role,
    pub is_active: bool,
    pub created: DateTime<Utc>,
    pub last_login: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    pub id: ClientId,
    pub hostname: String,
    /// SSH port of the client.
    pub port: u16,
    /// Filled by preparation.
    pub ip: String,
    /// Borg version on the client, filled by preparation.
    pub version: String,
    pub ready: bool,
    pub hypervisor_ready: bool,
    pub hypervisor_name: String,
    pub enabled: bool,
    /// Operating system, filled by preparation.
    #[serde(default)]
    pub os: String,
    pub audit: Audit,
}

/// What client preparation found on the host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientFacts {
    pub ip: String,
    /// Borg version, e.g. `1.2.4`.
    pub version: String,
    pub os: String,
}

/// Fields an administrator sets on a client.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientInput {
    pub hostname: Option<String>,
    pub port: Option<i64>,
    pub ip: Option<String>,
    pub version: Option<String>,
    pub ready: Option<bool>,
    pub hypervisor_ready: Option<bool>,
    pub hypervisor_name: Option<String>,
    pub enabled: Option<bool>,
}

fn check_port(errs: &mut ValidationErrors, field: &str, port: Option<i64>) {
    if let Some(p) = port {
        if !(1..=65535).contains(&p) {
            errs.add(field, "must be between 1 and 65535");
        }
    }
}

fn check_short_text(errs: &mut ValidationErrors, field: &str, v: &Option<String>) {
    if let Some(v) = v {
        if v.chars().count() > 255 {
            errs.add(field, "must be at most 255 characters");
        }
    }
}

impl ClientInput {
    /// Validates the input; `creating` requires the mandatory fields.
    pub fn validate(&self, creating: bool) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::new();
        match &self.hostname {
            Some(h) => check_hostname(&mut e, "hostname", h),
            None if creating => e.add("hostname", "is required"),
            None => {}
        }
        check_port(&mut e, "port", self.port);
        check_short_text(&mut e, "ip", &self.ip);
        check_short_text(&mut e, "version", &self.version);
        match self.hypervisor_name.as_deref() {
            // The hypervisor is a host the server logs in to.
            Some(h) if !h.is_empty() => check_hostname(&mut e, "hypervisor_name", h),
            _ => {}
        }
        e.into_result()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repository {
    pub id: RepositoryId,
    pub name: String,
    /// A local absolute path or `user@host:path` / `ssh://user@host:port/path`.
    pub path: String,
    /// Whether a passphrase is stored (it is never readable through the API).
    pub has_key: bool,
    pub original_size: i64,
    pub compressed_size: i64,
    pub deduplicated_size: i64,
    pub ready: bool,
    pub enabled: bool,
    /// When `borg check` of the repository runs by itself (a cron expression; empty: never).
    pub check_cron: String,
    pub audit: Audit,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositoryInput {
    pub name: Option<String>,
    pub path: Option<String>,
    /// The borg passphrase (write-only).
    pub repository_key: Option<String>,
    pub ready: Option<bool>,
    pub enabled: Option<bool>,
    /// Integrity check schedule (cron; empty clears it).
    #[serde(default)]
    pub check_cron: Option<String>,
}

/// Checks a repository location: absolute local path, `user@host:path` or `ssh://…`, each part
/// safe to hand to `ssh` and `borg` (see `RepoLocation::parse_checked`).
pub fn check_repository_path(errs: &mut ValidationErrors, field: &str, path: &str) {
    if let Err(why) = crate::location::RepoLocation::parse_checked(path) {
        errs.add(field, why);
    }
}

impl RepositoryInput {
    pub fn validate(&self, creating: bool) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::new();
        match &self.name {
            Some(n) => check_name(&mut e, "name", n),
            None if creating => e.add("name", "is required"),
            None => {}
        }
        match &self.path {
            Some(p) => check_repository_path(&mut e, "path", p),
            None if creating => e.add("path", "is required"),
            None => {}
        }
        if let Some(k) = &self.repository_key {
            if k.len() > 4096 {
                e.add("repository_key", "must be at most 4096 characters");
            }
            if k.contains(['\n', '\r', '\0']) {
                e.add("repository_key", "must not contain line breaks or NUL");
            }
        }
        if let Some(c) = self.check_cron.as_deref().map(str::trim) {
            if !c.is_empty() {
                if let Err(err) = CronExpr::parse(c) {
                    e.add("check_cron", format!("{c:?}: {}", err.0));
                }
            }
        }
        e.into_result()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    pub id: ScheduleId,
    pub name: String,
    pub crontab: String,
    pub enabled: bool,
    pub audit: Audit,
}

impl Schedule {
    /// The parsed expression (stored expressions were validated on write).
    pub fn cron(&self) -> Option<CronExpr> {
        CronExpr::parse(&self.crontab).ok()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleInput {
    pub name: Option<String>,
    pub crontab: Option<String>,
    pub enabled: Option<bool>,
}

impl ScheduleInput {
    pub fn validate(&self, creating: bool) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::new();
        match &self.name {
            Some(n) => check_name(&mut e, "name", n),
            None if creating => e.add("name", "is required"),
            None => {}
        }
        match &self.crontab {
            Some(c) => {
                if let Err(err) = CronExpr::parse(c) {
                    e.add("crontab", err.0);
                }
            }
            None if creating => e.add("crontab", "is required"),
            None => {}
        }
        e.into_result()
    }
}

/// Retention: how many archives of each period `borg prune` keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    pub keep_hourly: Option<u32>,
    pub keep_daily: Option<u32>,
    pub keep_weekly: Option<u32>,
    pub keep_monthly: Option<u32>,
    pub keep_yearly: Option<u32>,
}

impl Retention {
    /// Whether any keep_* is set (a prune follows each backup then).
    pub fn is_set(&self) -> bool {
        self.flags().next().is_some()
    }

    /// `(borg flag, count)` for every keep_* that is set, each to its own flag.
    pub fn flags(&self) -> impl Iterator<Item = (&'static str, u32)> {
        [
            ("--keep-hourly", self.keep_hourly),
            ("--keep-daily", self.keep_daily),
            ("--keep-weekly", self.keep_weekly),
            ("--keep-monthly", self.keep_monthly),
            ("--keep-yearly", self.keep_yearly),
        ]
        .into_iter()
        .filter_map(|(f, v)| v.filter(|n| *n > 0).map(|n| (f, n)))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub id: PolicyId,
    pub name: String,
    pub policy_type: PolicyType,
    pub extra_vars: String,
    pub clients: Vec<ClientId>,
    /// The primary repository.
    pub repository: RepositoryId,
    /// Copy repositories: every run also backs each client up into each of them, as archives
    /// of their own made by borg (3-2-1), in this order.
    pub copies: Vec<PolicyCopy>,
    pub schedule: ScheduleId,
    pub retention: Retention,
    /// Recovery-point objective: a verified archive of each series must be younger than this.
    pub rpo_hours: Option<u32>,
    pub vmprovider: String,
    pub next_run: Option<DateTime<Utc>>,
    pub mode_pull: bool,
    pub enabled: bool,
    pub prehook: String,
    pub posthook: String,
    pub audit: Audit,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyInput {
    pub name: Option<String>,
    pub policy_type: Option<String>,
    pub extra_vars: Option<String>,
    pub clients: Option<Vec<i64>>,
    pub repository: Option<i64>,
    /// Copy repositories, in order (replaces the list; `Some(vec![])` clears it).
    #[serde(default)]
    pub copies: Option<Vec<CopyInput>>,
    /// Recovery-point objective in hours (`Some(None)` clears it).
    #[serde(default)]
    pub rpo_hours: Option<Option<i64>>,
    pub schedule: Option<i64>,
    pub keep_hourly: Option<Option<i64>>,
    pub keep_daily: Option<Option<i64>>,
    pub keep_weekly: Option<Option<i64>>,
    pub keep_monthly: Option<Option<i64>>,
    pub keep_yearly: Option<Option<i64>>,
    pub vmprovider: Option<String>,
    pub mode_pull: Option<bool>,
    pub enabled: Option<bool>,
    pub prehook: Option<String>,
    pub posthook: Option<String>,
}

impl PolicyInput {
    /// Validates fields that can be checked without the store. `current` is the policy being
    /// updated (its type and extra_vars are checked together with the new values).
    pub fn validate(&self, current: Option<&Policy>) -> Result<(), ValidationErrors> {
        let creating = current.is_none();
        let mut e = ValidationErrors::new();
        match &self.name {
            Some(n) => check_name(&mut e, "name", n),
            None if creating => e.add("name", "is required"),
            None => {}
        }
        let ptype = match &self.policy_type {
            Some(t) => match t.parse::<PolicyType>() {
                Ok(t) => Some(t),
                Err(msg) => {
                    e.add("policy_type", msg);
                    None
                }
            },
            None if creating => {
                e.add("policy_type", "is required");
                None
            }
            None => current.map(|p| p.policy_type),
        };
        if let Some(t) = ptype {
            let vars = self
                .extra_vars
                .clone()
                .or_else(|| current.map(|p| p.extra_vars.clone()))
                .unwrap_or_default();
            if vars.len() > 65536 {
                e.add("extra_vars", "must be at most 65536 characters");
            } else if let Err(errs) = parse_extra_vars(t, &vars) {
                e.0.extend(errs.0);
            }
        }
        if creating && self.repository.is_none() {
            e.add("repository", "is required");
        }
        if let Some(copies) = &self.copies {
            let primary = self.repository.or(current.map(|p| p.repository.0));
            crate::copies::check_copies(&mut e, primary, copies);
        } else if let (Some(r), Some(p)) = (self.repository, current) {
            if p.copies.iter().any(|c| c.repository == RepositoryId(r)) {
                e.add(
                    "repository",
                    format!("repository {r} is a copy repository of this policy"),
                );
            }
        }
        if creating && self.schedule.is_none() {
            e.add("schedule", "is required");
        }
        if let Some(Some(h)) = self.rpo_hours {
            if !(1..=8760).contains(&h) {
                e.add(
                    "rpo_hours",
                    format!("must be between 1 and 8760 hours (a year), not {h}"),
                );
            }
        }
        for (field, v) in [
            ("keep_hourly", self.keep_hourly),
            ("keep_daily", self.keep_daily),
            ("keep_weekly", self.keep_weekly),
            ("keep_monthly", self.keep_monthly),
            ("keep_yearly", self.keep_yearly),
        ] {
            if let Some(Some(n)) = v {
                if n < 0 {
                    e.add(field, "must not be negative");
                } else if n > 100_000 {
                    e.add(field, "must be at most 100000");
                }
            }
        }
        for (field, v) in [("prehook", &self.prehook), ("posthook", &self.posthook)] {
            if let Some(h) = v {
                if h.len() > 4096 {
                    e.add(field, "must be at most 4096 characters");
                }
                if h.contains('\0') {
                    e.add(field, "must not contain NUL");
                }
            }
        }
        check_short_text(&mut e, "vmprovider", &self.vmprovider);
        e.into_result()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: JobId,
    pub name: String,
    pub job_type: JobType,
    pub status: JobStatus,
    pub policy: Option<PolicyId>,
    pub client: Option<ClientId>,
    pub repository: Option<RepositoryId>,
    pub archive_name: String,
    /// The job that must succeed before this one runs.
    pub depends_on: Option<JobId>,
    pub launch_type: String,
    pub created: DateTime<Utc>,
    pub started: Option<DateTime<Utc>>,
    pub finished: Option<DateTime<Utc>>,
    pub elapsed: f64,
    pub exit_code: Option<i32>,
    pub job_explanation: String,
    pub original_size: i64,
    pub compressed_size: i64,
    pub deduplicated_size: i64,
    pub nfiles: i64,
    pub created_by: Option<UserId>,
    /// Job options as JSON text.
    pub extra_vars: String,
    /// A queued job does not start before this time (a copy's schedule offset).
    pub not_before: Option<DateTime<Utc>>,
    /// The server node that runs or ran the job (several nodes share one database).
    pub node: Option<String>,
}

/// One line of a job's output, as stored (already scrubbed of secrets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobOutputLine {
    pub job: JobId,
    pub seq: i64,
    pub stream: String,
    pub text: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Archive {
    pub id: ArchiveId,
    pub name: String,
    pub repository: RepositoryId,
    pub policy: PolicyId,
    pub client: ClientId,
    pub job: Option<JobId>,
    pub time: DateTime<Utc>,
    pub original_size: i64,
    pub compressed_size: i64,
    pub deduplicated_size: i64,
    pub nfiles: i64,
    pub catalog_state: CatalogState,
    pub catalog_error: String,
    pub catalog_entries: i64,
    /// Why the catalog flagged this archive (mass deletion or change); empty when not flagged.
    pub anomaly: String,
    /// When an administrator acknowledged the anomaly (prune and compact of the series wait
    /// for it).
    #[serde(default)]
    pub anomaly_acknowledged_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_validation_names_fields() {
        let p = PolicyInput {
            name: Some("p".into()),
            policy_type: Some("floppy".into()),
            repository: Some(1),
            schedule: Some(1),
            keep_daily: Some(Some(-1)),
            ..Default::default()
        };
        let e = p.validate(None).unwrap_err();
        let fields: Vec<&str> = e.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, vec!["policy_type", "keep_daily"]);
    }

    #[test]
    fn repository_paths() {
        for ok in [
            "/srv/borg",
            "borg@backup:/repo",
            "ssh://borg@127.0.0.2:2222/./repo",
        ] {
            let mut e = ValidationErrors::new();
            check_repository_path(&mut e, "path", ok);
            assert!(e.is_empty(), "{ok}: {e}");
        }
        for bad in ["relative", "host;rm:/x", "", "a@b:"] {
            let mut e = ValidationErrors::new();
            check_repository_path(&mut e, "path", bad);
            assert!(!e.is_empty(), "{bad} accepted");
        }
    }

    #[test]
    fn keep_yearly_maps_to_its_own_flag() {
        let r = Retention {
            keep_yearly: Some(2),
            keep_monthly: Some(6),
            ..Default::default()
        };
        let flags: Vec<_> = r.flags().collect();
        assert_eq!(flags, vec![("--keep-monthly", 6), ("--keep-yearly", 2)]);
    }
}
