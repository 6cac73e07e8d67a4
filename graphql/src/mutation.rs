//! GraphQL mutations: login and tokens, inventory CRUD, launching and cancelling jobs. The
//! services decide who may: inventory changes need a superuser, launching an operator whose
//! grants reach the target.

use crate::errors::ApiResult;
use crate::inputs::*;
use crate::objects::{self, LoginResult, NewApiToken};
use crate::{caller, svc};
use async_graphql::{Context, Object};
use model::{ClientId, JobId, PolicyId, RepositoryId, ScheduleId, TokenId, UserId};

#[derive(Default)]
pub struct CoreMutation;

#[Object]
impl CoreMutation {
    /// Exchanges an email and password for a session token (send it as `Authorization: Bearer`).
    /// Throttled per client address and (address, email).
    async fn login(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
    ) -> ApiResult<LoginResult> {
        let addr = crate::login::client_addr(ctx);
        let (token, u) = svc(ctx).login(addr, &email, &password).await?;
        Ok(LoginResult {
            token,
            user: u.into(),
        })
    }

    /// Ends the current session (or revokes the API token used).
    async fn logout(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        let c = caller(ctx).await?;
        svc(ctx).logout(&c).await?;
        Ok(true)
    }

    /// Creates a long-lived API token for scripts; the value is shown once.
    async fn create_api_token(&self, ctx: &Context<'_>, name: String) -> ApiResult<NewApiToken> {
        let c = caller(ctx).await?;
        let (id, token) = svc(ctx).create_api_token(&c, &name).await?;
        Ok(NewApiToken { id: id.0, token })
    }

    async fn revoke_api_token(&self, ctx: &Context<'_>, id: i64) -> ApiResult<bool> {
        let c = caller(ctx).await?;
        svc(ctx).revoke_api_token(&c, TokenId(id)).await?;
        Ok(true)
    }

    /// Changes a password: your own (give `currentPassword`; your other sessions and your API
    /// tokens are revoked), or anyone's as a superuser (all their sessions and tokens are).
    async fn set_password(
        &self,
        ctx: &Context<'_>,
        user_id: i64,
        password: String,
        current_password: Option<String>,
    ) -> ApiResult<bool> {
        let c = caller(ctx).await?;
        let change = service::PasswordChange {
            user: UserId(user_id),
            new: password,
            current: current_password.as_deref(),
            current_field: "currentPassword",
            addr: crate::login::client_addr(ctx),
        };
        svc(ctx).set_password(&c, change).await?;
        Ok(true)
    }

    async fn create_client(
        &self,
        ctx: &Context<'_>,
        input: ClientInput,
    ) -> ApiResult<objects::Client> {
        let c = caller(ctx).await?;
        Ok(svc(ctx).create_client(&c, input.into()).await?.into())
    }

    async fn update_client(
        &self,
        ctx: &Context<'_>,
        id: i64,
        input: ClientInput,
    ) -> ApiResult<objects::Client> {
        let c = caller(ctx).await?;
        Ok(svc(ctx)
            .update_client(&c, ClientId(id), input.into())
            .await?
            .into())
    }

    async fn delete_client(&self, ctx: &Context<'_>, id: i64) -> ApiResult<bool> {
        let c = caller(ctx).await?;
        svc(ctx).delete_client(&c, ClientId(id)).await?;
        Ok(true)
    }

    async fn create_repository(
        &self,
        ctx: &Context<'_>,
        input: RepositoryInput,
    ) -> ApiResult<objects::Repository> {
        let c = caller(ctx).await?;
        Ok(svc(ctx).create_repository(&c, input.into()).await?.into())
    }

    async fn update_repository(
        &self,
        ctx: &Context<'_>,
        id: i64,
        input: RepositoryInput,
    ) -> ApiResult<objects::Repository> {
        let c = caller(ctx).await?;
        Ok(svc(ctx)
            .update_repository(&c, RepositoryId(id), input.into())
            .await?
            .into())
    }

    async fn delete_repository(&self, ctx: &Context<'_>, id: i64) -> ApiResult<bool> {
        let c = caller(ctx).await?;
        svc(ctx).delete_repository(&c, RepositoryId(id)).await?;
        Ok(true)
    }

    async fn create_schedule(
        &self,
        ctx: &Context<'_>,
        input: ScheduleInput,
    ) -> ApiResult<objects::Schedule> {
        let c = caller(ctx).await?;
        Ok(svc(ctx).create_schedule(&c, input.into()).await?.into())
    }

