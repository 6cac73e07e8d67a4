//! The cluster in GraphQL: `cluster` lists the nodes sharing the database (superusers).

use crate::errors::ApiResult;
use crate::{caller, svc};
use async_graphql::{Context, Object, SimpleObject};
use chrono::{DateTime, Utc};

/// One server node.
#[derive(SimpleObject, Clone)]
#[graphql(name = "ClusterNode")]
pub struct NodeObj {
    pub name: String,
    /// Base URL the other nodes reach it at.
    pub address: String,
    /// Holds the file catalog (ingests and answers catalog queries).
    pub catalog: bool,
    pub version: String,
    pub started: DateTime<Utc>,
    pub heartbeat: DateTime<Utc>,
    pub heartbeat_age_seconds: i64,
    /// A heartbeat came within the last job lease.
    pub alive: bool,
    /// Ids of the jobs it runs now.
    pub running_jobs: Vec<i64>,
    /// The node answering this request.
    pub this_node: bool,
}

/// The database the nodes share, and the nodes.
#[derive(SimpleObject, Clone)]
#[graphql(name = "Cluster")]
pub struct ClusterObj {
    /// `sqlite` (one node) or `postgresql`.
    pub database: String,
    pub nodes: Vec<NodeObj>,
}

#[derive(Default)]
pub struct ClusterQuery;

#[Object]
impl ClusterQuery {
    /// The server nodes sharing this database, their heartbeats and running jobs (superusers).
    async fn cluster(&self, ctx: &Context<'_>) -> ApiResult<ClusterObj> {
        let c = caller(ctx).await?;
        let v = svc(ctx).cluster(&c).await?;
        Ok(ClusterObj {
            database: v.database.into(),
            nodes: v
                .nodes
                .into_iter()
                .map(|n| NodeObj {
                    name: n.name,
                    address: n.address,
                    catalog: n.catalog,
                    version: n.version,
                    started: n.started,
                    heartbeat: n.heartbeat,
                    heartbeat_age_seconds: n.heartbeat_age_seconds,
                    alive: n.alive,
                    running_jobs: n.running_jobs.into_iter().map(|j| j.0).collect(),
                    this_node: n.this_node,
                })
                .collect(),
        })
    }
}
