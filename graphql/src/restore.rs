//! Restore mutations: `restore` queues a restore job (any logged-in user may restore), and
//! `restoreDownload` hands back a single-use link that streams files from an archive.

use crate::errors::{ApiError, ApiResult, GqlError};
use crate::objects;
use crate::{services, user};
use async_graphql::{Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use executor::{RestoreError, RestoreRequest};
use model::{ArchiveId, ClientId};

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

fn restore_error(e: RestoreError) -> GqlError {
    match e {
        RestoreError::Validation(v) => ApiError::Validation(v).into(),
        RestoreError::Store(s) => s.into(),
        RestoreError::Repository(m) => {
            ApiError::Conflict(format!("cannot read the archive: {m}")).into()
        }
    }
}

#[Object]
impl RestoreMutation {
    /// Queues a restore job (borg extract on the target client); watch it like any job.
    async fn restore(&self, ctx: &Context<'_>, input: RestoreInput) -> ApiResult<objects::Job> {
        let u = user(ctx)?;
        let req = RestoreRequest {
            archive: ArchiveId(input.archive),
            paths: input.paths,
            client: input.client.map(ClientId),
            target_directory: input.target_directory,
            overwrite: input.overwrite,
            dry_run: input.dry_run,
        };
        let job = services(ctx)
            .executor
            .launch_restore(req, Some(u.id))
            .map_err(restore_error)?;
        Ok(job.into())
    }

    /// A link for downloading paths of an archive through the server, valid ten minutes and
    /// usable once: one regular file comes as its bytes, anything else as a tar.
    async fn restore_download(
        &self,
        ctx: &Context<'_>,
        archive: i64,
        paths: Vec<String>,
    ) -> ApiResult<DownloadTicket> {
        let u = user(ctx)?;
        let t = services(ctx)
            .executor
            .create_download(u.id, ArchiveId(archive), &paths)
            .await
            .map_err(restore_error)?;
        Ok(DownloadTicket {
            url: format!("/download/{}", t.ticket),
            expires_at: t.expires_at,
            filename: t.filename,
        })
    }
}
