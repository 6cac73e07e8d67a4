//! Every password check of the server goes through [`Logins`]: the login throttle first
//! (`rest::limit`), then argon2 on the blocking pool with at most [`argon2_slots`] at a time and
//! [`MAX_WAITING`] waiting, so that a burst of logins cannot exhaust memory (argon2 takes about
//! 19 MiB per check). GraphQL reaches it through [`graphql::PasswordCheck`]; REST calls it.

use crate::rest::limit::LoginLimiter;
use graphql::{CheckFuture, CheckRefused, PasswordCheck};
use std::sync::Arc;
use store::Store;
use tokio::sync::Semaphore;

/// Password checks waiting or running at once; beyond, attempts are refused (retry in 1 s).
pub const MAX_WAITING: usize = 64;

/// How many argon2 checks run at once: the machine's cores, at most 4.
fn argon2_slots() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 4)
}

/// Throttled, bounded password checks; one per router.
pub struct Logins {
    store: Store,
    limiter: LoginLimiter,
    running: Semaphore,
    waiting: Semaphore,
}

impl Logins {
    pub fn new(store: Store) -> Logins {
        Logins {
            store,
            limiter: LoginLimiter::default(),
            running: Semaphore::new(argon2_slots()),
            waiting: Semaphore::new(MAX_WAITING),
        }
    }

    /// Checks `email` and `password` for a caller at `addr`.
    pub async fn verify(
        &self,
        addr: &str,
        email: &str,
        password: &str,
    ) -> Result<model::User, CheckRefused> {
        let attempt = self
            .limiter
            .begin(addr, email)
            .map_err(CheckRefused::Throttled)?;
        // The attempt stays counted as a failure unless the password is right.
        let _waiting = self
            .waiting
            .try_acquire()
            .map_err(|_| CheckRefused::Throttled(1))?;
        let _running = self
            .running
            .acquire()
            .await
            .map_err(|e| CheckRefused::Internal(e.to_string()))?;
        let store = self.store.clone();
        let (email, password) = (email.trim().to_string(), password.to_string());
        let found = tokio::task::spawn_blocking(move || store.verify_login(&email, &password))
            .await
            .map_err(|e| CheckRefused::Internal(e.to_string()))?
            .map_err(|e| {
                tracing::error!(error = %e, "password check failed");
                CheckRefused::Internal("the password could not be checked".into())
            })?;
        match found {
            Some(user) => {
                self.limiter.succeeded(attempt);
                Ok(user)
            }
            None => Err(CheckRefused::Wrong),
        }
    }

    /// Counts attempts refused before any password was checked.
    pub fn refuse(&self, addr: &str, emails: &[String]) {
        tracing::warn!(
            client = addr,
            logins = emails.len(),
            "refused a request holding several logins"
        );
        self.limiter.refused(addr, emails);
    }
}

impl PasswordCheck for Logins {
    fn check<'a>(&'a self, client: &'a str, email: &'a str, password: &'a str) -> CheckFuture<'a> {
        Box::pin(self.verify(client, email, password))
    }

    fn refused(&self, client: &str, emails: &[String]) {
        self.refuse(client, emails);
    }
}

/// What GraphQL requests and websockets from `addr` carry to log in.
pub(crate) fn graphql_context(logins: &Arc<Logins>, addr: String) -> graphql::LoginContext {
    graphql::LoginContext {
        client_addr: addr,
        passwords: logins.clone(),
    }
}
