//! Restores and downloads (file contents: a restore grant on the archive's series; restoring
//! onto a client: a restore grant on it too; onto the server's own host: superuser only),
//! archives, and restore drills.

use crate::{authorize, Action, Caller, Inner, Result, Service, ServiceError, Target};
use executor::restore::{Download, DownloadTicket, RestoreParams};
use executor::RestoreRequest;
use model::*;
use store::{ArchiveListOptions, Page, RestoreTest, RestoreTestListOptions, Verdict};

fn series(a: &Archive) -> Target<'static> {
    Target::Series {
        client: a.client,
        policy: a.policy,
    }
}

/// The archive a caller may read contents of. A missing archive and one outside the grants
/// read alike: a validation error on `archive`.
fn readable_archive(i: &Inner, caller: &Caller, id: ArchiveId) -> Result<Option<Archive>> {
    let a = match i.store.archive(id) {
        Ok(a) => a,
        Err(store::StoreError::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    if let Err(ServiceError::NotFound(_)) = authorize(caller, Action::View, series(&a)) {
        return Err(ServiceError::field(
            "archive",
            format!("archive {id} does not exist"),
        ));
    }
    authorize(caller, Action::ReadContents, series(&a))?;
    Ok(Some(a))
}

/// Allows writing the archive's files onto client `dest`.
fn authorize_target(i: &Inner, caller: &Caller, dest: ClientId) -> Result<()> {
    let c = match i.store.client(dest) {
        Ok(c) => c,
        // Left to the request's validation, which names the field.
        Err(store::StoreError::NotFound { .. }) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let host = Target::Host {
        client: c.id,
        hostname: &c.hostname,
    };
    if let Err(ServiceError::NotFound(_)) = authorize(caller, Action::View, host) {
        return Err(ServiceError::field("client", "this client does not exist"));
    }
    authorize(caller, Action::RestoreOnto, host)
}

/// Allows cancelling or relaunching a restore job: its archive (from its parameters) and its
/// target client.
pub(crate) fn authorize_restore_job(i: &Inner, caller: &Caller, j: &Job) -> Result<()> {
    if caller.is_superuser() {
        return Ok(());
    }
    let params: RestoreParams = serde_json::from_str(&j.extra_vars).map_err(|e| {
        ServiceError::Conflict(format!("job {} has no restore parameters: {e}", j.id))
    })?;
    let a = readable_archive(i, caller, ArchiveId(params.archive))?
        .ok_or_else(|| ServiceError::Conflict(format!("the archive of job {} is gone", j.id)))?;
    authorize(caller, Action::ReadContents, series(&a))?;
    match j.client {
        Some(c) => authorize_target(i, caller, c),
        None => authorize(caller, Action::Administer, Target::Global),
    }
}

impl Service {
    /// Queues a restore job (`borg extract` on the target client).
    pub async fn restore(&self, caller: &Caller, req: RestoreRequest) -> Result<Job> {
        authorize(caller, Action::ReadContents, Target::Global)?;
        authorize(caller, Action::RestoreOnto, Target::Global)?;
        let c = caller.clone();
        self.run(move |i| {
            if let Some(a) = readable_archive(i, &c, req.archive)? {
                authorize_target(i, &c, req.client.unwrap_or(a.client))?;
            }
            let job = i.executor.launch_restore(req, c.user_id())?;
            tracing::info!(job = %job.id, by = ?c.user_id(), "restore requested");
            Ok(job)
        })
        .await
    }

    /// A single-use link to download paths of an archive through the server.
    pub async fn restore_download(
        &self,
        caller: &Caller,
        archive: ArchiveId,
        paths: Vec<String>,
    ) -> Result<DownloadTicket> {
        authorize(caller, Action::ReadContents, Target::Global)?;
        let user = caller
            .user_id()
            .ok_or_else(|| ServiceError::Forbidden("downloads are for users".into()))?;
        let c = caller.clone();
        self.run(move |i| readable_archive(i, &c, archive)).await?;
        Ok(self
            .inner
            .executor
            .create_download(user, archive, &paths)
            .await?)
    }

    /// Opens a download by its ticket (the credential); a token sent with it must be the
    /// ticket owner's.
    pub async fn open_download(&self, ticket: &str, caller: &Caller) -> Result<Download> {
        if let Caller::Anonymous = caller {
            return Ok(self.inner.executor.open_download(ticket, None).await?);
        }
        let user = caller
            .user_id()
            .ok_or_else(|| ServiceError::Forbidden("downloads are for users".into()))?;
        Ok(self
            .inner
            .executor
            .open_download(ticket, Some(user))
            .await?)
    }

    /// One archive, if the caller's grants reach its series.
    pub async fn archive(&self, caller: &Caller, id: ArchiveId) -> Result<Archive> {
        authorize(caller, Action::View, Target::Global)?;
        let c = caller.clone();
        self.run(move |i| {
            let a = i.store.archive(id)?;
            authorize(&c, Action::View, series(&a))?;
            Ok(a)
        })
        .await
    }

    /// The newest archive named `name` that the caller reaches.
    pub async fn archive_named(&self, caller: &Caller, name: &str) -> Result<Option<Archive>> {
        authorize(caller, Action::View, Target::Global)?;
        let (c, name) = (caller.clone(), name.trim().to_string());
        self.run(move |i| {
            Ok(i.store
                .archives(None, None, None)?
                .into_iter()
                .find(|a| a.name == name && authorize(&c, Action::View, series(a)).is_ok()))
        })
        .await
    }

    /// A page of the archives the caller reaches.
    pub async fn list_archives(
        &self,
        caller: &Caller,
        mut o: ArchiveListOptions,
    ) -> Result<Page<Archive>> {
        authorize(caller, Action::View, Target::Global)?;
        o.scope = caller.scope();
        self.run(move |i| Ok(i.store.list_archives(&o)?)).await
    }

    /// A page of the restore drills the caller reaches.
    pub async fn list_restore_tests(
        &self,
        caller: &Caller,
        mut o: RestoreTestListOptions,
    ) -> Result<Page<RestoreTest>> {
        authorize(caller, Action::View, Target::Global)?;
        o.scope = caller.scope();
        self.run(move |i| Ok(i.store.list_restore_tests(&o)?)).await
    }

    /// The latest passed drill of a policy and/or client, among the series the caller reaches.
    pub async fn last_verified_restore(
        &self,
        caller: &Caller,
        policy: Option<PolicyId>,
        client: Option<ClientId>,
    ) -> Result<Option<RestoreTest>> {
        authorize(caller, Action::View, Target::Global)?;
        let o = RestoreTestListOptions {
            policy,
            client,
            verdict: Some(Verdict::Passed),
            scope: caller.scope(),
            page: store::PageRequest {
                first: 1,
                after: None,
            },
            ..Default::default()
        };
        self.run(move |i| Ok(i.store.list_restore_tests(&o)?.items.into_iter().next()))
            .await
    }

    /// Queues a restore drill of a policy for one client, or for each of its enabled clients,
    /// in `repository` (the primary or a copy) or in the one drilled longest ago.
    pub async fn launch_restore_test(
        &self,
        caller: &Caller,
        policy: PolicyId,
        client: Option<ClientId>,
        repository: Option<RepositoryId>,
    ) -> Result<Vec<Job>> {
        let target = match client {
            Some(client) => Target::Series { client, policy },
            None => Target::Policy(policy),
        };
        authorize(caller, Action::Operate, target)?;
        let by = caller.user_id();
        self.run(move |i| {
            Ok(i.executor
                .launch_restore_test(policy, client, repository, by, "manual")?)
        })
        .await
    }
}
