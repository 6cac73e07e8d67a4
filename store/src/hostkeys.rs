//! SSH host keys pinned on first use, and changed keys awaiting an administrator's acceptance.

use crate::db::{params, OptionalExtension, Row};
use crate::{now, parse_opt_ts, parse_ts, Result, Store, StoreError};
use chrono::{DateTime, Utc};

/// The key pinned for one host and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostKey {
    pub host: String,
    pub port: u16,
    /// Algorithm name, e.g. `ssh-ed25519`.
    pub key_type: String,
    /// `SHA256:…` fingerprint as OpenSSH prints it.
    pub fingerprint: String,
    /// The public key in OpenSSH one-line form.
    pub public_key: String,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Who accepted this key; `None` when it was pinned on first use.
    pub accepted_by: Option<String>,
    pub accepted: Option<DateTime<Utc>>,
    /// A different key the host presented since, refused until accepted.
    pub pending: Option<PendingHostKey>,
}

/// A changed host key waiting for [`Store::accept_host_key`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingHostKey {
    pub key_type: String,
    pub fingerprint: String,
    pub public_key: String,
    pub seen: DateTime<Utc>,
}

const COLS: &str =
    "host, port, key_type, fingerprint, public_key, first_seen, last_seen, accepted_by, accepted,
    pending_key_type, pending_fingerprint, pending_public_key, pending_seen";

fn row(r: &Row) -> rusqlite::Result<HostKey> {
    let pending_type: Option<String> = r.get(9)?;
    let pending = match pending_type {
        Some(key_type) => Some(PendingHostKey {
            key_type,
            fingerprint: r.get::<_, Option<String>>(10)?.unwrap_or_default(),
            public_key: r.get::<_, Option<String>>(11)?.unwrap_or_default(),
            seen: parse_ts(&r.get::<_, Option<String>>(12)?.unwrap_or_default()),
        }),
        None => None,
    };
    Ok(HostKey {
        host: r.get(0)?,
        port: r.get(1)?,
        key_type: r.get(2)?,
        fingerprint: r.get(3)?,
        public_key: r.get(4)?,
        first_seen: parse_ts(&r.get::<_, String>(5)?),
        last_seen: parse_ts(&r.get::<_, String>(6)?),
        accepted_by: r.get(7)?,
        accepted: parse_opt_ts(r.get(8)?),
        pending,
    })
}

impl Store {
    /// The key pinned for `host`:`port`, if any.
    pub fn host_key(&self, host: &str, port: u16) -> Result<Option<HostKey>> {
        Ok(self
            .read()
            .query_row(
                &format!("SELECT {COLS} FROM host_keys WHERE host = ?1 AND port = ?2"),
                params![host, port],
                row,
            )
            .optional()?)
    }

