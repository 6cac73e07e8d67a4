//! The login throttle's state in the database (migration 0020), shared by every node: per
//! (client address, email) pair its failures, last failure and lock-out (`login_pairs`); per
//! address each failure, for its sliding window (`login_failures`). Every attempt reads and
//! writes through [`Store::login_limits`]: one transaction holding its address's lock on every
//! node (a PostgreSQL advisory lock, SQLite's write lock), so that two nodes counting failures
//! of the same pair at once both count, and no attempt passes a check that another one, already
//! counted, would fail. The policy — how many failures, how long a lock-out, when a failure is
//! forgotten — is the service's (`service::throttle`).

use crate::db::{params, Backend, Conn, OptionalExtension};
use crate::{parse_ts, ts, Result, Store};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// Failed logins of one (address, email) pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginPair {
    pub failures: u32,
    pub last_failure: DateTime<Utc>,
    pub locked_until: Option<DateTime<Utc>>,
}

/// The throttle state of one client address, inside the transaction that holds its lock.
pub struct AddressLimits<'a> {
    conn: &'a Conn,
    address: &'a str,
}

impl AddressLimits<'_> {
    /// The client address this transaction locks.
    pub fn address(&self) -> &str {
        self.address
    }

    /// The pair of this address and `email`, as stored (forgotten or not).
    pub fn pair(&self, email: &str) -> Result<Option<LoginPair>> {
        Ok(self
            .conn
            .query_row(
                "SELECT failures, last_failure, locked_until FROM login_pairs
                 WHERE address = ?1 AND email = ?2",
                [self.address, email],
                |r| {
                    Ok(LoginPair {
                        failures: u32::try_from(r.get::<_, i64>(0)?).unwrap_or(u32::MAX),
                        last_failure: parse_ts(&r.get::<_, String>(1)?),
                        locked_until: r.get::<_, Option<String>>(2)?.map(|s| parse_ts(&s)),
                    })
                },
            )
            .optional()?)
    }

    /// Stores the pair of this address and `email`.
    pub fn set_pair(&self, email: &str, pair: &LoginPair) -> Result<()> {
        self.conn.execute(
            "INSERT INTO login_pairs (address, email, failures, last_failure, locked_until)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (address, email) DO UPDATE SET failures = excluded.failures,
                last_failure = excluded.last_failure, locked_until = excluded.locked_until",
            params![
                self.address,
                email,
                i64::from(pair.failures),
                ts(pair.last_failure),
                pair.locked_until.map(ts)
            ],
        )?;
        Ok(())
    }

    /// Forgets the pair of this address and `email`.
    pub fn forget_pair(&self, email: &str) -> Result<()> {
        self.conn.execute(
            "DELETE FROM login_pairs WHERE address = ?1 AND email = ?2",
            [self.address, email],
        )?;
        Ok(())
    }

    /// Records a failure of this address at `at`; its id, to remove it again.
    pub fn add_failure(&self, at: DateTime<Utc>) -> Result<i64> {
        Ok(self.conn.insert(
            "INSERT INTO login_failures (address, at) VALUES (?1, ?2)",
            params![self.address, ts(at)],
        )?)
    }

    /// Removes the failure `id` of this address (an attempt that turned out right).
    pub fn remove_failure(&self, id: i64) -> Result<()> {
        self.conn.execute(
            "DELETE FROM login_failures WHERE id = ?1 AND address = ?2",
            params![id, self.address],
        )?;
        Ok(())
    }

    /// The `n`-th most recent failure of this address after `since` (1: the latest), when the
    /// address has that many.
    pub fn recent_failure(&self, since: DateTime<Utc>, n: usize) -> Result<Option<DateTime<Utc>>> {
        let Some(offset) = n.checked_sub(1) else {
            return Ok(None);
        };
        let at: Option<String> = self
            .conn
            .query_row(
                "SELECT at FROM login_failures WHERE address = ?1 AND at > ?2
                 ORDER BY at DESC, id DESC LIMIT 1 OFFSET ?3",
                params![self.address, ts(since), offset as i64],
                |r| r.get(0),
            )
            .optional()?;
        Ok(at.map(|s| parse_ts(&s)))
    }

    /// Keeps only the `keep` most recent failures of this address.
    pub fn keep_recent_failures(&self, keep: usize) -> Result<()> {
        self.conn.execute(
            "DELETE FROM login_failures WHERE address = ?1 AND id NOT IN (
                SELECT id FROM login_failures WHERE address = ?1
                ORDER BY at DESC, id DESC LIMIT ?2)",
            params![self.address, keep as i64],
        )?;
        Ok(())
    }
}

/// The advisory lock key of a client address (collisions only serialize two addresses).
fn address_key(address: &str) -> i64 {
    let digest = Sha256::digest(format!("cyborgbackup login {address}").as_bytes());
    let mut key = [0u8; 8];
    key.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(key)
}

