//! Readiness of the server for orchestrators (`GET /readyz`): the database accepts a write, the
//! catalog can be searched, the scheduler is ticking. The probe is the one service call without
//! a caller: it reveals no inventory, only which of the three checks failed.

use crate::{Result, Service};
use std::time::Duration;

/// Longest wait for the database and catalog checks.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// The verdict of each check: `"ok"` or a short reason (details go to the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerReadiness {
    pub database: String,
    pub catalog: String,
    pub scheduler: String,
}

impl ServerReadiness {
    /// True when every check passed.
    pub fn ready(&self) -> bool {
        [&self.database, &self.catalog, &self.scheduler]
            .iter()
            .all(|v| *v == "ok")
    }
}

fn verdict<E: std::fmt::Display>(
    check: &str,
    r: std::result::Result<(), E>,
    reason: &str,
) -> String {
    match r {
        Ok(()) => "ok".into(),
        Err(e) => {
            tracing::warn!(check, error = %e, "readiness check failed");
            reason.into()
        }
    }
}

impl Service {
    /// Runs the three readiness checks; never fails (a check that cannot run is a verdict).
    pub async fn server_readiness(&self) -> ServerReadiness {
        let checks = self.run(|inner| {
            let db = verdict(
                "database",
                inner.store.write_check(),
                "does not accept writes",
            );
            let cat = verdict(
                "catalog",
                inner.catalog.check().map(|_| ()),
                "cannot be searched",
            );
            Result::Ok((db, cat))
        });
        let (database, catalog) = match tokio::time::timeout(PROBE_TIMEOUT, checks).await {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "readiness check failed to run");
                ("check failed".into(), "check failed".into())
            }
            Err(_) => (
                format!("no answer within {} seconds", PROBE_TIMEOUT.as_secs()),
                "not checked".into(),
            ),
        };
        let pulse = self.inner.executor.scheduler_pulse();
        let scheduler = if !pulse.is_stalled(chrono::Utc::now()) {
            "ok".to_string()
        } else {
            match pulse.last_tick {
                Some(t) => format!("stalled: last tick at {}", t.to_rfc3339()),
                None => "not started".into(),
            }
        };
        ServerReadiness {
            database,
            catalog,
            scheduler,
        }
    }
}
