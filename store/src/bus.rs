//! Events between the nodes sharing a PostgreSQL database: `NOTIFY` on one channel to publish,
//! and a listening connection on a thread of its own that hands every payload to a callback
//! (reconnecting when the connection drops). On SQLite there is one node: nothing to do.

use crate::db::{Backend, DbResult};
use crate::{Result, Store};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The channel job events travel on.
pub const EVENTS_CHANNEL: &str = "cyborg_events";

/// Largest payload PostgreSQL accepts in a notification, less a margin.
pub const MAX_PAYLOAD: usize = 7900;

/// A running listener; stops (within a second) when dropped.
pub struct Listener {
    stop: Arc<AtomicBool>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Store {
    /// Publishes payloads to every node listening (in one transaction: delivered together, at
    /// commit). Does nothing on SQLite.
    pub fn publish_events(&self, payloads: &[String]) -> Result<()> {
        let conn = self.conn();
        if conn.backend() != Backend::Postgres || payloads.is_empty() {
            return Ok(());
        }
        let tx = conn.transaction()?;
        for p in payloads {
            tx.query_row(
                "SELECT pg_notify(?1, ?2)",
                crate::db::params![EVENTS_CHANNEL, p],
                |_| Ok(()),
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Calls `on_event` with every payload published on the events channel (by any node,
    /// this one included) from now on; `None` on SQLite.
    pub fn listen_events(
        &self,
        mut on_event: impl FnMut(&str) + Send + 'static,
    ) -> Result<Option<Listener>> {
        let Some(pg) = self.postgres.clone() else {
            return Ok(None);
        };
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        // Listening before returning: nothing published after this call is missed.
        let mut client = pg.listen(EVENTS_CHANNEL)?;
        std::thread::Builder::new()
            .name("db-events".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    if let Err(e) = client.receive(&mut on_event, Duration::from_secs(1)) {
                        tracing::warn!(error = %e, "event connection to PostgreSQL lost: reconnecting");
                        loop {
                            if flag.load(Ordering::Relaxed) {
                                return;
                            }
                            std::thread::sleep(Duration::from_secs(1));
                            match pg.listen(EVENTS_CHANNEL) {
                                Ok(c) => {
                                    client = c;
                                    break;
                                }
                                Err(e) => tracing::warn!(error = %e, "cannot listen for events yet"),
                            }
                        }
                    }
                }
            })
            .map_err(|e| crate::StoreError::Io {
                path: "db-events thread".into(),
                source: e,
            })?;
        Ok(Some(Listener { stop }))
    }
}

/// A connection that has run `LISTEN`.
pub(crate) struct Listening {
    pub(crate) client: postgres::Client,
}

impl Listening {
    /// Hands every notification that arrives within `wait` to `f`.
    fn receive(&mut self, f: &mut impl FnMut(&str), wait: Duration) -> DbResult<()> {
        let mut n = self.client.notifications();
        let mut it = n.timeout_iter(wait);
        while let Some(m) = postgres::fallible_iterator::FallibleIterator::next(&mut it)? {
            f(m.payload());
        }
        Ok(())
    }
}
