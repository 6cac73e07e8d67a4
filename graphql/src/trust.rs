//! Repository trust in GraphQL: a repository's recorded identity and tamper mark (fields of
//! `Repository`), the prune pause of a series (`pruneBlockedBy` on `Archive` and
//! `SeriesStatus`), whether an anomaly was acknowledged, and the two administrator mutations
//! that resume destruction: `acknowledgeAnomaly` and `clearRepositoryTamper`. Every field and
//! mutation calls the services (`service/src/trust.rs`) with the caller.

use crate::catalog::CatalogAnomaly;
use crate::errors::ApiResult;
use crate::objects::{Archive, Repository};
use crate::stats::SeriesStatus;
use crate::{caller, svc};
use async_graphql::{ComplexObject, Context, Object};
use chrono::{DateTime, Utc};
use model::{ArchiveId, ClientId, PolicyId, RepositoryId, SeriesKey, TamperState};

async fn security(ctx: &Context<'_>, id: i64) -> ApiResult<model::RepositorySecurity> {
    let c = caller(ctx).await?;
    Ok(svc(ctx).repository_security(&c, RepositoryId(id)).await?)
}

/// The unacknowledged anomalies that pause prune and compact of a series.
async fn blocked_by(ctx: &Context<'_>, series: SeriesKey) -> ApiResult<Vec<Archive>> {
    let c = caller(ctx).await?;
    Ok(svc(ctx)
        .prune_blocked_by(&c, series)
        .await?
        .into_iter()
        .map(Archive::from)
        .collect())
}

fn series(repository: i64, policy: i64, client: i64) -> SeriesKey {
    SeriesKey {
        repository: RepositoryId(repository),
        policy: PolicyId(policy),
        client: ClientId(client),
    }
}

#[ComplexObject]
impl Repository {
    /// Whether archives vanished from this repository without a prune by this server: prune
    /// and compact stop until an administrator clears the mark (`clearRepositoryTamper`).
    async fn tampered(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        Ok(security(ctx, self.id).await?.tamper == TamperState::Tampered)
    }

    /// `""`, `tampered`, or `cleared` (cleared by an administrator; the next prune accepts the
    /// repository's archive list as it then is).
    async fn tamper_state(&self, ctx: &Context<'_>) -> ApiResult<String> {
        Ok(security(ctx, self.id).await?.tamper.as_str().into())
    }

    /// The archives found missing when the repository was marked tampered.
    async fn tampered_archives(&self, ctx: &Context<'_>) -> ApiResult<Vec<String>> {
        Ok(security(ctx, self.id).await?.tampered_archives)
    }

    async fn tampered_at(&self, ctx: &Context<'_>) -> ApiResult<Option<DateTime<Utc>>> {
        Ok(security(ctx, self.id).await?.tampered_at)
    }

    /// The repository's last transaction (borg's `index.N`) seen with every recorded archive
    /// present: the rollback point of the recovery steps (README, Security).
    async fn last_good_transaction(&self, ctx: &Context<'_>) -> ApiResult<Option<i64>> {
        Ok(security(ctx, self.id).await?.last_good_transaction)
    }

    /// borg's repository id recorded at preparation, verified before every job.
    async fn borg_id(&self, ctx: &Context<'_>) -> ApiResult<String> {
        Ok(security(ctx, self.id).await?.identity.borg_id)
    }

    /// borg's encryption mode recorded at preparation (`repokey`, `none`, …).
    async fn encryption_mode(&self, ctx: &Context<'_>) -> ApiResult<String> {
        Ok(security(ctx, self.id).await?.identity.encryption_mode)
    }
}

#[ComplexObject]
impl Archive {
    /// Archives of this archive's series flagged as anomalies and not acknowledged: while any
    /// is listed, prune and compact of the series wait.
    async fn prune_blocked_by(&self, ctx: &Context<'_>) -> ApiResult<Vec<Archive>> {
        blocked_by(
            ctx,
            series(self.repository_id, self.policy_id, self.client_id),
        )
        .await
    }
}

#[ComplexObject]
impl SeriesStatus {
    /// Unacknowledged anomalies pausing prune and compact of this series (empty: not paused).
    async fn prune_blocked_by(&self, ctx: &Context<'_>) -> ApiResult<Vec<Archive>> {
        blocked_by(
            ctx,
            series(self.repository_id, self.policy_id, self.client_id),
        )
        .await
    }

    /// Whether the series' repository is marked tampered (prune and compact stopped).
    async fn repository_tampered(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        Ok(security(ctx, self.repository_id).await?.tamper == TamperState::Tampered)
    }
}

#[ComplexObject]
impl CatalogAnomaly {
    /// When an administrator acknowledged it; until then prune and compact of its series wait.
    async fn acknowledged_at(&self, ctx: &Context<'_>) -> ApiResult<Option<DateTime<Utc>>> {
        let c = caller(ctx).await?;
        Ok(svc(ctx)
            .archive(&c, ArchiveId(self.archive.id))
            .await
            .ok()
            .and_then(|a| a.anomaly_acknowledged_at))
    }
}

#[derive(Default)]
pub struct TrustMutation;

#[Object]
impl TrustMutation {
    /// Acknowledges an archive's anomaly (superuser): prune and compact of its series resume
    /// once no unacknowledged anomaly is left.
    async fn acknowledge_anomaly(&self, ctx: &Context<'_>, archive: i64) -> ApiResult<Archive> {
        let c = caller(ctx).await?;
        Ok(svc(ctx)
            .acknowledge_anomaly(&c, ArchiveId(archive))
            .await?
            .into())
    }

    /// Clears a repository's tamper mark after recovery (superuser): the next prune accepts
    /// the repository's archive list as it then is and prunes and compacts again.
    async fn clear_repository_tamper(&self, ctx: &Context<'_>, id: i64) -> ApiResult<Repository> {
        let c = caller(ctx).await?;
        let s = svc(ctx);
        s.clear_repository_tamper(&c, RepositoryId(id)).await?;
        Ok(s.repository(&c, RepositoryId(id)).await?.into())
    }
}