    /// Every pinned host key, by host and port.
    pub fn host_keys(&self) -> Result<Vec<HostKey>> {
        let conn = self.read();
        let mut st = conn.prepare(&format!("SELECT {COLS} FROM host_keys ORDER BY host, port"))?;
        let rows = st
            .query_map([], row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Pins a key on first use. When a key is already pinned nothing is replaced; the stored key is
    /// returned either way, so the caller compares fingerprints (two first connections racing agree).
    /// A presented key equal to the pinned one refreshes `last_seen`.
    pub fn pin_host_key(
        &self,
        host: &str,
        port: u16,
        key_type: &str,
        fingerprint: &str,
        public_key: &str,
    ) -> Result<HostKey> {
        let conn = self.conn();
        let t = now();
        conn.execute(
            "INSERT INTO host_keys (host, port, key_type, fingerprint, public_key, first_seen, last_seen)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
             ON CONFLICT (host, port) DO UPDATE SET last_seen = ?6 WHERE host_keys.fingerprint = ?4",
            params![host, port, key_type, fingerprint, public_key, t],
        )?;
        Ok(conn.query_row(
            &format!("SELECT {COLS} FROM host_keys WHERE host = ?1 AND port = ?2"),
            params![host, port],
            row,
        )?)
    }

    /// Records a key that differs from the pinned one, for an administrator to accept. The pinned
    /// key stays in force.
    pub fn record_changed_host_key(
        &self,
        host: &str,
        port: u16,
        key_type: &str,
        fingerprint: &str,
        public_key: &str,
    ) -> Result<()> {
        let n = self.conn().execute(
            "UPDATE host_keys SET pending_key_type = ?3, pending_fingerprint = ?4, pending_public_key = ?5,
               pending_seen = ?6
             WHERE host = ?1 AND port = ?2",
            params![host, port, key_type, fingerprint, public_key, now()],
        )?;
        if n == 0 {
            return Err(StoreError::not_found("host key", format!("{host}:{port}")));
        }
        Ok(())
    }

    /// Replaces the pinned key of `host`:`port` by its pending (changed) key.
    pub fn accept_host_key(&self, host: &str, port: u16, accepted_by: &str) -> Result<HostKey> {
        let conn = self.conn();
        let t = now();
        let n = conn.execute(
            "UPDATE host_keys SET key_type = pending_key_type, fingerprint = pending_fingerprint,
               public_key = pending_public_key, first_seen = ?3, last_seen = ?3, accepted_by = ?4, accepted = ?3,
               pending_key_type = NULL, pending_fingerprint = NULL, pending_public_key = NULL, pending_seen = NULL
             WHERE host = ?1 AND port = ?2 AND pending_key_type IS NOT NULL",
            params![host, port, t, accepted_by],
        )?;
        if n == 0 {
            return Err(StoreError::not_found(
                "pending host key",
                format!("{host}:{port}"),
            ));
        }
        tracing::info!(host, port, accepted_by, "changed ssh host key accepted");
        Ok(conn.query_row(
            &format!("SELECT {COLS} FROM host_keys WHERE host = ?1 AND port = ?2"),
            params![host, port],
            row,
        )?)
    }

    /// Forgets the key of `host`:`port`; the next connection pins whatever the host presents.
    pub fn forget_host_key(&self, host: &str, port: u16) -> Result<bool> {
        Ok(self.conn().execute(
            "DELETE FROM host_keys WHERE host = ?1 AND port = ?2",
            params![host, port],
        )? > 0)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn pin_change_accept() {
        let dir = tempfile::tempdir().unwrap();
        let s = crate::testing::open(dir.path());
        assert!(s.host_key("web1", 22).unwrap().is_none());
        let k = s
            .pin_host_key("web1", 22, "ssh-ed25519", "SHA256:a", "ssh-ed25519 AAAA")
            .unwrap();
        assert_eq!(k.fingerprint, "SHA256:a");
        assert!(k.accepted_by.is_none());
        // A racing first use with another key does not replace the pin.
        let k = s
            .pin_host_key("web1", 22, "ssh-ed25519", "SHA256:b", "ssh-ed25519 BBBB")
            .unwrap();
        assert_eq!(k.fingerprint, "SHA256:a");
        assert!(
            s.accept_host_key("web1", 22, "admin").is_err(),
            "nothing pending yet"
        );
        s.record_changed_host_key("web1", 22, "ssh-ed25519", "SHA256:b", "ssh-ed25519 BBBB")
            .unwrap();
        let k = s.host_key("web1", 22).unwrap().unwrap();
        assert_eq!(k.fingerprint, "SHA256:a");
        assert_eq!(k.pending.as_ref().unwrap().fingerprint, "SHA256:b");
        let k = s.accept_host_key("web1", 22, "admin@example.com").unwrap();
        assert_eq!(k.fingerprint, "SHA256:b");
        assert_eq!(k.public_key, "ssh-ed25519 BBBB");
        assert_eq!(k.accepted_by.as_deref(), Some("admin@example.com"));
        assert!(k.pending.is_none());
        assert_eq!(s.host_keys().unwrap().len(), 1);
        assert!(s
            .record_changed_host_key("web2", 22, "t", "f", "k")
            .is_err());
        assert!(s.forget_host_key("web1", 22).unwrap());
        assert!(s.host_keys().unwrap().is_empty());
    }
}
