//! Statistics, charts and notifications in GraphQL: daily series, SVG charts, growth forecasts,
//! mail/webhook/report/metrics settings (secrets masked), notification preferences, the test
//! mail, scheduled reports on demand and the outbox of outgoing messages.

use crate::errors::{ApiError, ApiResult, GqlError};
use crate::{admin, services, user};
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use model::{ClientId, PolicyId, RepositoryId, UserId};
use report::{ChartKind, ChartRequest, Format, Period, ReportError, Reporter};
use store::{StatsFilter, StatsGroup};

pub(crate) fn report_err(e: ReportError) -> GqlError {
    match e {
        ReportError::Store(s) => s.into(),
        ReportError::Invalid { field, reason } => ApiError::field(field, reason).into(),
        ReportError::NotConfigured(m) => {
            ApiError::field("mail", format!("mail is not configured: {m}")).into()
        }
        other => ApiError::Internal(other.to_string()).into(),
    }
}

fn reporter(ctx: &Context<'_>) -> Reporter {
    Reporter::new(services(ctx).store.clone())
}

fn filter(repository: Option<i64>, client: Option<i64>, policy: Option<i64>) -> StatsFilter {
    StatsFilter {
        repository: repository.map(RepositoryId),
        client: client.map(ClientId),
        policy: policy.map(PolicyId),
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Default)]
pub enum StatsGroupBy {
    #[default]
    All,
    Repository,
    Client,
    Policy,
}

#[derive(SimpleObject)]
pub struct StatsPoint {
    pub date: NaiveDate,
    pub original_size: i64,
    pub compressed_size: i64,
    pub deduplicated_size: i64,
    pub nfiles: i64,
    pub archives: i64,
    /// Backup jobs that succeeded that day.
    pub success: i64,
    /// Backup jobs that failed (or could not run) that day.
    pub failed: i64,
}

#[derive(SimpleObject)]
pub struct StatsSeries {
    /// Id of the repository, client or policy (0 for ALL).
    pub key: i64,
    pub label: String,
    pub points: Vec<StatsPoint>,
}

#[derive(SimpleObject)]
pub struct SeriesStatus {
    pub policy_id: i64,
    pub policy_name: String,
    pub client_id: i64,
    pub hostname: String,
    pub repository_id: i64,
    pub repository_name: String,
    pub last_backup: Option<DateTime<Utc>>,
    pub last_status: Option<String>,
    pub last_success: Option<DateTime<Utc>>,
    pub original_size: i64,
    pub deduplicated_size: i64,
    pub catalog_state: Option<String>,
    pub archives: i64,
}

#[derive(SimpleObject)]
pub struct RepositoryForecast {
    pub repository_id: i64,
    pub capacity: Option<i64>,
    pub used: i64,
    pub slope_per_day: Option<f64>,
    pub full_in_days: Option<f64>,
    pub description: String,
}

/// A mail, webhook, report or metrics setting; secrets show `$encrypted$` when set.
#[derive(SimpleObject)]
pub struct NotificationSetting {
    pub key: String,
    pub value: String,
    pub is_secret: bool,
}

#[derive(SimpleObject, InputObject)]
#[graphql(input_name = "NotificationPreferencesInput")]
pub struct NotificationPreferences {
    pub backup_success: Option<bool>,
    pub backup_failed: Option<bool>,
    pub launch_summary: Option<bool>,
    pub daily: Option<bool>,
    pub weekly: Option<bool>,
    pub monthly: Option<bool>,
}

impl From<store::NotifyPrefs> for NotificationPreferences {
    fn from(p: store::NotifyPrefs) -> Self {
        NotificationPreferences {
            backup_success: Some(p.backup_success),
            backup_failed: Some(p.backup_failed),
            launch_summary: Some(p.launch_summary),
            daily: Some(p.daily),
            weekly: Some(p.weekly),
            monthly: Some(p.monthly),
        }
    }
}