    async fn update_schedule(
        &self,
        ctx: &Context<'_>,
        id: i64,
        input: ScheduleInput,
    ) -> ApiResult<objects::Schedule> {
        let c = caller(ctx).await?;
        Ok(svc(ctx)
            .update_schedule(&c, ScheduleId(id), input.into())
            .await?
            .into())
    }

    async fn delete_schedule(&self, ctx: &Context<'_>, id: i64) -> ApiResult<bool> {
        let c = caller(ctx).await?;
        svc(ctx).delete_schedule(&c, ScheduleId(id)).await?;
        Ok(true)
    }

    async fn create_policy(
        &self,
        ctx: &Context<'_>,
        input: PolicyInput,
    ) -> ApiResult<objects::Policy> {
        let c = caller(ctx).await?;
        Ok(svc(ctx).create_policy(&c, input.into()).await?.into())
    }

    async fn update_policy(
        &self,
        ctx: &Context<'_>,
        id: i64,
        input: PolicyInput,
    ) -> ApiResult<objects::Policy> {
        let c = caller(ctx).await?;
        Ok(svc(ctx)
            .update_policy(&c, PolicyId(id), input.into())
            .await?
            .into())
    }

    async fn delete_policy(&self, ctx: &Context<'_>, id: i64) -> ApiResult<bool> {
        let c = caller(ctx).await?;
        svc(ctx).delete_policy(&c, PolicyId(id)).await?;
        Ok(true)
    }

    /// Runs a policy now: one backup job per enabled client (with preparation first where
    /// needed); catalog and prune jobs follow each successful backup. Operators need grants
    /// covering every client of the policy.
    async fn launch_policy(&self, ctx: &Context<'_>, id: i64) -> ApiResult<Vec<objects::Job>> {
        let c = caller(ctx).await?;
        let jobs = svc(ctx).launch_policy(&c, PolicyId(id)).await?;
        Ok(jobs.into_iter().map(objects::Job::from).collect())
    }

    /// Stops a queued or running job. False when it had already finished. Needs what
    /// launching the job's type needs.
    async fn cancel_job(&self, ctx: &Context<'_>, id: i64) -> ApiResult<bool> {
        let c = caller(ctx).await?;
        Ok(svc(ctx).cancel_job(&c, JobId(id)).await?)
    }

    /// Runs a finished job again (a backup job makes a new archive). Needs what launching
    /// the job's type needs: preparation and prune jobs are for superusers.
    async fn relaunch_job(&self, ctx: &Context<'_>, id: i64) -> ApiResult<objects::Job> {
        let c = caller(ctx).await?;
        Ok(svc(ctx).relaunch_job(&c, JobId(id)).await?.into())
    }

    /// Prunes (then compacts) every client's archives of a policy by its keep_* values now
    /// (superuser).
    async fn prune_policy(&self, ctx: &Context<'_>, id: i64) -> ApiResult<Vec<objects::Job>> {
        let c = caller(ctx).await?;
        let jobs = svc(ctx).prune_policy(&c, PolicyId(id)).await?;
        Ok(jobs.into_iter().map(objects::Job::from).collect())
    }

    /// Queues an integrity check (`borg check`, with `--verify-data` when asked).
    async fn check_repository(
        &self,
        ctx: &Context<'_>,
        id: i64,
        #[graphql(default)] verify_data: bool,
    ) -> ApiResult<objects::Job> {
        let c = caller(ctx).await?;
        Ok(svc(ctx)
            .check_repository(&c, RepositoryId(id), verify_data)
            .await?
            .into())
    }

    /// Queues a client preparation job: records borg version, IP and OS, installs borg when
    /// missing (setting `install_borg`), and sets `ready` (superuser).
    async fn prepare_client(&self, ctx: &Context<'_>, id: i64) -> ApiResult<objects::Job> {
        let c = caller(ctx).await?;
        Ok(svc(ctx).prepare_client(&c, ClientId(id)).await?.into())
    }

    /// Queues a repository preparation job: `borg init` when missing, else a check that the
    /// stored passphrase opens it; sets `ready` (superuser).
    async fn prepare_repository(&self, ctx: &Context<'_>, id: i64) -> ApiResult<objects::Job> {
        let c = caller(ctx).await?;
        Ok(svc(ctx)
            .prepare_repository(&c, RepositoryId(id))
            .await?
            .into())
    }
}
