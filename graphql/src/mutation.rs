//! GraphQL mutations: login and tokens, inventory CRUD, launching and cancelling jobs.
//! Inventory changes need a superuser; launching and cancelling need any logged-in user.

use crate::errors::{ApiError, ApiResult};
use crate::inputs::*;
use crate::login::CheckRefused;
use crate::objects::{self, LoginResult, NewApiToken};
use crate::{admin, services, user};
use async_graphql::{Context, Object};
use model::{
    ClientId, JobId, PolicyId, RepositoryId, ScheduleId, TokenId, UserId, ValidationErrors,
};
use store::{NewUser, TokenKind};

#[derive(Default)]
pub struct CoreMutation;

/// How long a login session lasts.
const SESSION_HOURS: i64 = 12;

#[Object]
impl CoreMutation {
    /// Exchanges an email and password for a session token (send it as `Authorization: Bearer`).
    async fn login(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
    ) -> ApiResult<LoginResult> {
        // Throttled per client address and (address, email); argon2 runs off the runtime.
        let u = match crate::login::context(ctx)?
            .check(email.trim(), &password)
            .await
        {
            Ok(u) => u,
            Err(CheckRefused::Wrong) => {
                return Err(ApiError::field("password", "wrong email or password").into())
            }
            Err(CheckRefused::Throttled(secs)) => return Err(ApiError::RateLimited(secs).into()),
            Err(CheckRefused::Internal(m)) => return Err(ApiError::Internal(m).into()),
        };
        let s = &services(ctx).store;
        let (_, token) = s.create_token(
            u.id,
            TokenKind::Session,
            "login",
            Some(chrono::Duration::hours(SESSION_HOURS)),
        )?;
        Ok(LoginResult {
            token,
            user: u.into(),
        })
    }

    /// Ends the current session (or revokes the API token used).
    async fn logout(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        let u = user(ctx)?;
        services(ctx).store.revoke_token(u, u.token)?;
        Ok(true)
    }

    /// Creates a long-lived API token for scripts; the value is shown once.
    async fn create_api_token(&self, ctx: &Context<'_>, name: String) -> ApiResult<NewApiToken> {
        let u = user(ctx)?;
        let mut e = ValidationErrors::new();
        model::validate::check_name(&mut e, "name", &name);
        e.into_result()?;
        let (id, token) =
            services(ctx)
                .store
                .create_token(u.id, TokenKind::Api, name.trim(), None)?;
        Ok(NewApiToken { id: id.0, token })
    }

    async fn revoke_api_token(&self, ctx: &Context<'_>, id: i64) -> ApiResult<bool> {
        let u = user(ctx)?;
        services(ctx).store.revoke_token(u, TokenId(id))?;
        Ok(true)
    }

    async fn create_user(&self, ctx: &Context<'_>, input: UserInput) -> ApiResult<objects::User> {
        admin(ctx)?;
        let nu = NewUser {
            email: input.email,
            password: input.password,
            first_name: input.first_name,
            last_name: input.last_name,
            is_superuser: input.is_superuser,
        };
        Ok(services(ctx).store.create_user(&nu)?.into())
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
        let u = user(ctx)?;
        let own = u.id.0 == user_id;
        if !own && !u.is_superuser {
            return Err(ApiError::Forbidden(
                "only a superuser may change another user's password".into(),
            )
            .into());
        }
        if own {
            let Some(current) = current_password.filter(|p| !p.is_empty()) else {
                return Err(ApiError::field(
                    "currentPassword",
                    "is required to change your own password",
                )
                .into());
            };
            match crate::login::context(ctx)?.check(&u.email, &current).await {
                Ok(found) if found.id == u.id => {}
                Ok(_) | Err(CheckRefused::Wrong) => {
                    return Err(
                        ApiError::field("currentPassword", "is not your current password").into(),
                    )
                }
                Err(CheckRefused::Throttled(secs)) => {
                    return Err(ApiError::RateLimited(secs).into())
                }
                Err(CheckRefused::Internal(m)) => return Err(ApiError::Internal(m).into()),
            }
        }
        // Your own session goes on; every other session and API token of the user ends.
        let keep = own.then_some(u.token);
        let store = services(ctx).store.clone();
        tokio::task::spawn_blocking(move || {
            store.set_password_keeping(UserId(user_id), &password, keep)
        })
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
        Ok(true)
    }

