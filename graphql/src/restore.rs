//! Restore mutations: `restore` queues a restore job and `restoreDownload` hands back a
//! single-use link that streams files from an archive. Both need a restore grant on the
//! archive's series (and on the target client); restoring onto the server is superuser only.

use crate::errors::ApiResult;
use crate::objects;
use crate::{caller, svc};
use async_graphql::{Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use model::{ArchiveId, ClientId};
use service::types::RestoreRequest;

#[derive(Default)]
pub struct RestoreMutation;

/// What to restore from an archive, and where.
#[derive(InputObject)]
pub struct RestoreInput {
    /// The archive's id.
    pub archive: i64,
    /// Absolute paths of files or directories inside the archive.
    pub paths: Vec<String>,
    /// The client to restore to; the archive's own client when omitted.
    pub client: Option<i64>,
    /// Where to restore on that client; `/` (the default) restores in place.
    pub target_directory: Option<String>,
    /// Replace files that already exist (otherwise the job fails naming them).
    #[graphql(default = false)]
    pub overwrite: bool,
    /// List what would be restored without writing anything.
    #[graphql(default = false)]
    pub dry_run: bool,
}

/// A single-use link to download files from an archive.
#[derive(SimpleObject)]
pub struct DownloadTicket {
    /// `/download/<ticket>`: a GET streams the file (or a tar of several paths or a directory).
    pub url: String,
    pub expires_at: DateTime<Utc>,
    pub filename: String,
}

#[Object]
impl RestoreMutation {
    /// Queues a restore job (borg extract on the target client); watch it like any job.
    async fn restore(&self, ctx: &Context<'_>, input: RestoreInput) -> ApiResult<objects::Job> {
        let c = caller(ctx).await?;
        let req = RestoreRequest {
            archive: ArchiveId(input.archive),
            paths: input.paths,
            client: input.client.map(ClientId),
            target_directory: input.target_directory,
            overwrite: input.overwrite,
            dry_run: input.dry_run,
        };
        Ok(svc(ctx).restore(&c, req).await?.into())
    }

    /// A link for downloading paths of an archive through the server, valid ten minutes and
    /// usable once: one regular file comes as its bytes, anything else as a tar.
    async fn restore_download(
        &self,
        ctx: &Context<'_>,
        archive: i64,
        paths: Vec<String>,
    ) -> ApiResult<DownloadTicket> {
        let c = caller(ctx).await?;
        let t = svc(ctx)
            .restore_download(&c, ArchiveId(archive), paths)
            .await?;
        Ok(DownloadTicket {
            url: format!("/download/{}", t.ticket),
            expires_at: t.expires_at,
            filename: t.filename,
        })
    }
}
