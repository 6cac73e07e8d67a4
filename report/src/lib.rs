//! Reporting for CyBorgBackup: charts drawn with plotters (SVG for the UI, PNG for mail), mail
//! sent with lettre (per-job notifications, scheduled reports, test mail), webhooks, Prometheus
//! metrics, and the outbox that retries failed deliveries.

pub mod charts;
pub mod draw;
pub mod forecast;

pub use charts::{render_chart, ChartKind, ChartRequest};
pub use draw::{init_fonts, Format};

use store::StoreError;

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
}
