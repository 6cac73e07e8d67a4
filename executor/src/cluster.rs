//! The lease keeper of a node: at a third of the job lease it records the node's heartbeat,
//! renews the leases of the jobs it runs (stopping those canceled or ended from another node),
//! and ends the jobs of nodes that stopped renewing theirs.

use crate::events::JobEvent;
use crate::manager::Executor;
use chrono::Utc;
use std::time::Duration;

/// What this node says about itself at each heartbeat.
pub(crate) fn beat(ex: &Executor) -> store::NodeBeat {
    let o = &ex.inner.opts;
    store::NodeBeat {
        name: o.node_name.clone(),
        address: o.node_address.clone(),
        catalog: o.catalog_role,
        version: env!("CARGO_PKG_VERSION").into(),
    }
}

pub(crate) async fn run(ex: Executor) {
    let lease = ex.inner.opts.job_lease;
    let mut tick = tokio::time::interval((lease / 3).max(Duration::from_millis(200)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let me = ex.clone();
        let done = tokio::task::spawn_blocking(move || me.keep_leases()).await;
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "job leases not kept this time"),
            Err(e) => tracing::error!(error = %e, "lease keeper failed"),
        }
    }
}

impl Executor {
    fn keep_leases(&self) -> Result<(), store::StoreError> {
        let store = &self.inner.store;
        let o = &self.inner.opts;
        let now = Utc::now();
        store.heartbeat(&beat(self))?;
        let until = now + chrono::Duration::from_std(o.job_lease).unwrap_or_default();
        for id in store.renew_leases(&o.node_name, until)? {
            if let Some(t) = self.running_token(id) {
                tracing::info!(job = %id, "stopping a job canceled or ended from another node");
                t.cancel();
            }
            store.release_lease(id)?;
        }
        let expired = store.expire_leases(&o.node_name, now)?;
        for e in &expired {
            self.emit(JobEvent::Status {
                job: e.job,
                status: e.status,
            });
        }
        if !expired.is_empty() {
            // Dependants of a failed job are canceled, a requeued catalog job starts again.
            self.wake();
        }
        Ok(())
    }
}
