//! Reporting for CyBorgBackup: charts drawn with plotters (SVG for the UI, PNG for mail), mail
//! sent with lettre (per-job notifications, scheduled reports, test mail), webhooks, Prometheus
//! metrics, and the outbox that retries failed deliveries.

mod alerts;
mod audience;
pub mod charts;
pub mod draw;
pub mod forecast;
pub mod health;
pub mod mail;
pub mod metrics;
pub mod notifier;
pub mod outbox;
pub mod recoverability;
pub mod reports;
pub mod settings;
mod trust_alerts;

pub use charts::{render_chart, ChartKind, ChartRequest};
pub use draw::{init_fonts, Format};
pub use reports::Period;

use std::time::Duration;
use store::{Store, StoreError};
use tokio::sync::Notify;

/// Everything that can go wrong while reporting.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("chart drawing failed: {0}")]
    Chart(String),
    #[error("mail is not configured: {0}")]
    NotConfigured(String),
    #[error("{0}")]
    Smtp(String),
    #[error("webhook: {0}")]
    Webhook(String),
    #[error("background task failed: {0}")]
    Task(String),
}

static WAKE: Notify = Notify::const_new();

/// Wakes the background worker: a job finished or a message was queued.
pub fn wake() {
    WAKE.notify_one();
}

/// How often the worker looks for work without being woken.
const TICK: Duration = Duration::from_secs(2);
/// How often the report schedules are checked.
const REPORT_TICK: Duration = Duration::from_secs(20);

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ReportError> + Send + 'static,
) -> Result<T, ReportError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ReportError::Task(e.to_string()))?
}

/// The reporting service; cheap to clone.
#[derive(Clone)]
pub struct Reporter {
    store: Store,
}

impl Reporter {
    pub fn new(store: Store) -> Self {
        init_fonts();
        Reporter { store }
    }

    /// Starts the background worker: notifications of finished jobs, outbox delivery with
    /// retries, and scheduled reports. Call once, inside a tokio runtime.
    pub fn start(&self) {
        let store = self.store.clone();
        tokio::spawn(async move {
            let mut last_reports = tokio::time::Instant::now() - REPORT_TICK;
            loop {
                let s = store.clone();
                if let Err(e) = blocking(move || notifier::process_finished_jobs(&s)).await {
                    tracing::error!(error = %e, "job notifications failed");
                }
                // A separate task, so that a panic while delivering never stops the worker.
                let s = store.clone();
                match tokio::spawn(async move { outbox::deliver_due(&s).await }).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::error!(error = %e, "outbox delivery failed"),
                    Err(e) => tracing::error!(error = %e, "outbox delivery panicked"),
                }
                if last_reports.elapsed() >= REPORT_TICK {
                    last_reports = tokio::time::Instant::now();
                    let s = store.clone();
                    let r = blocking(move || {
                        let now = chrono::Utc::now();
                        if let Err(e) = health::alert_overdue(&s, now) {
                            tracing::error!(error = %e, "overdue alerts failed");
                        }
                        if let Err(e) = recoverability::alert_recoverability(&s, now) {
                            tracing::error!(error = %e, "recoverability alerts failed");
                        }
                        for p in reports::due_periods(&s, now)? {
                            match reports::send_report(&s, p, now) {
                                Ok(ids) => tracing::info!(period = p.as_str(), mails = ids.len(), "scheduled report queued"),
                                Err(e) => tracing::error!(period = p.as_str(), error = %e, "scheduled report failed"),
                            }
                        }
                        Ok(())
                    })
                    .await;
                    if let Err(e) = r {
                        tracing::error!(error = %e, "report scheduling failed");
                    }
                }
                tokio::select! {
                    _ = WAKE.notified() => {}
                    _ = tokio::time::sleep(TICK) => {}
                }
            }
        });
    }

    /// A job changed state; finished jobs get their notifications queued soon.
    pub fn job_event(&self, finished: bool) {
        if finished {
            wake();
        }
    }

    /// Renders a chart off the async runtime.
    pub async fn chart(&self, req: ChartRequest) -> Result<Vec<u8>, ReportError> {
        let s = self.store.clone();
        blocking(move || render_chart(&s, &req)).await
    }

    /// The Prometheus text exposition.
    pub async fn metrics(
        &self,
        scope: Option<std::sync::Arc<model::access::Visibility>>,
    ) -> Result<String, ReportError> {
        let s = self.store.clone();
        blocking(move || metrics::render(&s, scope.as_deref())).await
    }

    /// Sends a test mail now; the error is the SMTP server's or the network's, verbatim.
    pub async fn send_test_mail(&self, to: &str) -> Result<(), ReportError> {
        let s = self.store.clone();
        let m = blocking(move || settings::MailSettings::load(&s)).await?;
        mail::send_test(&m, to).await
    }

    /// Queues the report of `period` now for its subscribers; returns the outbox ids.
    pub async fn send_report(&self, period: Period) -> Result<Vec<i64>, ReportError> {
        let s = self.store.clone();
        let ids = blocking(move || reports::send_report(&s, period, chrono::Utc::now())).await?;
        wake();
        Ok(ids)
    }
}
