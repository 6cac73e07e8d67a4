//! Login throttling, shared by every way of presenting a password (GraphQL `login` over HTTP
//! and websocket, password changes, REST HTTP Basic). Every attempt counts as a failure from
//! the moment it starts (so a burst is counted before any password is checked) and a success
//! takes its count back. Two throttles:
//! - per (client address, email): after [`FREE_FAILURES`] failures, each further failure doubles
//!   a lock-out starting at [`BASE_BACKOFF`], up to [`MAX_BACKOFF`]. Someone who knows an email
//!   locks out only themselves: its owner, from another address, still logs in;
//! - per client address: [`MAX_FAILURES_PER_ADDRESS`] failures in a sliding [`WINDOW`], whatever
//!   the emails (password spraying).
//!
//! The counts live in the database (`store::login_limits`), so every node of a cluster sees the
//! same failures and a restart forgets none: an attempt is checked and counted in one
//! transaction that holds its address's lock on every node. Times are wall-clock. Calls block:
//! the services make them off the async runtime.

use chrono::{DateTime, Utc};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use store::{AddressLimits, LoginPair, Store};

/// Failures of one (address, email) pair before its lock-outs begin.
pub const FREE_FAILURES: u32 = 5;
/// The first lock-out of a pair; each further failure doubles it.
pub const BASE_BACKOFF: Duration = Duration::from_secs(30);
/// The longest lock-out of a pair.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60 * 60);
/// A pair's failures are forgotten this long after its last one.
const PAIR_MEMORY: Duration = Duration::from_secs(2 * 60 * 60);
/// Failed logins per client address within the window before its logins are refused.
pub const MAX_FAILURES_PER_ADDRESS: usize = 20;
/// Length of the per-address sliding window.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Most pairs and addresses tracked; beyond, forgotten ones are dropped (then all).
const MAX_KEYS: u64 = 100_000;
/// How often a node deletes the pairs and address failures past their memory.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Counts login attempts in the database; one per service, shared by every request.
#[derive(Clone)]
pub struct LoginLimiter {
    store: Store,
    last_sweep: Arc<Mutex<Option<Instant>>>,
}

/// An attempt in progress: counted as a failure until [`LoginLimiter::succeeded`].
#[derive(Debug)]
pub struct Attempt {
    addr: String,
    email: String,
    /// The address failure this attempt recorded.
    failure: i64,
}

fn norm(email: &str) -> String {
    email.trim().to_lowercase()
}

fn secs(d: Duration) -> u64 {
    d.as_secs_f64().ceil().max(1.0) as u64
}

