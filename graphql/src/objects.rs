//! GraphQL output types, converted from the domain model. Secrets never appear: a repository
//! shows `hasKey` and a masked `repositoryKey`; hooks and commands reach superusers only (the
//! services mask them). Nested fields ask the services with the caller too.

use crate::errors::ApiResult;
use crate::{caller, svc};
use async_graphql::{ComplexObject, Context, SimpleObject};
use chrono::{DateTime, Utc};

#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub is_superuser: bool,
    pub role: crate::users::Role,
    pub is_active: bool,
    pub created: DateTime<Utc>,
    pub last_login: Option<DateTime<Utc>>,
}

impl From<model::User> for User {
    fn from(u: model::User) -> Self {
        User {
            id: u.id.0,
            email: u.email,
            first_name: u.first_name,
            last_name: u.last_name,
            is_superuser: u.is_superuser,
            role: u.role.into(),
            is_active: u.is_active,
            created: u.created,
            last_login: u.last_login,
        }
    }
}

#[ComplexObject]
impl User {
    /// The clients and policies an operator or viewer reaches (yours, or anyone's as a
    /// superuser).
    async fn grants(&self, ctx: &Context<'_>) -> ApiResult<Vec<crate::users::Grant>> {
        let c = caller(ctx).await?;
        let access = svc(ctx).user_access(&c, model::UserId(self.id)).await?;
        Ok(access.grants.into_iter().map(Into::into).collect())
    }
}

#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct Client {
    pub id: i64,
    pub uuid: String,
    pub hostname: String,
    pub port: i32,
    pub ip: String,
    pub version: String,
    pub ready: bool,
    pub hypervisor_ready: bool,
    pub hypervisor_name: String,
    pub enabled: bool,
    /// Operating system reported by the last preparation.
    pub os: String,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
}

impl From<model::Client> for Client {
    fn from(c: model::Client) -> Self {
        Client {
            id: c.id.0,
            uuid: c.audit.uuid,
            hostname: c.hostname,
            port: c.port as i32,
            ip: c.ip,
            version: c.version,
            ready: c.ready,
            hypervisor_ready: c.hypervisor_ready,
            hypervisor_name: c.hypervisor_name,
            enabled: c.enabled,
            os: c.os,
            created: c.audit.created,
            modified: c.audit.modified,
        }
    }
}

#[ComplexObject]
impl Client {
    /// The latest restore drill of this client that passed.
    async fn last_verified_restore(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<Option<crate::drills::RestoreTest>> {
        crate::drills::last_verified_restore(ctx, None, Some(self.id)).await
    }
}

#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct Repository {
    pub id: i64,
    pub uuid: String,
    pub name: String,
    pub path: String,
    /// Whether a passphrase is stored.
    pub has_key: bool,
    /// Always masked: the passphrase is write-only.
    pub repository_key: String,
    pub original_size: i64,
    pub compressed_size: i64,
    pub deduplicated_size: i64,
    pub ready: bool,
    pub enabled: bool,
    /// When `borg check` of the repository runs by itself (cron; empty: on the global
    /// integrity check schedule, if that is on).
    pub check_cron: String,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
}

impl From<model::Repository> for Repository {
    fn from(r: model::Repository) -> Self {
        Repository {
            id: r.id.0,
            uuid: r.audit.uuid,
            name: r.name,
            path: r.path,
            repository_key: if r.has_key {
                model::MASK.into()
            } else {
                String::new()
            },
            has_key: r.has_key,
            original_size: r.original_size,
            compressed_size: r.compressed_size,
            deduplicated_size: r.deduplicated_size,
            ready: r.ready,
            enabled: r.enabled,
            check_cron: r.check_cron,
            created: r.audit.created,
            modified: r.audit.modified,
        }
    }
}

#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct Schedule {
    pub id: i64,
    pub uuid: String,
    pub name: String,
    pub crontab: String,
    pub enabled: bool,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
}

#[ComplexObject]
impl Schedule {
    /// The next run times of this schedule.
    async fn next_runs(&self, #[graphql(default = 5)] count: i32) -> Vec<DateTime<Utc>> {
        model::CronExpr::parse(&self.crontab)
            .map(|c| c.upcoming(Utc::now(), count.clamp(0, 100) as usize))
            .unwrap_or_default()
    }
}

impl From<model::Schedule> for Schedule {
    fn from(s: model::Schedule) -> Self {
        Schedule {
            id: s.id.0,
            uuid: s.audit.uuid,
            name: s.name,
            crontab: s.crontab,
            enabled: s.enabled,
            created: s.audit.created,
            modified: s.audit.modified,
        }
    }
}