/// A queued mail or webhook delivery.
#[derive(SimpleObject)]
pub struct OutgoingMessage {
    pub id: i64,
    pub channel: String,
    pub kind: String,
    pub recipients: String,
    pub subject: String,
    /// `pending`, `sent` or `failed` (given up).
    pub state: String,
    pub attempts: i64,
    pub last_error: String,
    pub created: DateTime<Utc>,
    pub next_attempt: DateTime<Utc>,
    pub sent: Option<DateTime<Utc>>,
}

impl From<store::OutboxItem> for OutgoingMessage {
    fn from(o: store::OutboxItem) -> Self {
        OutgoingMessage {
            id: o.id,
            channel: o.channel,
            kind: o.kind,
            recipients: o.recipients,
            subject: o.subject,
            state: o.state,
            attempts: o.attempts,
            last_error: o.last_error,
            created: o.created,
            next_attempt: o.next_attempt,
            sent: o.sent,
        }
    }
}

#[derive(SimpleObject)]
pub struct TestMailResult {
    pub sent: bool,
    /// The SMTP or network error, verbatim.
    pub error: Option<String>,
}

#[derive(Default)]
pub struct StatsQuery;

#[Object]
impl StatsQuery {
    /// Daily statistics (archive sizes by archive day, backup outcomes by finish day) over
    /// `from`..`to` (exclusive; default: the last `days` days including today), grouped.
    #[allow(clippy::too_many_arguments)]
    async fn stats_series(
        &self,
        ctx: &Context<'_>,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        #[graphql(default = 30)] days: i64,
        #[graphql(default)] group_by: StatsGroupBy,
        repository: Option<i64>,
        client: Option<i64>,
        policy: Option<i64>,
    ) -> ApiResult<Vec<StatsSeries>> {
        user(ctx)?;
        let to = to.unwrap_or_else(|| Utc::now().date_naive() + Duration::days(1));
        let from = from.unwrap_or(to - Duration::days(days.clamp(1, 3650)));
        let group = match group_by {
            StatsGroupBy::All => StatsGroup::All,
            StatsGroupBy::Repository => StatsGroup::Repository,
            StatsGroupBy::Client => StatsGroup::Client,
            StatsGroupBy::Policy => StatsGroup::Policy,
        };
        let series =
            services(ctx)
                .store
                .daily_stats(from, to, group, filter(repository, client, policy))?;
        Ok(series
            .into_iter()
            .map(|s| StatsSeries {
                key: s.key,
                label: s.label,
                points: s
                    .points
                    .into_iter()
                    .map(|p| StatsPoint {
                        date: p.date,
                        original_size: p.original_size,
                        compressed_size: p.compressed_size,
                        deduplicated_size: p.deduplicated_size,
                        nfiles: p.nfiles,
                        archives: p.archives,
                        success: p.success,
                        failed: p.failed,
                    })
                    .collect(),
            })
            .collect())
    }

    /// A chart as SVG text: `kind` is size, jobs, files or forecast.
    #[allow(clippy::too_many_arguments)]
    async fn chart_svg(
        &self,
        ctx: &Context<'_>,
        kind: String,
        repository: Option<i64>,
        client: Option<i64>,
        policy: Option<i64>,
        #[graphql(default = 30)] days: i64,
        #[graphql(default = 800)] width: u32,
        #[graphql(default = 400)] height: u32,
    ) -> ApiResult<String> {
        user(ctx)?;
        let mut req =
            ChartRequest::new(kind.parse::<ChartKind>().map_err(report_err)?, Format::Svg);
        req.filter = filter(repository, client, policy);
        req.days = days;
        req.width = width;
        req.height = height;
        let svg = reporter(ctx).chart(req).await.map_err(report_err)?;
        String::from_utf8(svg).map_err(|e| ApiError::Internal(e.to_string()).into())
    }

