//! Every password check of the server goes through [`Logins`]: the login throttle first
//! (`throttle.rs`), then argon2 off the async runtime on a few dedicated threads
//! ([`argon2_threads`]) with at most [`MAX_WAITING`] checks queued, so that a burst of logins
//! cannot exhaust memory: argon2 takes about 19 MiB per check (the binary makes the allocator
//! return such blocks when freed, see `src/datadir.rs`). The service calls of this module —
//! log in, HTTP Basic, password changes, API tokens, log out — are the only ones that check a
//! password or hand out a token; every transport uses them.

use crate::caller::resolve;
use crate::throttle::LoginLimiter;
use crate::{authorize, Action, Caller, Result, Service, ServiceError, Target};
use model::{TokenId, User, UserId};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use store::Store;
use store::{AuthUser, TokenKind};

/// Password checks queued at once; beyond, attempts are refused (retry in 1 s).
pub const MAX_WAITING: usize = 64;

/// How many argon2 checks run at once: the machine's cores, at most 4.
fn argon2_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 4)
}

type Job = Box<dyn FnOnce() + Send>;

/// The threads that run password checks, fed through a bounded queue; they end with it.
struct Workers {
    queue: SyncSender<Job>,
}

impl Workers {
    fn start(n: usize) -> Workers {
        let (queue, jobs) = sync_channel::<Job>(MAX_WAITING);
        let jobs = Arc::new(Mutex::new(jobs));
        for i in 0..n {
            let jobs = jobs.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || worker(&jobs));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password-check thread");
            }
        }
        Workers { queue }
    }

    /// Runs `f` on a worker; `Throttled(1)` when the queue is full.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, CheckRefused> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        match self.queue.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(CheckRefused::Throttled(1)),
            Err(TrySendError::Disconnected(_)) => {
                return Err(CheckRefused::Internal("no password-check thread".into()))
            }
        }
        rx.await
            .map_err(|_| CheckRefused::Internal("the password check stopped".into()))
    }
}

fn worker(jobs: &Mutex<Receiver<Job>>) {
    loop {
        let job = jobs.lock().unwrap_or_else(|p| p.into_inner()).recv();
        match job {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

/// Why a password check returned no user.
#[derive(Debug)]
pub(crate) enum CheckRefused {
    Wrong,
    /// Too many attempts from this address (or for this email from it): retry after the seconds.
    Throttled(u64),
    Internal(String),
}

impl From<CheckRefused> for ServiceError {
    fn from(e: CheckRefused) -> Self {
        match e {
            CheckRefused::Wrong => ServiceError::Unauthenticated,
            CheckRefused::Throttled(secs) => ServiceError::RateLimited(secs),
            CheckRefused::Internal(m) => ServiceError::Internal(m),
        }
    }
}

/// Throttled, bounded password checks; one per service.
pub(crate) struct Logins {
    store: Store,
    limiter: LoginLimiter,
    workers: Workers,
}

impl Logins {
    pub(crate) fn new(store: Store) -> Logins {
        Logins {
            limiter: LoginLimiter::new(store.clone()),
            store,
            workers: Workers::start(argon2_threads()),
        }
    }

    /// Checks `email` and `password` for a caller at `addr`.
    pub(crate) async fn verify(
        &self,
        addr: &str,
        email: &str,
        password: &str,
    ) -> Result<model::User, CheckRefused> {
        let limiter = self.limiter.clone();
        let (a, e) = (addr.to_string(), email.to_string());
        let attempt = tokio::task::spawn_blocking(move || limiter.begin(&a, &e))
            .await
            .map_err(|e| CheckRefused::Internal(format!("the login throttle stopped: {e}")))?
            .map_err(|e| {
                // Without its counts the throttle cannot tell: refuse rather than check.
                tracing::error!(error = %e, "login throttle failed");
                CheckRefused::Internal("the login throttle is unavailable".into())
            })?
            .map_err(CheckRefused::Throttled)?;
        // The attempt stays counted as a failure unless the password is right.
        let store = self.store.clone();
        let (email, password) = (email.trim().to_string(), password.to_string());
        let found = self
            .workers
            .run(move || store.verify_login(&email, &password))
            .await?
            .map_err(|e| {
                tracing::error!(error = %e, "password check failed");
                CheckRefused::Internal("the password could not be checked".into())
            })?;
        match found {
            Some(user) => {
                let limiter = self.limiter.clone();
                let cleared = tokio::task::spawn_blocking(move || limiter.succeeded(&attempt))
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|r| r.map_err(|e| e.to_string()));
                if let Err(e) = cleared {
                    // The password was right; the attempt stays counted as a failure.
                    tracing::warn!(error = %e, "cannot clear a successful login's failures");
                }
                Ok(user)
            }
            None => Err(CheckRefused::Wrong),
        }
    }

    /// Counts attempts refused before any password was checked.
    pub(crate) async fn refuse(&self, addr: &str, emails: &[String]) {
        tracing::warn!(
            client = addr,
            logins = emails.len(),
            "refused a request holding several logins"
        );
        let limiter = self.limiter.clone();
        let (addr, emails) = (addr.to_string(), emails.to_vec());
        let counted = tokio::task::spawn_blocking(move || limiter.refused(&addr, &emails))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()));
        if let Err(e) = counted {
            tracing::error!(error = %e, "cannot count refused logins");
        }
    }
}