#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct Policy {
    pub id: i64,
    pub uuid: String,
    pub name: String,
    pub policy_type: String,
    pub extra_vars: String,
    pub client_ids: Vec<i64>,
    /// The primary repository.
    pub repository_id: i64,
    /// Copy repositories, in order (3-2-1).
    pub copy_repository_ids: Vec<i64>,
    /// The copy repositories with their own retention and schedule offset.
    pub copies: Vec<crate::copies::PolicyCopy>,
    /// Recovery-point objective in hours: a verified archive of each series must be younger.
    pub rpo_hours: Option<i64>,
    pub schedule_id: i64,
    pub keep_hourly: Option<i64>,
    pub keep_daily: Option<i64>,
    pub keep_weekly: Option<i64>,
    pub keep_monthly: Option<i64>,
    pub keep_yearly: Option<i64>,
    pub vmprovider: String,
    pub next_run: Option<DateTime<Utc>>,
    pub mode_pull: bool,
    pub enabled: bool,
    pub prehook: String,
    pub posthook: String,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
}

#[ComplexObject]
impl Policy {
    /// The latest restore drill of this policy that passed.
    async fn last_verified_restore(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<Option<crate::drills::RestoreTest>> {
        crate::drills::last_verified_restore(ctx, Some(self.id), None).await
    }
    async fn repository(&self, ctx: &Context<'_>) -> ApiResult<Repository> {
        let c = caller(ctx).await?;
        let id = model::RepositoryId(self.repository_id);
        Ok(svc(ctx).repository(&c, id).await?.into())
    }
    async fn schedule(&self, ctx: &Context<'_>) -> ApiResult<Schedule> {
        let c = caller(ctx).await?;
        let id = model::ScheduleId(self.schedule_id);
        Ok(svc(ctx).schedule(&c, id).await?.into())
    }
    /// The clients of the policy (those your grants reach).
    async fn clients(&self, ctx: &Context<'_>) -> ApiResult<Vec<Client>> {
        let c = caller(ctx).await?;
        let list = svc(ctx)
            .policy_clients(&c, model::PolicyId(self.id))
            .await?;
        Ok(list.into_iter().map(Client::from).collect())
    }
    /// Why the policy cannot run now (disabled schedule, repository, clients); empty if it can.
    async fn blockers(&self, ctx: &Context<'_>) -> ApiResult<Vec<String>> {
        let c = caller(ctx).await?;
        Ok(svc(ctx)
            .policy_blockers(&c, model::PolicyId(self.id))
            .await?)
    }
    /// Every run time of the policy in a month (UTC).
    async fn calendar(
        &self,
        ctx: &Context<'_>,
        year: i32,
        month: u32,
    ) -> ApiResult<Vec<DateTime<Utc>>> {
        let c = caller(ctx).await?;
        Ok(svc(ctx)
            .policy_calendar(&c, model::PolicyId(self.id), year, month)
            .await?)
    }
}

impl From<model::Policy> for Policy {
    fn from(p: model::Policy) -> Self {
        let k = |v: Option<u32>| v.map(i64::from);
        Policy {
            id: p.id.0,
            uuid: p.audit.uuid,
            name: p.name,
            policy_type: p.policy_type.to_string(),
            // Database passwords are write-only: read back masked.
            extra_vars: model::policy_type::redact_extra_vars(&p.extra_vars),
            client_ids: p.clients.iter().map(|c| c.0).collect(),
            repository_id: p.repository.0,
            copy_repository_ids: p.copies.iter().map(|r| r.repository.0).collect(),
            copies: p.copies.into_iter().map(Into::into).collect(),
            rpo_hours: k(p.rpo_hours),
            schedule_id: p.schedule.0,
            keep_hourly: k(p.retention.keep_hourly),
            keep_daily: k(p.retention.keep_daily),
            keep_weekly: k(p.retention.keep_weekly),
            keep_monthly: k(p.retention.keep_monthly),
            keep_yearly: k(p.retention.keep_yearly),
            vmprovider: p.vmprovider,
            next_run: p.next_run,
            mode_pull: p.mode_pull,
            enabled: p.enabled,
            prehook: p.prehook,
            posthook: p.posthook,
            created: p.audit.created,
            modified: p.audit.modified,
        }
    }
}

#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct Job {
    pub id: i64,
    pub name: String,
    pub job_type: String,
    pub status: String,
    pub policy_id: Option<i64>,
    pub client_id: Option<i64>,
    pub repository_id: Option<i64>,
    pub archive_name: String,
    pub depends_on: Option<i64>,
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
    /// A queued job does not start before this time (a copy's schedule offset).
    pub not_before: Option<DateTime<Utc>>,
    /// The server node that runs or ran the job.
    pub node: Option<String>,
}

#[derive(SimpleObject, Clone)]
pub struct OutputLine {
    pub seq: i64,
    pub stream: String,
    pub text: String,
    pub at: DateTime<Utc>,
}