    /// The last backup of every policy on every client.
    async fn series_status(&self, ctx: &Context<'_>) -> ApiResult<Vec<SeriesStatus>> {
        user(ctx)?;
        Ok(services(ctx)
            .store
            .series_status()?
            .into_iter()
            .map(|s| SeriesStatus {
                policy_id: s.policy.0,
                policy_name: s.policy_name,
                client_id: s.client.0,
                hostname: s.hostname,
                repository_id: s.repository.0,
                repository_name: s.repository_name,
                last_backup: s.last_backup,
                last_status: s.last_status.map(|x| x.as_str().to_string()),
                last_success: s.last_success,
                original_size: s.original_size,
                deduplicated_size: s.deduplicated_size,
                catalog_state: s.catalog_state.map(|x| x.as_str().to_string()),
                archives: s.archives,
            })
            .collect())
    }

    /// Linear growth of a repository over `days` and when it is full (capacity set).
    async fn repository_forecast(
        &self,
        ctx: &Context<'_>,
        repository: i64,
        #[graphql(default = 30)] days: i64,
    ) -> ApiResult<RepositoryForecast> {
        user(ctx)?;
        let s = &services(ctx).store;
        let id = RepositoryId(repository);
        let repo = s.repository(id)?;
        let capacity = s.repository_capacity(id)?;
        let now = Utc::now();
        let pts: Vec<_> = s
            .repository_size_history(id, now - Duration::days(days.clamp(1, 3650)))?
            .iter()
            .map(|p| (p.time, p.deduplicated_size as f64))
            .collect();
        // No forecast from too little history: the description says what is needed.
        let fitted = report::forecast::fit_with_history(&pts, capacity, now);
        let description = match &fitted {
            Ok(f) => f.describe(capacity),
            Err(why) => why.clone(),
        };
        let fc = fitted.ok();
        Ok(RepositoryForecast {
            repository_id: repository,
            capacity,
            used: repo.deduplicated_size,
            slope_per_day: fc.map(|f| f.slope_per_day),
            full_in_days: fc.and_then(|f| f.full_in_days),
            description,
        })
    }

    /// Mail, webhook, report and metrics settings (superuser; secrets masked).
    async fn notification_settings(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<Vec<NotificationSetting>> {
        admin(ctx)?;
        Ok(report::settings::masked(&services(ctx).store)
            .map_err(report_err)?
            .into_iter()
            .map(|(key, value, is_secret)| NotificationSetting {
                key,
                value,
                is_secret,
            })
            .collect())
    }

    /// Notification preferences of the caller, or of another user (superuser).
    async fn notification_preferences(
        &self,
        ctx: &Context<'_>,
        user_id: Option<i64>,
    ) -> ApiResult<NotificationPreferences> {
        let id = target_user(ctx, user_id)?;
        Ok(services(ctx).store.notify_prefs(id)?.into())
    }

    /// Outgoing mail and webhook deliveries, newest first (superuser).
    async fn outgoing_messages(
        &self,
        ctx: &Context<'_>,
        channel: Option<String>,
        state: Option<String>,
        #[graphql(default = 100)] limit: i64,
    ) -> ApiResult<Vec<OutgoingMessage>> {
        admin(ctx)?;
        let channel = match channel.as_deref() {
            None => None,
            Some("mail") => Some(store::Channel::Mail),
            Some("webhook") => Some(store::Channel::Webhook),
            Some(other) => {
                return Err(
                    ApiError::field("channel", format!("{other:?} is not mail or webhook")).into(),
                )
            }
        };
        Ok(services(ctx)
            .store
            .outbox(channel, state.as_deref(), limit.clamp(1, 1000))?
            .into_iter()
            .map(Into::into)
            .collect())
    }
}

fn target_user(ctx: &Context<'_>, user_id: Option<i64>) -> ApiResult<UserId> {
    let u = user(ctx)?;
    match user_id {
        None => Ok(u.id),
        Some(id) if id == u.id.0 => Ok(u.id),
        Some(id) => {
            admin(ctx)?;
            Ok(UserId(id))
        }
    }
}

#[derive(Default)]
pub struct StatsMutation;

#[Object]
impl StatsMutation {
    /// Sets a `mail.*`, `webhook.*`, `report.*` or `metrics.*` setting (superuser). Secret keys
    /// (`mail.password`, `webhook.secret`) are sealed; an empty value clears a setting.
    async fn set_notification_setting(
        &self,
        ctx: &Context<'_>,
        key: String,
        value: String,
    ) -> ApiResult<NotificationSetting> {
        let u = admin(ctx)?;
        let s = &services(ctx).store;
        let secret = report::settings::KEYS
            .iter()
            .any(|(k, sec)| *sec && *k == key);
        if secret {
            report::settings::set_secret(s, &key, &value).map_err(report_err)?;
        } else {
            report::settings::set(s, &key, &value).map_err(report_err)?;
        }
        tracing::info!(user = u.id.0, key = %key, "notification setting changed");
        Ok(NotificationSetting {
            value: if secret && !value.is_empty() {
                model::MASK.to_string()
            } else if secret {
                String::new()
            } else {
                value.trim().to_string()
            },
            key,
            is_secret: secret,
        })
    }

