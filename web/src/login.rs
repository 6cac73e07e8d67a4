//! Every password check of the server goes through [`Logins`]: the login throttle first
//! (`rest::limit`), then argon2 off the async runtime on a few dedicated threads
//! ([`argon2_threads`]) with at most [`MAX_WAITING`] checks queued, so that a burst of logins
//! cannot exhaust memory: argon2 takes about 19 MiB per check (the binary makes the allocator
//! return such blocks when freed, see `src/datadir.rs`). GraphQL reaches it through
//! [`graphql::PasswordCheck`]; REST calls it.

use crate::rest::limit::LoginLimiter;
use graphql::{CheckFuture, CheckRefused, PasswordCheck};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use store::Store;

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

/// Throttled, bounded password checks; one per router.
pub struct Logins {
    store: Store,
    limiter: LoginLimiter,
    workers: Workers,
}

impl Logins {
    pub fn new(store: Store) -> Logins {
        Logins {
            store,
            limiter: LoginLimiter::default(),
            workers: Workers::start(argon2_threads()),
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
