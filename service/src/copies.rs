//! Copies (3-2-1): a copy archive compared with the primary archive of the same run, and the
//! recoverability of each series across its primary and copies.

use crate::{authorize, Action, Caller, Result, Service, ServiceError, Target};
use chrono::Utc;
use indexer::ArchiveComparison;
use model::{Archive, ArchiveId, ClientId, PolicyId, RecoveryState};
pub use report::recoverability::{Recoverability, RepositoryRecovery, SeriesRecovery};

/// A copy archive, the primary archive it was compared with, and what differs.
#[derive(Debug, Clone)]
pub struct CopyComparison {
    pub copy: Archive,
    pub primary: Archive,
    pub comparison: ArchiveComparison,
}

impl Service {
    /// Compares a copy archive with the primary archive of the same run: the primary
    /// repository's archive of the same policy and client closest in time.
    pub async fn copy_comparison(&self, caller: &Caller, id: ArchiveId) -> Result<CopyComparison> {
        authorize(caller, Action::View, Target::Global)?;
        let c = caller.clone();
        self.run(move |i| {
            let copy = i
                .store
                .archive(id)
                .map_err(|_| ServiceError::NotFound(format!("archive {id} is not in the catalog")))?;
            authorize(
                &c,
                Action::View,
                Target::Series {
                    client: copy.client,
                    policy: copy.policy,
                },
            )?;
            let policy = i.store.policy(copy.policy)?;
            if copy.repository == policy.repository {
                return Err(ServiceError::field(
                    "archive",
                    format!(
                        "archive {} is in the policy's primary repository, not in a copy",
                        copy.name
                    ),
                ));
            }
            let primary = i
                .store
                .archives(Some(policy.repository), Some(copy.client), Some(copy.policy))?
                .into_iter()
                .min_by_key(|a| (a.time - copy.time).num_seconds().abs())
                .ok_or_else(|| {
                    ServiceError::NotFound(format!(
                        "the primary repository has no archive of this client and policy to compare {} with",
                        copy.name
                    ))
                })?;
            let since = primary.time.min(copy.time);
            let comparison = i.catalog.compare_archives(primary.id, copy.id, Some(since))?;
            Ok(CopyComparison {
                copy,
                primary,
                comparison,
            })
        })
        .await
    }
}

/// Which series' recoverability to list (the counters always cover every series the caller
/// sees).
#[derive(Debug, Clone, Default)]
pub struct RecoveryFilter {
    /// `ok`, `degraded` or `unmet`.
    pub state: Option<String>,
    pub policy: Option<PolicyId>,
    pub client: Option<ClientId>,
}

impl Service {
    /// The recoverability of every series the caller's grants reach: copies, append-only and
    /// other-host counts, newest verified archive per repository, last drill and check of each,
    /// and the recovery-point objective.
    pub async fn recoverability(
        &self,
        caller: &Caller,
        filter: RecoveryFilter,
    ) -> Result<Recoverability> {
        authorize(caller, Action::View, Target::Global)?;
        let want = match filter.state.as_deref() {
            None | Some("") => None,
            Some(s) => Some(
                s.parse::<RecoveryState>()
                    .map_err(|e| ServiceError::field("state", e))?,
            ),
        };
        let scope = caller.scope();
        let mut r = self
            .run(move |i| {
                Ok(report::recoverability::recoverability(
                    &i.store,
                    Utc::now(),
                    scope.as_deref(),
                )?)
            })
            .await?;
        r.series.retain(|s| {
            want.is_none_or(|w| s.state == w)
                && filter.policy.is_none_or(|p| s.policy == p)
                && filter.client.is_none_or(|c| s.client == c)
        });
        Ok(r)
    }
}

impl Service {
    /// The stored comparison of a copy archive with its primary (none for a primary archive or
    /// a copy not compared yet).
    pub async fn copy_verification(
        &self,
        caller: &Caller,
        id: ArchiveId,
    ) -> Result<Option<store::CopyVerification>> {
        authorize(caller, Action::View, Target::Global)?;
        let c = caller.clone();
        self.run(move |i| {
            let a = i.store.archive(id).map_err(|_| {
                ServiceError::NotFound(format!("archive {id} is not in the catalog"))
            })?;
            authorize(
                &c,
                Action::View,
                Target::Series {
                    client: a.client,
                    policy: a.policy,
                },
            )?;
            Ok(i.store.copy_verification(id)?)
        })
        .await
    }
}