    /// Changes notification preferences of the caller, or of another user (superuser); unset
    /// fields keep their value.
    async fn set_notification_preferences(
        &self,
        ctx: &Context<'_>,
        user_id: Option<i64>,
        input: NotificationPreferences,
    ) -> ApiResult<NotificationPreferences> {
        let id = target_user(ctx, user_id)?;
        let s = &services(ctx).store;
        let mut p = s.notify_prefs(id)?;
        p.backup_success = input.backup_success.unwrap_or(p.backup_success);
        p.backup_failed = input.backup_failed.unwrap_or(p.backup_failed);
        p.launch_summary = input.launch_summary.unwrap_or(p.launch_summary);
        p.daily = input.daily.unwrap_or(p.daily);
        p.weekly = input.weekly.unwrap_or(p.weekly);
        p.monthly = input.monthly.unwrap_or(p.monthly);
        Ok(s.set_notify_prefs(id, p)?.into())
    }

    /// Sends a test mail now to `to` (default: the caller) and reports the SMTP error verbatim.
    async fn send_test_mail(
        &self,
        ctx: &Context<'_>,
        to: Option<String>,
    ) -> ApiResult<TestMailResult> {
        let u = admin(ctx)?;
        let to = to.unwrap_or_else(|| u.email.clone());
        Ok(match reporter(ctx).send_test_mail(&to).await {
            Ok(()) => TestMailResult {
                sent: true,
                error: None,
            },
            Err(e) => {
                tracing::warn!(error = %e, "test mail failed");
                TestMailResult {
                    sent: false,
                    error: Some(e.to_string()),
                }
            }
        })
    }

    /// Queues a daily, weekly or monthly report now for its subscribers; returns the ids of the
    /// outgoing messages (superuser).
    async fn send_report(&self, ctx: &Context<'_>, period: String) -> ApiResult<Vec<i64>> {
        admin(ctx)?;
        let p = Period::parse(&period).map_err(report_err)?;
        reporter(ctx).send_report(p).await.map_err(report_err)
    }

    /// Queues a failed or pending outgoing message for another attempt now (superuser).
    async fn retry_outgoing_message(
        &self,
        ctx: &Context<'_>,
        id: i64,
    ) -> ApiResult<OutgoingMessage> {
        admin(ctx)?;
        let item = services(ctx).store.retry_outbox(id)?;
        report::wake();
        Ok(item.into())
    }

    /// Sets or clears (null) the capacity of a repository's storage in bytes (superuser).
    async fn set_repository_capacity(
        &self,
        ctx: &Context<'_>,
        repository: i64,
        capacity: Option<i64>,
    ) -> ApiResult<Option<i64>> {
        admin(ctx)?;
        let s = &services(ctx).store;
        s.set_repository_capacity(RepositoryId(repository), capacity)?;
        Ok(s.repository_capacity(RepositoryId(repository))?)
    }
}
