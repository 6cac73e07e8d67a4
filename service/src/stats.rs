//! Statistics, charts, forecasts and metrics (limited to the series the caller's grants reach),
//! and the outgoing-message administration (superuser).

use crate::{authorize, Action, Caller, Result, Service, ServiceError, Target};
use chrono::{Duration, NaiveDate, Utc};
use model::RepositoryId;
use report::{ChartKind, ChartRequest, Period, Reporter};
use store::{Channel, DailySeries, OutboxItem, SeriesStatus, StatsFilter, StatsGroup};

/// A chart to draw.
pub type ChartQuery = ChartRequest;

/// Linear growth of a repository and when it is full.
#[derive(Debug, Clone)]
pub struct Forecast {
    pub repository: RepositoryId,
    pub capacity: Option<i64>,
    pub used: i64,
    pub fit: Option<report::forecast::Forecast>,
    /// Why there is no forecast (too little history), when there is none.
    pub missing: Option<String>,
}

impl Forecast {
    /// "full in N days", "not growing", "no capacity set", or what history is still needed.
    pub fn describe(&self) -> String {
        match (self.fit, &self.missing) {
            (Some(f), _) => f.describe(self.capacity),
            (None, Some(why)) => why.clone(),
            (None, None) => "no data".into(),
        }
    }
}

/// Checks the objects a statistics filter names and restricts it to the caller's series.
fn scoped(caller: &Caller, mut f: StatsFilter) -> Result<StatsFilter> {
    authorize(caller, Action::View, Target::Global)?;
    if let Some(r) = f.repository {
        authorize(caller, Action::View, Target::Repository(r))?;
    }
    if let Some(c) = f.client {
        authorize(caller, Action::View, Target::Client(c))?;
    }
    if let Some(p) = f.policy {
        authorize(caller, Action::View, Target::Policy(p))?;
    }
    f.scope = caller.scope();
    Ok(f)
}

impl Service {
    /// Daily statistics over `from`..`to` (exclusive), grouped.
    pub async fn stats_series(
        &self,
        caller: &Caller,
        from: NaiveDate,
        to: NaiveDate,
        group: StatsGroup,
        filter: StatsFilter,
    ) -> Result<Vec<DailySeries>> {
        let f = scoped(caller, filter)?;
        self.run(move |i| Ok(i.store.daily_stats(from, to, group, f)?))
            .await
    }

    /// The last 30 days of all the caller's series, as one series (the REST API's `stats/`).
    pub async fn stats_last_30_days(&self, caller: &Caller) -> Result<DailySeries> {
        let to = Utc::now().date_naive() + Duration::days(1);
        let mut all = self
            .stats_series(
                caller,
                to - Duration::days(30),
                to,
                StatsGroup::All,
                StatsFilter::default(),
            )
            .await?;
        all.pop()
            .ok_or_else(|| ServiceError::Internal("statistics without a series".into()))
    }

    /// A chart (SVG or PNG bytes) of the caller's series. A forecast names a repository unless
    /// the caller is a superuser and there is only one.
    pub async fn chart(&self, caller: &Caller, mut req: ChartQuery) -> Result<Vec<u8>> {
        req.filter = scoped(caller, req.filter)?;
        if req.kind == ChartKind::Forecast
            && req.filter.repository.is_none()
            && !caller.is_superuser()
        {
            return Err(ServiceError::field(
                "repository",
                "a forecast needs a repository",
            ));
        }
        let store = self.inner.store.clone();
        Ok(Reporter::new(store).chart(req).await?)
    }

    /// The last backup of every series the caller reaches.
    pub async fn series_status(&self, caller: &Caller) -> Result<Vec<SeriesStatus>> {
        authorize(caller, Action::View, Target::Global)?;
        let scope = caller.scope();
        let all = self.run(|i| Ok(i.store.series_status()?)).await?;
        Ok(all
            .into_iter()
            .filter(|s| scope.as_ref().is_none_or(|v| v.series(s.client, s.policy)))
            .collect())
    }