/// How long a session token from `login` lives.
pub const SESSION_HOURS: i64 = 12;

impl Service {
    /// Exchanges an email and password, presented from `addr`, for a session token. A wrong
    /// pair is refused on `password`; too many attempts with `RateLimited`.
    pub async fn login(&self, addr: &str, email: &str, password: &str) -> Result<(String, User)> {
        let u = match self.inner.logins.verify(addr, email.trim(), password).await {
            Ok(u) => u,
            Err(CheckRefused::Wrong) => {
                return Err(ServiceError::field("password", "wrong email or password"))
            }
            Err(e) => return Err(e.into()),
        };
        let id = u.id;
        let token = self
            .run(move |i| {
                let (_, token) = i.store.create_token(
                    id,
                    TokenKind::Session,
                    "login",
                    Some(chrono::Duration::hours(SESSION_HOURS)),
                )?;
                Ok(token)
            })
            .await?;
        tracing::info!(user = %u.id, client = addr, "logged in");
        Ok((token, u))
    }

    /// The caller behind an email and password (HTTP Basic) presented from `addr`; `None`
    /// when either is wrong, `RateLimited` when too many attempts failed.
    pub async fn identify_password(
        &self,
        addr: &str,
        email: &str,
        password: &str,
    ) -> Result<Option<(Caller, AuthUser)>> {
        let u = match self.inner.logins.verify(addr, email.trim(), password).await {
            Ok(u) => u,
            Err(CheckRefused::Wrong) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let auth = AuthUser {
            id: u.id,
            email: u.email,
            is_superuser: u.is_superuser,
            // Basic authentication has no token: nothing can be revoked with it.
            token: TokenId(0),
        };
        let a = auth.clone();
        let caller = self.run(move |i| resolve(i, a)).await?;
        Ok(Some((caller, auth)))
    }

    /// Counts login attempts refused before any password was checked (a request holding
    /// several logins) against `addr` and each email.
    pub async fn refuse_logins(&self, addr: &str, emails: &[String]) {
        self.inner.logins.refuse(addr, emails).await;
    }

    /// Changes a password: your own (the current one is checked through the login throttle,
    /// from `addr`; your other sessions and your API tokens end), or anyone's as a superuser
    /// (all their sessions and tokens end). `field` names the current-password field of the
    /// transport (`currentPassword`, `current_password`).
    pub async fn set_password(&self, caller: &Caller, change: PasswordChange<'_>) -> Result<()> {
        let me = match caller {
            Caller::User(u) => u.clone(),
            _ => return Err(ServiceError::Unauthenticated),
        };
        let own = me.id == change.user;
        if own {
            authorize(caller, Action::Authenticated, Target::Global)?;
            let current = change.current.filter(|c| !c.is_empty()).ok_or_else(|| {
                ServiceError::field(
                    change.current_field,
                    "is required to change your own password",
                )
            })?;
            match self
                .inner
                .logins
                .verify(change.addr, &me.email, current)
                .await
            {
                Ok(u) if u.id == me.id => {}
                Ok(_) | Err(CheckRefused::Wrong) => {
                    return Err(ServiceError::field(
                        change.current_field,
                        "is not your current password",
                    ))
                }
                Err(e) => return Err(e.into()),
            }
        } else {
            authorize(caller, Action::Administer, Target::Global)?;
        }
        // Basic authentication has no token (0): then every token of the user ends.
        let keep = (own && me.token.0 != 0).then_some(me.token);
        let (target, new) = (change.user, change.new);
        self.run(move |i| Ok(i.store.set_password_keeping(target, &new, keep)?))
            .await?;
        tracing::info!(user = %target, by = %me.id, "password changed");
        Ok(())
    }

    /// The user behind a session token as stored now (`None`: revoked, expired, or the user
    /// deactivated), without recording a use: for re-checking a long-lived websocket.
    pub async fn check_session(&self, token: String) -> Result<Option<AuthUser>> {
        self.run(move |i| Ok(i.store.check_token(&token)?)).await
    }

    /// Ends the caller's session (or revokes the API token used).
    pub async fn logout(&self, caller: &Caller) -> Result<()> {
        authorize(caller, Action::Authenticated, Target::Global)?;
        let Caller::User(u) = caller else {
            return Err(ServiceError::Unauthenticated);
        };
        let a = auth_user(u);
        self.run(move |i| Ok(i.store.revoke_token(&a, a.token)?))
            .await
    }
}

impl Service {
    /// Creates a long-lived API token of the caller for scripts; its value is shown once.
    pub async fn create_api_token(&self, caller: &Caller, name: &str) -> Result<(TokenId, String)> {
        authorize(caller, Action::Authenticated, Target::Global)?;
        let id = caller.user_id().ok_or(ServiceError::Unauthenticated)?;
        let mut e = model::ValidationErrors::new();
        model::validate::check_name(&mut e, "name", name);
        e.into_result()?;
        let name = name.trim().to_string();
        self.run(move |i| Ok(i.store.create_token(id, TokenKind::Api, &name, None)?))
            .await
    }

