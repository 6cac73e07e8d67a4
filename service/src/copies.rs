//! Copies (3-2-1): a copy archive compared with the primary archive of the same run.

use crate::{authorize, Action, Caller, Result, Service, ServiceError, Target};
use indexer::ArchiveComparison;
use model::{Archive, ArchiveId};

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