    /// Changes a user's email, names or superuser flag (superusers only).
    async fn update_user(
        &self,
        ctx: &Context<'_>,
        id: i64,
        input: UserPatch,
    ) -> ApiResult<objects::User> {
        let u = admin(ctx)?;
        if u.id.0 == id && input.is_superuser == Some(false) {
            return Err(ApiError::field(
                "isSuperuser",
                "you cannot remove your own superuser flag: ask another superuser",
            )
            .into());
        }
        Ok(services(ctx)
            .store
            .update_user(
                UserId(id),
                input.email.as_deref(),
                input.first_name.as_deref(),
                input.last_name.as_deref(),
                input.is_superuser,
            )?
            .into())
    }

    async fn delete_user(&self, ctx: &Context<'_>, id: i64) -> ApiResult<bool> {
        let u = admin(ctx)?;
        if u.id.0 == id {
            return Err(ApiError::Conflict("you cannot delete yourself".into()).into());
        }
        services(ctx).store.delete_user(UserId(id))?;
        Ok(true)
    }

    async fn create_client(
        &self,
        ctx: &Context<'_>,
        input: ClientInput,
    ) -> ApiResult<objects::Client> {
        let u = admin(ctx)?;
        Ok(services(ctx)
            .store
            .create_client(&input.into(), Some(u.id))?
            .into())
    }

    async fn update_client(
        &self,
        ctx: &Context<'_>,
        id: i64,
        input: ClientInput,
    ) -> ApiResult<objects::Client> {
        let u = admin(ctx)?;
        Ok(services(ctx)
            .store
            .update_client(ClientId(id), &input.into(), Some(u.id))?
            .into())
    }

    async fn delete_client(&self, ctx: &Context<'_>, id: i64) -> ApiResult<bool> {
        admin(ctx)?;
        services(ctx).store.delete_client(ClientId(id))?;
        Ok(true)
    }

    async fn create_repository(
        &self,
        ctx: &Context<'_>,
        input: RepositoryInput,
    ) -> ApiResult<objects::Repository> {
        let u = admin(ctx)?;
        Ok(services(ctx)
            .store
            .create_repository(&input.into(), Some(u.id))?
            .into())
    }

    async fn update_repository(
        &self,
        ctx: &Context<'_>,
        id: i64,
        input: RepositoryInput,
    ) -> ApiResult<objects::Repository> {
        let u = admin(ctx)?;
        Ok(services(ctx)
            .store
            .update_repository(RepositoryId(id), &input.into(), Some(u.id))?
            .into())
    }

    async fn delete_repository(&self, ctx: &Context<'_>, id: i64) -> ApiResult<bool> {
        admin(ctx)?;
        services(ctx).store.delete_repository(RepositoryId(id))?;
        Ok(true)
    }

    async fn create_schedule(
        &self,
        ctx: &Context<'_>,
        input: ScheduleInput,
    ) -> ApiResult<objects::Schedule> {
        let u = admin(ctx)?;
        Ok(services(ctx)
            .store
            .create_schedule(&input.into(), Some(u.id))?
            .into())
    }

    async fn update_schedule(
        &self,
        ctx: &Context<'_>,
        id: i64,
        input: ScheduleInput,
    ) -> ApiResult<objects::Schedule> {
        let u = admin(ctx)?;
        Ok(services(ctx)
            .store
            .update_schedule(ScheduleId(id), &input.into(), Some(u.id))?
            .into())
    }

    async fn delete_schedule(&self, ctx: &Context<'_>, id: i64) -> ApiResult<bool> {
        admin(ctx)?;
        services(ctx).store.delete_schedule(ScheduleId(id))?;
        Ok(true)
    }

    async fn create_policy(
        &self,
        ctx: &Context<'_>,
        input: PolicyInput,
    ) -> ApiResult<objects::Policy> {
        let u = admin(ctx)?;
        Ok(services(ctx)
            .store
            .create_policy(&input.into(), Some(u.id))?
            .into())
    }

