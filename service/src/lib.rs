//! Application services of CyBorgBackup: every action GraphQL, REST v1 and the CLI perform,
//! with its caller. A call authorizes at one point ([`authorize`]), validates, runs, and fails
//! with one error ([`ServiceError`]). Store, executor and catalog work runs off the async
//! runtime in one place ([`Service::run`]); transports never reach the store themselves.

mod admin;
mod authz;
mod caller;
mod catalog;
pub mod cluster;
pub mod copies;
mod error;
pub mod health;
mod inventory;
mod jobs;
mod login;
mod probes;
mod restore;
mod settings;
mod stats;
mod throttle;
mod trust;
mod users;

pub use admin::VmProvider;
pub use authz::{authorize, launch_action, Action, Target};
pub use caller::{Caller, UserCaller};
pub use catalog::{ArchiveChanges, CatalogHit, CatalogPage, DiffEntry, DiffPage, HistoryEntry};
pub use error::{Result, ServiceError};
pub use login::{PasswordChange, SESSION_HOURS};
pub use probes::ServerReadiness;
pub use settings::Setting;
pub use stats::{ChartQuery, Forecast};
pub use throttle::{BASE_BACKOFF, FREE_FAILURES, MAX_BACKOFF, MAX_FAILURES_PER_ADDRESS, WINDOW};
pub use users::{UserAccess, UserChange, UserSpec};

/// Types of the layers below that service calls take and return, so that transports name
/// them through the services.
pub mod types {
    pub use executor::restore::{Download, DownloadKind, DownloadTicket};
    pub use executor::{CheckOptions, JobEvent, RestoreRequest, StatusEntry};
    pub use indexer::{
        Anomaly, ArchiveBrief, ChangeStats, CompareKind, Compared, DiffKind, SearchOrder,
        SearchQuery, VersionFate, VersionHit,
    };
    pub use report::{ChartKind, ChartRequest, Format, Period};
    pub use store::{
        ArchiveListOptions, ArchiveOrder, AuthUser, Channel, ClientListOptions, ClientOrder,
        CopyVerification, Cursor, DailySeries, HostKey, JobFilter, JobListOptions, JobOrder,
        NotifyPrefs, OutboxItem, Page, PageRequest, PolicyListOptions, PolicyOrder,
        RepositoryListOptions, RepositoryOrder, RestoreTest, RestoreTestListOptions,
        RestoreTestOrder, ScheduleListOptions, ScheduleOrder, SeriesStatus, SortKey, StatsFilter,
        StatsGroup, UserListOptions, UserOrder, Verdict, VmProviderInput, VmProviderRecord,
        MAX_PAGE,
    };
}

use executor::Executor;
use indexer::Catalog;
use std::sync::Arc;
use store::Store;

/// The services; cheap to clone, built once by the composition root.
#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

/// What the services run on.
pub(crate) struct Inner {
    pub store: Store,
    pub executor: Executor,
    pub catalog: Catalog,
    pub logins: login::Logins,
}

impl Service {
    pub fn new(store: Store, executor: Executor, catalog: Catalog) -> Service {
        Service {
            inner: Arc::new(Inner {
                logins: login::Logins::new(store.clone()),
                store,
                executor,
                catalog,
            }),
        }
    }

    /// Runs blocking work (store, executor launches, catalog) on tokio's blocking pool: the one
    /// way service calls reach the layers below from async code.
    pub(crate) async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || f(&inner)).await?
    }

    /// Live job status changes and progress for subscriptions; each event is checked against
    /// the subscriber with [`Service::can_view_job`].
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<executor::JobEvent> {
        self.inner.executor.subscribe()
    }

    /// Live output lines of every job, each published once stored, in order; a subscriber
    /// checks the job with [`Service::last_output_seq`] and fills gaps with
    /// [`Service::job_output`].
    pub fn subscribe_output(&self) -> tokio::sync::broadcast::Receiver<executor::JobEvent> {
        self.inner.executor.subscribe_output()
    }

    /// The numbered feed of status changes, replayed after a cursor; a subscriber checks each
    /// job with [`Service::can_view_job`].
    pub fn status_feed(&self) -> &executor::StatusFeed {
        self.inner.executor.status_feed()
    }

    /// The status feed's current cursor, where a live view starts (any logged-in user).
    pub fn live_cursor(&self, caller: &Caller) -> Result<u64> {
        authorize(caller, Action::Authenticated, Target::Global)?;
        Ok(self.inner.executor.status_feed().cursor())
    }
}