/// How far a running job has got (from borg's progress output).
#[derive(SimpleObject, Clone)]
pub struct JobProgress {
    pub files: i64,
    pub original_bytes: i64,
    pub compressed_bytes: i64,
    pub deduplicated_bytes: i64,
    /// The path being read, or the current phase.
    pub current: String,
    /// Estimated percent done (against the series' previous archive); null when unknown.
    pub percent: Option<f64>,
}

impl From<model::JobProgress> for JobProgress {
    fn from(p: model::JobProgress) -> Self {
        JobProgress {
            files: p.files,
            original_bytes: p.original_bytes,
            compressed_bytes: p.compressed_bytes,
            deduplicated_bytes: p.deduplicated_bytes,
            current: p.current,
            percent: p.percent,
        }
    }
}

#[ComplexObject]
impl Job {
    /// Progress while the job runs; null when it is not running or reports none.
    async fn progress(&self, ctx: &Context<'_>) -> ApiResult<Option<JobProgress>> {
        let c = caller(ctx).await?;
        let target = service::Target::Job {
            client: self.client_id.map(model::ClientId),
            policy: self.policy_id.map(model::PolicyId),
            repository: self.repository_id.map(model::RepositoryId),
        };
        Ok(svc(ctx)
            .job_progress(&c, model::JobId(self.id), target)?
            .map(JobProgress::from))
    }

    /// Output lines after `after` (a previous line's `seq`), at most `limit`.
    #[graphql(complexity = "crate::cost::list(limit, child_complexity)")]
    async fn output(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 0)] after: i64,
        #[graphql(default = 1000)] limit: i64,
    ) -> ApiResult<Vec<OutputLine>> {
        let c = caller(ctx).await?;
        let lines = svc(ctx)
            .job_output(&c, model::JobId(self.id), after, limit)
            .await?;
        Ok(lines
            .into_iter()
            .map(|l| OutputLine {
                seq: l.seq,
                stream: l.stream,
                text: l.text,
                at: l.at,
            })
            .collect())
    }
}

impl From<model::Job> for Job {
    fn from(j: model::Job) -> Self {
        Job {
            id: j.id.0,
            name: j.name,
            job_type: j.job_type.to_string(),
            status: j.status.to_string(),
            policy_id: j.policy.map(|p| p.0),
            client_id: j.client.map(|c| c.0),
            repository_id: j.repository.map(|r| r.0),
            archive_name: j.archive_name,
            depends_on: j.depends_on.map(|d| d.0),
            launch_type: j.launch_type,
            created: j.created,
            started: j.started,
            finished: j.finished,
            elapsed: j.elapsed,
            exit_code: j.exit_code,
            job_explanation: j.job_explanation,
            original_size: j.original_size,
            compressed_size: j.compressed_size,
            deduplicated_size: j.deduplicated_size,
            nfiles: j.nfiles,
            not_before: j.not_before,
            node: j.node,
        }
    }
}

#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct Archive {
    pub id: i64,
    pub name: String,
    pub repository_id: i64,
    pub policy_id: i64,
    pub client_id: i64,
    pub job_id: Option<i64>,
    pub time: DateTime<Utc>,
    pub original_size: i64,
    pub compressed_size: i64,
    pub deduplicated_size: i64,
    pub nfiles: i64,
    /// pending, running, complete or failed.
    pub catalog_state: String,
    pub catalog_error: String,
    pub catalog_entries: i64,
    /// Why the catalog flagged this archive (mass deletion or change); empty when not.
    pub anomaly: String,
    /// When an administrator acknowledged the anomaly (`acknowledgeAnomaly`).
    pub anomaly_acknowledged_at: Option<DateTime<Utc>>,
}

impl From<model::Archive> for Archive {
    fn from(a: model::Archive) -> Self {
        Archive {
            id: a.id.0,
            name: a.name,
            repository_id: a.repository.0,
            policy_id: a.policy.0,
            client_id: a.client.0,
            job_id: a.job.map(|j| j.0),
            time: a.time,
            original_size: a.original_size,
            compressed_size: a.compressed_size,
            deduplicated_size: a.deduplicated_size,
            nfiles: a.nfiles,
            catalog_state: a.catalog_state.to_string(),
            catalog_error: a.catalog_error,
            catalog_entries: a.catalog_entries,
            anomaly: a.anomaly,
            anomaly_acknowledged_at: a.anomaly_acknowledged_at,
        }
    }
}

#[derive(SimpleObject)]
pub struct LoginResult {
    pub token: String,
    pub user: User,
}

#[derive(SimpleObject)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub created: DateTime<Utc>,
    pub last_used: Option<DateTime<Utc>>,
}

#[derive(SimpleObject)]
pub struct NewApiToken {
    pub id: i64,
    /// Shown once: only a hash is stored.
    pub token: String,
}