    /// Revokes one of the caller's tokens (a superuser: anyone's).
    pub async fn revoke_api_token(&self, caller: &Caller, token: TokenId) -> Result<()> {
        authorize(caller, Action::Authenticated, Target::Global)?;
        let Caller::User(u) = caller else {
            return Err(ServiceError::Unauthenticated);
        };
        let a = auth_user(u);
        self.run(move |i| Ok(i.store.revoke_token(&a, token)?))
            .await
    }

    /// A page of the caller's API tokens (`o.user` is set to the caller).
    pub async fn list_api_tokens(
        &self,
        caller: &Caller,
        mut o: store::ApiTokenListOptions,
    ) -> Result<store::Page<store::TokenInfo>> {
        authorize(caller, Action::Authenticated, Target::Global)?;
        o.user = caller.user_id().ok_or(ServiceError::Unauthenticated)?;
        self.run(move |i| Ok(i.store.list_api_tokens(&o)?)).await
    }
}

fn auth_user(u: &crate::UserCaller) -> AuthUser {
    AuthUser {
        id: u.id,
        email: u.email.clone(),
        is_superuser: u.role == model::Role::Superuser,
        token: u.token,
    }
}

/// A password change: whose, the new password, and for your own the current one.
pub struct PasswordChange<'a> {
    pub user: UserId,
    pub new: String,
    pub current: Option<&'a str>,
    /// The transport's name of the current-password field, for the error.
    pub current_field: &'a str,
    /// The client address the change comes from (the current password is throttled).
    pub addr: &'a str,
}