/// A policy duration as chrono's.
fn span(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// From `earlier` to `later`; zero when `later` is before (two nodes' clocks).
fn elapsed(earlier: DateTime<Utc>, later: DateTime<Utc>) -> Duration {
    (later - earlier).to_std().unwrap_or(Duration::ZERO)
}

fn forgotten(p: &LoginPair, now: DateTime<Utc>) -> bool {
    elapsed(p.last_failure, now) >= PAIR_MEMORY
}

/// Seconds to wait when the pair or the address is over its limit.
fn wait(l: &AddressLimits<'_>, email: &str, now: DateTime<Utc>) -> store::Result<Option<u64>> {
    let mut wait = Duration::ZERO;
    if let Some(p) = l.pair(email)?.filter(|p| !forgotten(p, now)) {
        if let Some(until) = p.locked_until.filter(|u| *u > now) {
            wait = wait.max(elapsed(now, until));
        }
    }
    // The oldest of the address's latest MAX_FAILURES_PER_ADDRESS failures in the window.
    if let Some(oldest) = l.recent_failure(now - span(WINDOW), MAX_FAILURES_PER_ADDRESS)? {
        wait = wait.max(WINDOW.saturating_sub(elapsed(oldest, now)));
    }
    Ok((!wait.is_zero()).then(|| secs(wait)))
}

/// Counts a failure of the pair and of its address at `now`; the address failure's id.
fn record(l: &AddressLimits<'_>, email: &str, now: DateTime<Utc>) -> store::Result<i64> {
    let mut p = l
        .pair(email)?
        .filter(|p| !forgotten(p, now))
        .unwrap_or(LoginPair {
            failures: 0,
            last_failure: now,
            locked_until: None,
        });
    p.failures = p.failures.saturating_add(1);
    p.last_failure = now;
    if p.failures >= FREE_FAILURES {
        let doublings = (p.failures - FREE_FAILURES).min(16);
        let lock = BASE_BACKOFF.saturating_mul(1 << doublings).min(MAX_BACKOFF);
        p.locked_until = Some(now + span(lock));
    }
    l.set_pair(email, &p)?;
    let id = l.add_failure(now)?;
    // Only the most recent failures decide the wait; keep the address's rows bounded.
    l.keep_recent_failures(2 * MAX_FAILURES_PER_ADDRESS)?;
    Ok(id)
}

impl LoginLimiter {
    pub fn new(store: Store) -> LoginLimiter {
        LoginLimiter {
            store,
            last_sweep: Arc::default(),
        }
    }

    /// Starts an attempt: `Ok(Err(seconds to wait))` when the pair or the address is locked
    /// out, otherwise the attempt, already counted as a failure.
    pub fn begin(&self, addr: &str, email: &str) -> store::Result<Result<Attempt, u64>> {
        self.begin_at(addr, email, Utc::now())
    }

    fn begin_at(
        &self,
        addr: &str,
        email: &str,
        now: DateTime<Utc>,
    ) -> store::Result<Result<Attempt, u64>> {
        let email = norm(email);
        // A locked-out address or pair is refused after a read, without taking the writer.
        if let Some(w) = self
            .store
            .peek_login_limits(addr, |l| wait(l, &email, now))?
        {
            return Ok(Err(w));
        }
        let counted = self.store.login_limits(addr, |l| {
            if let Some(w) = wait(l, &email, now)? {
                return Ok(Err(w));
            }
            record(l, &email, now).map(Ok)
        })?;
        self.sweep(now);
        Ok(counted.map(|failure| Attempt {
            addr: addr.to_string(),
            email,
            failure,
        }))
    }

    /// The attempt found the right password: the pair's failures are cleared and the attempt no
    /// longer counts against the address.
    pub fn succeeded(&self, attempt: &Attempt) -> store::Result<()> {
        self.store.login_limits(&attempt.addr, |l| {
            l.forget_pair(&attempt.email)?;
            l.remove_failure(attempt.failure)
        })
    }

    /// Counts attempts that were refused before any password was checked (several logins in
    /// one request).
    pub fn refused(&self, addr: &str, emails: &[String]) -> store::Result<()> {
        let now = Utc::now();
        self.store.login_limits(addr, |l| {
            for e in emails {
                record(l, &norm(e), now)?;
            }
            Ok(())
        })?;
        self.sweep(now);
        Ok(())
    }

    /// At most every [`SWEEP_EVERY`] on this node: forgets pairs and address failures past
    /// their memory, and everything when more than [`MAX_KEYS`] remain.
    fn sweep(&self, now: DateTime<Utc>) {
        {
            let mut last = self.last_sweep.lock().unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|t| t.elapsed() < SWEEP_EVERY) {
                return;
            }
            *last = Some(Instant::now());
        }
        let swept = self
            .store
            .forget_login_limits(now - span(PAIR_MEMORY), now - span(WINDOW))
            .and_then(|()| self.store.login_limit_keys())
            .and_then(|keys| {
                if keys < MAX_KEYS {
                    return Ok(());
                }
                tracing::warn!(
                    keys,
                    "login throttle full: forgetting every pair and address"
                );
                self.store.clear_login_limits()
            });
        if let Err(e) = swept {
            tracing::warn!(error = %e, "cannot forget old login failures");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(dir: &tempfile::TempDir) -> LoginLimiter {
        LoginLimiter::new(store::testing::open(dir.path()))
    }

    fn fail(l: &LoginLimiter, addr: &str, email: &str) -> Result<(), u64> {
        l.begin(addr, email).unwrap().map(drop)
    }

    #[test]
    fn a_known_email_is_not_locked_out_from_another_address() {
        let dir = tempfile::tempdir().unwrap();
        let l = limiter(&dir);
        for _ in 0..FREE_FAILURES {
            fail(&l, "1.2.3.4", "a@x").unwrap();
        }
        // Locked for this pair, with the first back-off, whatever the case of the email.
        let wait = l.begin("1.2.3.4", "A@x").unwrap().unwrap_err();
        assert!((1..=BASE_BACKOFF.as_secs()).contains(&wait), "{wait}");
        // The owner elsewhere, and other emails from the same address, go on.
        let a = l.begin("5.6.7.8", "a@x").unwrap().unwrap();
        l.succeeded(&a).unwrap();
        assert!(l.begin("1.2.3.4", "b@x").unwrap().is_ok());
    }

    #[test]
    fn backoff_doubles_and_success_clears() {
        let dir = tempfile::tempdir().unwrap();
        let l = limiter(&dir);
        let t0 = Utc::now();
        l.store
            .login_limits("9.9.9.9", |st| {
                for _ in 0..FREE_FAILURES + 2 {
                    record(st, "a@x", t0)?;
                }
                Ok(())
            })
            .unwrap();
        let wait_at = |now| {
            l.store
                .login_limits("9.9.9.9", |st| wait(st, "a@x", now))
                .unwrap()
        };
        assert_eq!(wait_at(t0), Some(4 * BASE_BACKOFF.as_secs()));
        // Long after the lock-out and the memory, the pair starts afresh.
        assert!(wait_at(t0 + span(PAIR_MEMORY)).is_none());
        let a = l.begin("7.7.7.7", "c@x").unwrap().unwrap();
        l.succeeded(&a).unwrap();
        l.store
            .login_limits("7.7.7.7", |st| {
                assert!(st.pair("c@x")?.is_none());
                assert!(st.recent_failure(t0 - span(WINDOW), 1)?.is_none());
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn an_address_spraying_emails_is_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let l = limiter(&dir);
        let emails: Vec<String> = (0..MAX_FAILURES_PER_ADDRESS)
            .map(|i| format!("u{i}@x"))
            .collect();
        l.refused("8.8.8.8", &emails).unwrap();
        assert!(l.begin("8.8.8.8", "fresh@x").unwrap().is_err());
        assert!(l.begin("8.8.4.4", "fresh@x").unwrap().is_ok());
    }

    #[test]
    fn failures_counted_on_one_node_lock_the_pair_out_on_another() {
        let dir = tempfile::tempdir().unwrap();
        let options = store::testing::options(dir.path());
        let a = LoginLimiter::new(Store::open_with(&options).unwrap());
        let b = LoginLimiter::new(Store::open_with(&options).unwrap());
        for _ in 0..FREE_FAILURES {
            fail(&a, "1.2.3.4", "a@x").unwrap();
        }
        let wait = b.begin("1.2.3.4", "a@x").unwrap().unwrap_err();
        assert!((1..=BASE_BACKOFF.as_secs()).contains(&wait), "{wait}");
        assert!(a.begin("1.2.3.4", "a@x").unwrap().is_err());
        // A success on one node clears the pair's failures on the other.
        fail(&a, "4.3.2.1", "c@x").unwrap();
        let ok = b.begin("4.3.2.1", "c@x").unwrap().unwrap();
        a.succeeded(&ok).unwrap();
        let left = b
            .store
            .login_limits("4.3.2.1", |st| st.pair("c@x"))
            .unwrap();
        assert_eq!(left, None);
        // Both nodes counting the same pair at once: every failure counts.
        let emails = vec!["d@x".to_string(); 10];
        let workers: Vec<_> = [a.clone(), b.clone(), a, b.clone()]
            .into_iter()
            .map(|node| {
                let emails = emails.clone();
                std::thread::spawn(move || node.refused("6.6.6.6", &emails).unwrap())
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        let pair = b
            .store
            .login_limits("6.6.6.6", |st| st.pair("d@x"))
            .unwrap()
            .unwrap();
        assert_eq!(pair.failures, 40);
    }
}
