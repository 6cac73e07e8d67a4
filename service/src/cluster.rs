//! The nodes sharing this server's database, for administrators: each node's heartbeat, whether
//! it is alive (a heartbeat within three lease renewals), its catalog role and running jobs.

use crate::authz::{authorize, Action, Target};
use crate::{Caller, Result, Service};
use chrono::{DateTime, Utc};
use model::JobId;

/// One node as administrators see it.
#[derive(Debug, Clone)]
pub struct NodeView {
    pub name: String,
    pub address: String,
    pub catalog: bool,
    pub version: String,
    pub started: DateTime<Utc>,
    pub heartbeat: DateTime<Utc>,
    pub heartbeat_age_seconds: i64,
    /// A heartbeat came within the last job lease: its jobs' leases are kept.
    pub alive: bool,
    pub running_jobs: Vec<JobId>,
    /// The node answering this request.
    pub this_node: bool,
}

/// The cluster: which database, and every node.
#[derive(Debug, Clone)]
pub struct ClusterView {
    /// `sqlite` or `postgresql`.
    pub database: &'static str,
    pub nodes: Vec<NodeView>,
}

impl Service {
    /// Every node sharing the database (superusers).
    pub async fn cluster(&self, caller: &Caller) -> Result<ClusterView> {
        authorize(caller, Action::Administer, Target::Global)?;
        self.run(|i| {
            let me = i.executor.node_name().to_string();
            let lease = chrono::Duration::from_std(i.executor.job_lease())
                .unwrap_or_else(|_| chrono::Duration::seconds(30));
            let now = Utc::now();
            let database = match i.store.backend() {
                store::Backend::Sqlite => "sqlite",
                store::Backend::Postgres => "postgresql",
            };
            let nodes = i
                .store
                .nodes()?
                .into_iter()
                .map(|n| NodeView {
                    heartbeat_age_seconds: (now - n.heartbeat).num_seconds().max(0),
                    alive: now - n.heartbeat <= lease,
                    this_node: n.name == me,
                    name: n.name,
                    address: n.address,
                    catalog: n.catalog,
                    version: n.version,
                    started: n.started,
                    heartbeat: n.heartbeat,
                    running_jobs: n.running_jobs,
                })
                .collect();
            Ok(ClusterView { database, nodes })
        })
        .await
    }
}