impl Store {
    /// Runs `f` on the throttle state of `address` in one transaction that holds the address's
    /// lock on every node; commits when `f` succeeds. `f` must not call the store otherwise.
    pub fn login_limits<T>(
        &self,
        address: &str,
        f: impl FnOnce(&AddressLimits<'_>) -> Result<T>,
    ) -> Result<T> {
        let conn = self.conn();
        let tx = conn.write_transaction()?;
        if tx.backend() == Backend::Postgres {
            tx.query_row(
                "SELECT pg_advisory_xact_lock(?1)",
                [address_key(address)],
                |_| Ok(()),
            )?;
        }
        let out = f(&AddressLimits { conn: &tx, address })?;
        tx.commit()?;
        Ok(out)
    }

    /// Runs `f` on the throttle state of `address` as last committed, on a read connection:
    /// no lock, no transaction, and every write fails. A cheap first look (an address already
    /// locked out is refused without taking the writer); decisions that count are taken in
    /// [`Store::login_limits`].
    pub fn peek_login_limits<T>(
        &self,
        address: &str,
        f: impl FnOnce(&AddressLimits<'_>) -> Result<T>,
    ) -> Result<T> {
        let conn = self.read();
        f(&AddressLimits {
            conn: &conn,
            address,
        })
    }

    /// Deletes the pairs whose last failure is at or before `pairs_until` and the address
    /// failures at or before `failures_until`.
    pub fn forget_login_limits(
        &self,
        pairs_until: DateTime<Utc>,
        failures_until: DateTime<Utc>,
    ) -> Result<()> {
        let conn = self.conn();
        conn.execute(
            "DELETE FROM login_pairs WHERE last_failure <= ?1",
            [ts(pairs_until)],
        )?;
        conn.execute(
            "DELETE FROM login_failures WHERE at <= ?1",
            [ts(failures_until)],
        )?;
        Ok(())
    }

    /// How many pairs and addresses the throttle tracks.
    pub fn login_limit_keys(&self) -> Result<u64> {
        let n: i64 = self.read().query_row(
            "SELECT (SELECT COUNT(*) FROM login_pairs)
                  + (SELECT COUNT(DISTINCT address) FROM login_failures)",
            [],
            |r| r.get(0),
        )?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Forgets every pair and address.
    pub fn clear_login_limits(&self) -> Result<()> {
        let conn = self.conn();
        conn.execute("DELETE FROM login_pairs", [])?;
        conn.execute("DELETE FROM login_failures", [])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    /// A failure counted the way the service does: read, add one, write.
    fn count(s: &Store, at: DateTime<Utc>) -> i64 {
        s.login_limits("10.0.0.1", |l| {
            let mut p = l.pair("a@x").unwrap().unwrap_or(LoginPair {
                failures: 0,
                last_failure: at,
                locked_until: None,
            });
            p.failures += 1;
            p.last_failure = at;
            l.set_pair("a@x", &p)?;
            l.add_failure(at)
        })
        .unwrap()
    }

    #[test]
    fn pairs_and_failures_round_trip_and_are_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let s = crate::testing::open(dir.path());
        // Stored times keep microseconds.
        let t0 = parse_ts(&ts(Utc::now()));
        let first = count(&s, t0);
        count(&s, t0 + Duration::seconds(1));
        let third = count(&s, t0 + Duration::seconds(2));
        s.login_limits("10.0.0.1", |l| {
            let p = l.pair("a@x")?.unwrap();
            assert_eq!(p.failures, 3);
            assert_eq!(p.last_failure, t0 + Duration::seconds(2));
            assert_eq!(
                l.recent_failure(t0 - Duration::hours(1), 1)?,
                Some(p.last_failure)
            );
            assert_eq!(l.recent_failure(t0 - Duration::hours(1), 4)?, None);
            assert_eq!(
                l.recent_failure(t0, 3)?,
                None,
                "only failures after `since`"
            );
            l.remove_failure(third)?;
            l.keep_recent_failures(1)?;
            assert_eq!(
                l.recent_failure(t0 - Duration::hours(1), 1)?,
                Some(t0 + Duration::seconds(1))
            );
            assert_eq!(l.recent_failure(t0 - Duration::hours(1), 2)?, None);
            l.remove_failure(first)?;
            let locked = LoginPair {
                locked_until: Some(t0 + Duration::minutes(1)),
                ..p
            };
            l.set_pair("b@x", &locked)?;
            assert_eq!(
                l.pair("b@x")?.and_then(|p| p.locked_until),
                locked.locked_until
            );
            l.forget_pair("a@x")?;
            assert_eq!(l.pair("a@x")?, None);
            Ok(())
        })
        .unwrap();
        assert_eq!(s.login_limit_keys().unwrap(), 2);
        s.forget_login_limits(t0 + Duration::seconds(2), t0)
            .unwrap();
        assert_eq!(s.login_limit_keys().unwrap(), 1);
        s.clear_login_limits().unwrap();
        assert_eq!(s.login_limit_keys().unwrap(), 0);
    }

    #[test]
    fn nodes_counting_one_pair_at_once_both_count() {
        let dir = tempfile::tempdir().unwrap();
        let options = crate::testing::options(dir.path());
        let nodes = [
            Store::open_with(&options).unwrap(),
            Store::open_with(&options).unwrap(),
        ];
        let at = Utc::now();
        let workers: Vec<_> = (0..4)
            .map(|i| {
                let node = nodes[i % 2].clone();
                std::thread::spawn(move || {
                    for _ in 0..10 {
                        count(&node, at);
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        let failures = nodes[1]
            .login_limits("10.0.0.1", |l| Ok(l.pair("a@x")?.map(|p| p.failures)))
            .unwrap();
        assert_eq!(failures, Some(40));
    }
}