    /// Linear growth of a repository over `days` and when it is full.
    pub async fn repository_forecast(
        &self,
        caller: &Caller,
        id: RepositoryId,
        days: i64,
    ) -> Result<Forecast> {
        authorize(caller, Action::View, Target::Repository(id))?;
        self.run(move |i| {
            let repo = i.store.repository(id)?;
            let capacity = i.store.repository_capacity(id)?;
            let now = Utc::now();
            let pts: Vec<_> = i
                .store
                .repository_size_history(id, now - Duration::days(days.clamp(1, 3650)))?
                .iter()
                .map(|p| (p.time, p.deduplicated_size as f64))
                .collect();
            // No forecast from too little history: the description says what is needed.
            let fitted = report::forecast::fit_with_history(&pts, capacity, now);
            Ok(Forecast {
                repository: id,
                capacity,
                used: repo.deduplicated_size,
                missing: fitted.as_ref().err().cloned(),
                fit: fitted.ok(),
            })
        })
        .await
    }

    /// Sets or clears a repository's capacity in bytes (superuser); returns the capacity now.
    pub async fn set_repository_capacity(
        &self,
        caller: &Caller,
        id: RepositoryId,
        bytes: Option<i64>,
    ) -> Result<Option<i64>> {
        authorize(caller, Action::Administer, Target::Global)?;
        self.run(move |i| {
            i.store.set_repository_capacity(id, bytes)?;
            Ok(i.store.repository_capacity(id)?)
        })
        .await
    }

    /// Outgoing mail and webhook deliveries, newest first (superuser).
    pub async fn outbox(
        &self,
        caller: &Caller,
        channel: Option<&str>,
        state: Option<String>,
        limit: i64,
    ) -> Result<Vec<OutboxItem>> {
        authorize(caller, Action::Administer, Target::Global)?;
        let channel = match channel {
            None => None,
            Some("mail") => Some(Channel::Mail),
            Some("webhook") => Some(Channel::Webhook),
            Some(other) => {
                return Err(ServiceError::field(
                    "channel",
                    format!("{other:?} is not mail or webhook"),
                ))
            }
        };
        self.run(move |i| {
            Ok(i.store
                .outbox(channel, state.as_deref(), limit.clamp(1, 1000))?)
        })
        .await
    }

    /// Queues a failed or pending outgoing message for another attempt now (superuser).
    pub async fn retry_outbox(&self, caller: &Caller, id: i64) -> Result<OutboxItem> {
        authorize(caller, Action::Administer, Target::Global)?;
        let item = self.run(move |i| Ok(i.store.retry_outbox(id)?)).await?;
        report::wake();
        Ok(item)
    }

    /// Sends a test mail to `to` (default: the caller) now; the SMTP error verbatim (superuser).
    pub async fn send_test_mail(
        &self,
        caller: &Caller,
        to: Option<String>,
    ) -> Result<Option<String>> {
        authorize(caller, Action::Administer, Target::Global)?;
        let to = match (to, caller) {
            (Some(t), _) => t,
            (None, Caller::User(u)) => u.email.clone(),
            (None, _) => return Err(ServiceError::field("to", "name a recipient")),
        };
        match Reporter::new(self.inner.store.clone())
            .send_test_mail(&to)
            .await
        {
            Ok(()) => Ok(None),
            Err(e) => {
                tracing::warn!(error = %e, "test mail failed");
                Ok(Some(e.to_string()))
            }
        }
    }

    /// Queues a daily, weekly or monthly report now; the outgoing message ids (superuser).
    pub async fn send_report(&self, caller: &Caller, period: &str) -> Result<Vec<i64>> {
        authorize(caller, Action::Administer, Target::Global)?;
        let p = Period::parse(period)?;
        Ok(Reporter::new(self.inner.store.clone())
            .send_report(p)
            .await?)
    }

    /// Prometheus text, as the `metrics.auth` setting protects it (`token`: any user, who sees
    /// only the series their grants reach; `admin`: a superuser; `none`: anyone, everything).
    pub async fn metrics(&self, caller: &Caller) -> Result<String> {
        use model::settings::{MetricsAuth, METRICS_AUTH};
        let auth = self.run(|i| Ok(i.store.get(&METRICS_AUTH)?)).await?;
        match auth {
            MetricsAuth::None => {}
            MetricsAuth::Token => authorize(caller, Action::Authenticated, Target::Global)?,
            MetricsAuth::Admin => {
                authorize(caller, Action::Authenticated, Target::Global)?;
                if !caller.is_superuser() {
                    return Err(ServiceError::Forbidden(
                        "metrics need a superuser's token".into(),
                    ));
                }
            }
        }
        let scope = match auth {
            MetricsAuth::None => None,
            _ => caller.scope(),
        };
        Ok(Reporter::new(self.inner.store.clone())
            .metrics(scope)
            .await?)
    }
}
