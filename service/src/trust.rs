//! Repository trust: a repository's recorded identity and tamper mark, the anomalies that pause
//! prune and compact of a series, and the two superuser actions that resume destruction
//! (acknowledging an anomaly, clearing a tamper mark after recovery).

use crate::{authorize, Action, Caller, Result, Service, Target};
use model::{Archive, ArchiveId, RepositoryId, RepositorySecurity, SeriesKey};
use std::collections::HashMap;

impl Service {
    /// The identity and tamper mark of a repository the caller reaches.
    pub async fn repository_security(
        &self,
        caller: &Caller,
        id: RepositoryId,
    ) -> Result<RepositorySecurity> {
        authorize(caller, Action::View, Target::Repository(id))?;
        self.run(move |i| Ok(i.store.repository_security(id)?))
            .await
    }

    /// The trust records of several repositories (those the caller does not reach are left
    /// out), read in one go for lists.
    pub async fn repositories_security(
        &self,
        caller: &Caller,
        ids: Vec<RepositoryId>,
    ) -> Result<HashMap<RepositoryId, RepositorySecurity>> {
        authorize(caller, Action::View, Target::Global)?;
        let ids: Vec<RepositoryId> = ids
            .into_iter()
            .filter(|id| authorize(caller, Action::View, Target::Repository(*id)).is_ok())
            .collect();
        self.run(move |i| {
            ids.into_iter()
                .map(|id| Ok((id, i.store.repository_security(id)?)))
                .collect()
        })
        .await
    }

    /// The flagged archives of a series no administrator acknowledged, newest first: while
    /// any is left, prune and compact of the series wait.
    pub async fn prune_blocked_by(
        &self,
        caller: &Caller,
        series: SeriesKey,
    ) -> Result<Vec<Archive>> {
        authorize(
            caller,
            Action::View,
            Target::Series {
                client: series.client,
                policy: series.policy,
            },
        )?;
        self.run(move |i| Ok(i.store.unacknowledged_anomalies(series)?))
            .await
    }

    /// Acknowledges an archive's anomaly (superuser): prune and compact of its series resume
    /// once no unacknowledged anomaly is left.
    pub async fn acknowledge_anomaly(&self, caller: &Caller, id: ArchiveId) -> Result<Archive> {
        authorize(caller, Action::Administer, Target::Global)?;
        let by = caller.user_id();
        let a = self
            .run(move |i| Ok(i.store.acknowledge_anomaly(id, by)?))
            .await?;
        tracing::info!(archive = %a.name, user = ?by, "anomaly acknowledged");
        Ok(a)
    }

    /// Clears a repository's tamper mark after recovery (superuser): the next prune accepts
    /// the repository's archive list as it then is, and prunes and compacts again.
    pub async fn clear_repository_tamper(
        &self,
        caller: &Caller,
        id: RepositoryId,
    ) -> Result<RepositorySecurity> {
        authorize(caller, Action::Administer, Target::Global)?;
        let by = caller.user_id();
        let s = self
            .run(move |i| Ok(i.store.clear_repository_tamper(id, by)?))
            .await?;
        tracing::info!(repository = %id, user = ?by, "tamper mark cleared");
        Ok(s)
    }
}