    async fn update_policy(
        &self,
        ctx: &Context<'_>,
        id: i64,
        input: PolicyInput,
    ) -> ApiResult<objects::Policy> {
        let u = admin(ctx)?;
        Ok(services(ctx)
            .store
            .update_policy(PolicyId(id), &input.into(), Some(u.id))?
            .into())
    }

    async fn delete_policy(&self, ctx: &Context<'_>, id: i64) -> ApiResult<bool> {
        admin(ctx)?;
        services(ctx).store.delete_policy(PolicyId(id))?;
        Ok(true)
    }

    /// Runs a policy now: one backup job per enabled client (with preparation first where
    /// needed); catalog and prune jobs follow each successful backup.
    async fn launch_policy(&self, ctx: &Context<'_>, id: i64) -> ApiResult<Vec<objects::Job>> {
        let u = user(ctx)?;
        match services(ctx)
            .executor
            .launch_policy(PolicyId(id), Some(u.id), "manual")
        {
            Ok(jobs) => Ok(jobs.into_iter().map(objects::Job::from).collect()),
            Err(executor::LaunchError::Blocked(why)) => {
                Err(ApiError::Conflict(format!("policy cannot run: {}", why.join("; "))).into())
            }
            Err(executor::LaunchError::Store(e)) => Err(e.into()),
        }
    }

    /// Stops a queued or running job. False when it had already finished.
    async fn cancel_job(&self, ctx: &Context<'_>, id: i64) -> ApiResult<bool> {
        user(ctx)?;
        Ok(services(ctx).executor.cancel_job(JobId(id))?)
    }

    /// Runs a finished job again (a backup job makes a new archive).
    async fn relaunch_job(&self, ctx: &Context<'_>, id: i64) -> ApiResult<objects::Job> {
        let u = user(ctx)?;
        Ok(services(ctx)
            .executor
            .relaunch_job(JobId(id), Some(u.id))
            .map_err(requeue_error)?
            .into())
    }

    /// Prunes (then compacts) every client's archives of a policy by its keep_* values now.
    async fn prune_policy(&self, ctx: &Context<'_>, id: i64) -> ApiResult<Vec<objects::Job>> {
        let u = admin(ctx)?;
        let jobs = services(ctx)
            .executor
            .prune_policy(PolicyId(id), Some(u.id))
            .map_err(requeue_error)?;
        Ok(jobs.into_iter().map(objects::Job::from).collect())
    }

    /// Queues an integrity check (`borg check`, with `--verify-data` when asked).
    async fn check_repository(
        &self,
        ctx: &Context<'_>,
        id: i64,
        #[graphql(default)] verify_data: bool,
    ) -> ApiResult<objects::Job> {
        let u = admin(ctx)?;
        let opts = executor::CheckOptions {
            verify_data,
            scheduled: false,
        };
        Ok(services(ctx)
            .executor
            .check_repository(RepositoryId(id), opts, Some(u.id))
            .map_err(requeue_error)?
            .into())
    }

    /// Queues a client preparation job: records borg version, IP and OS, installs borg when
    /// missing (setting `install_borg`), and sets `ready`.
    async fn prepare_client(&self, ctx: &Context<'_>, id: i64) -> ApiResult<objects::Job> {
        let u = admin(ctx)?;
        Ok(services(ctx)
            .executor
            .prepare_client(ClientId(id), Some(u.id))
            .map_err(requeue_error)?
            .into())
    }

    /// Queues a repository preparation job: `borg init` when missing, else a check that the
    /// stored passphrase opens it; sets `ready`.
    async fn prepare_repository(&self, ctx: &Context<'_>, id: i64) -> ApiResult<objects::Job> {
        let u = admin(ctx)?;
        Ok(services(ctx)
            .executor
            .prepare_repository(RepositoryId(id), Some(u.id))
            .map_err(requeue_error)?
            .into())
    }
}

fn requeue_error(e: executor::RequeueError) -> ApiError {
    match e {
        executor::RequeueError::Store(s) => s.into(),
        other => ApiError::Conflict(other.to_string()),
    }
}
