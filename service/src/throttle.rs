//! Login throttling, shared by every way of presenting a password (GraphQL `login` over HTTP
//! and websocket, password changes, REST HTTP Basic). Every attempt counts as a failure from
//! the moment it starts (so a burst is counted before any password is checked) and a success
//! takes its count back. Two throttles:
//! - per (client address, email): after [`FREE_FAILURES`] failures, each further failure doubles
//!   a lock-out starting at [`BASE_BACKOFF`], up to [`MAX_BACKOFF`]. Someone who knows an email
//!   locks out only themselves: its owner, from another address, still logs in;
//! - per client address: [`MAX_FAILURES_PER_ADDRESS`] failures in a sliding [`WINDOW`], whatever
//!   the emails (password spraying).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
const MAX_KEYS: usize = 100_000;

#[derive(Debug)]
struct Pair {
    failures: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

#[derive(Default)]
struct State {
    pairs: HashMap<(String, String), Pair>,
    addrs: HashMap<String, Vec<Instant>>,
}

/// Counts login attempts; one per router, shared by every request.
#[derive(Default)]
pub struct LoginLimiter {
    state: Mutex<State>,
}

/// An attempt in progress: counted as a failure until [`LoginLimiter::succeeded`].
#[derive(Debug)]
pub struct Attempt {
    addr: String,
    email: String,
    at: Instant,
}

fn norm(email: &str) -> String {
    email.trim().to_lowercase()
}

fn secs(d: Duration) -> u64 {
    d.as_secs_f64().ceil().max(1.0) as u64
}

impl State {
    /// Seconds to wait when the pair or the address is over its limit.
    fn wait(&mut self, addr: &str, email: &str, now: Instant) -> Option<u64> {
        let mut wait = Duration::ZERO;
        let key = (addr.to_string(), email.to_string());
        if let Some(p) = self.pairs.get(&key) {
            if now.duration_since(p.last) >= PAIR_MEMORY {
                self.pairs.remove(&key);
            } else if let Some(until) = p.locked_until.filter(|u| *u > now) {
                wait = wait.max(until - now);
            }
        }
        if let Some(list) = self.addrs.get_mut(addr) {
            list.retain(|t| now.duration_since(*t) < WINDOW);
            if list.len() >= MAX_FAILURES_PER_ADDRESS {
                let oldest = list[list.len() - MAX_FAILURES_PER_ADDRESS];
                wait = wait.max(WINDOW.saturating_sub(now.duration_since(oldest)));
            }
        }
        (!wait.is_zero()).then(|| secs(wait))
    }

    fn record(&mut self, addr: &str, email: &str, now: Instant) {
        if self.pairs.len() + self.addrs.len() >= MAX_KEYS {
            self.pairs
                .retain(|_, p| now.duration_since(p.last) < PAIR_MEMORY);
            self.addrs
                .retain(|_, l| l.last().is_some_and(|t| now.duration_since(*t) < WINDOW));
            if self.pairs.len() + self.addrs.len() >= MAX_KEYS {
                self.pairs.clear();
                self.addrs.clear();
            }
        }
        let p = self
            .pairs
            .entry((addr.to_string(), email.to_string()))
            .or_insert(Pair {
                failures: 0,
                last: now,
                locked_until: None,
            });
        if now.duration_since(p.last) >= PAIR_MEMORY {
            p.failures = 0;
        }
        p.failures = p.failures.saturating_add(1);
        p.last = now;
        if p.failures >= FREE_FAILURES {
            let doublings = (p.failures - FREE_FAILURES).min(16);
            let lock = BASE_BACKOFF.saturating_mul(1 << doublings).min(MAX_BACKOFF);
            p.locked_until = Some(now + lock);
        }
        let list = self.addrs.entry(addr.to_string()).or_default();
        list.retain(|t| now.duration_since(*t) < WINDOW);
        list.push(now);
        // Only the most recent entries decide the wait; keep the list bounded.
        if list.len() > 2 * MAX_FAILURES_PER_ADDRESS {
            list.drain(..list.len() - MAX_FAILURES_PER_ADDRESS);
        }
    }
}

impl LoginLimiter {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts an attempt: `Err(seconds to wait)` when the pair or the address is locked out,
    /// otherwise the attempt, already counted as a failure.
    pub fn begin(&self, addr: &str, email: &str) -> Result<Attempt, u64> {
        let now = Instant::now();
        let email = norm(email);
        let mut st = self.lock();
        if let Some(wait) = st.wait(addr, &email, now) {
            return Err(wait);
        }
        st.record(addr, &email, now);
        Ok(Attempt {
            addr: addr.to_string(),
            email,
            at: now,
        })
    }

    /// The attempt found the right password: the pair's failures are cleared and the attempt no
    /// longer counts against the address.
    pub fn succeeded(&self, attempt: Attempt) {
        let mut st = self.lock();
        st.pairs.remove(&(attempt.addr.clone(), attempt.email));
        if let Some(list) = st.addrs.get_mut(&attempt.addr) {
            if let Some(i) = list.iter().rposition(|t| *t == attempt.at) {
                list.remove(i);
            }
        }
    }

    /// Counts attempts that were refused before any password was checked (several logins in
    /// one request).
    pub fn refused(&self, addr: &str, emails: &[String]) {
        let now = Instant::now();
        let mut st = self.lock();
        for e in emails {
            st.record(addr, &norm(e), now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail(l: &LoginLimiter, addr: &str, email: &str) -> Result<(), u64> {
        l.begin(addr, email).map(drop)
    }

    #[test]
    fn a_known_email_is_not_locked_out_from_another_address() {
        let l = LoginLimiter::default();
        for _ in 0..FREE_FAILURES {
            fail(&l, "1.2.3.4", "a@x").unwrap();
        }
        // Locked for this pair, with the first back-off, whatever the case of the email.
        let wait = l.begin("1.2.3.4", "A@x").unwrap_err();
        assert!((1..=BASE_BACKOFF.as_secs()).contains(&wait), "{wait}");
        // The owner elsewhere, and other emails from the same address, go on.
        let a = l.begin("5.6.7.8", "a@x").unwrap();
        l.succeeded(a);
        assert!(l.begin("1.2.3.4", "b@x").is_ok());
    }

    #[test]
    fn backoff_doubles_and_success_clears() {
        let l = LoginLimiter::default();
        let mut st = l.lock();
        let t0 = Instant::now();
        for _ in 0..FREE_FAILURES + 2 {
            st.record("9.9.9.9", "a@x", t0);
        }
        let wait = st.wait("9.9.9.9", "a@x", t0).unwrap();
        assert_eq!(wait, 4 * BASE_BACKOFF.as_secs());
        // Long after the lock-out and the memory, the pair starts afresh.
        assert!(st.wait("9.9.9.9", "a@x", t0 + PAIR_MEMORY).is_none());
        drop(st);
        let a = l.begin("7.7.7.7", "c@x").unwrap();
        l.succeeded(a);
        let st = l.lock();
        assert!(!st.pairs.contains_key(&("7.7.7.7".into(), "c@x".into())));
        assert!(st.addrs["7.7.7.7"].is_empty());
    }

    #[test]
    fn an_address_spraying_emails_is_stopped() {
        let l = LoginLimiter::default();
        let emails: Vec<String> = (0..MAX_FAILURES_PER_ADDRESS)
            .map(|i| format!("u{i}@x"))
            .collect();
        l.refused("8.8.8.8", &emails);
        assert!(l.begin("8.8.8.8", "fresh@x").is_err());
        assert!(l.begin("8.8.4.4", "fresh@x").is_ok());
    }
}
